//go:build testbed_guest

package scenarios

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Check timing of the health scenario (keepalived: delay_loop 1,
// nb_get_retry 1, delay_before_retry 1, connect_timeout 1).
const (
	hcDelayLoop        = time.Second
	hcRetry            = 1
	hcDelayBeforeRetry = time.Second
	hcConnectTimeout   = time.Second
	// hcTrials is how many times each variant breaks and fixes web2.
	hcTrials = 3
)

// TestScenarioLbdHealthDigest runs lbd with an HTTP check with a digest on
// each of two DR real servers. When web2 starts serving a body whose MD5
// does not match, it leaves the IPVS table, and only after retry + 1
// failed checks (web2 served the broken body that many times before lbd
// logged it down: one failure is not enough); the client then reaches
// only web1; fixed, web2 comes back and rr spreads again. The same with
// inhibit_on_failure (set by a reload): web2 stays with weight 0 instead.
// Each variant runs hcTrials times; detection and recovery times are
// printed as "MEASURE ...", not asserted: the waits are multiples of what
// the protocol allows (see hcDetectMax, hcRecoverMax) and only stop a
// lost transition.
func TestScenarioLbdHealthDigest(t *testing.T) {
	n := newNarrator(t)
	l := buildLbdLab(t, n, "lbdhc", "DR")
	node := newLbdNode(t, "lbd-health", l.director)
	web1, web2 := l.web("web1"), l.web("web2")
	w1, w2 := web1.addr+":80", web2.addr+":80"
	svc := "TCP " + seedVIP + ":80"
	check := fmt.Sprintf(`checks:
  - type: http
    urls:
      - path: /health.html
        digest: %s
    delay_loop: %v
    retry: %d
    delay_before_retry: %v
    connect_timeout: 1s`, healthDigest(), hcDelayLoop, hcRetry, hcDelayBeforeRetry)
	// The longest the protocol takes: up to delay_loop until the next
	// check, then retry+1 attempts of at most connect_timeout each, with
	// delay_before_retry between them (4 s); to come back, delay_loop and
	// one attempt (2 s). The waits allow five times that.
	hcDetectMax := hcDelayLoop + (hcRetry+1)*hcConnectTimeout + hcRetry*hcDelayBeforeRetry
	hcRecoverMax := hcDelayLoop + hcConnectTimeout
	healthy := func(s map[string]*ipvsService) bool { return l.wantService(s, "rr", [2]int{1, 1}) }

	var d *lbdDaemon
	for _, v := range []struct {
		name    string
		inhibit bool
		what    string // what web2 down looks like in ipvsadm -ln
		health  string // web2's "Health Configured Desired Kernel" in lbctl status --health
	}{
		{"removal", false, "left the table", "down 1 - -"},
		{"inhibit_on_failure", true, "has weight 0", "down 1 0 0"},
	} {
		svcExtra := ""
		if v.inhibit {
			svcExtra = "inhibit_on_failure: true"
		}
		node.writeConfig(t, "", lbdIPVSYAML+lbdServiceYAML(l, "rr", [2]int{1, 1}, svcExtra, check))
		if d == nil {
			n.Step("lbd: TCP %s:80 rr, web1/web2 DR, HTTP check of /health.html with digest %s (MD5 of %q):", seedVIP, healthDigest(), healthBody)
			n.Block(node.yaml)
			d = node.start(t)
			_, took := d.waitReady(t)
			n.Note("ready after %v", took.Round(time.Millisecond))
		} else {
			n.Step("Variant %s: inhibit_on_failure: true on the service; lbctl reload", v.name)
			out, errOut, code := node.lbctl(t, "reload")
			n.Block(out)
			if code != 0 {
				t.Fatalf("lbctl reload: exit %d: %s%s", code, out, errOut)
			}
		}
		if table, _, ok := waitIPVS(t, l.director, settle, healthy); !ok {
			t.Fatalf("table not as configured with both real servers healthy:\n%s", table)
		}
		down := func(s map[string]*ipvsService) bool {
			r, ok := s[svc].dest(w2)
			if v.inhibit {
				return ok && r.weight == 0
			}
			return !ok
		}

		var detections, recoveries []time.Duration
		for trial := 1; trial <= hcTrials; trial++ {
			logFrom := len(d.log.String())
			n.Step("%s, trial %d/%d: web2 starts answering %q on /health.html (digest mismatch)", v.name, trial, hcTrials, "BROKEN\n")
			broke := time.Now()
			web2.setHealth("BROKEN\n")
			table, _, ok := waitIPVS(t, l.director, 5*hcDetectMax, down)
			detection := time.Since(broke)
			fmt.Printf("MEASURE detection=%v variant=%s trial=%d (web2 %s in ipvsadm -ln, polled every 100 ms)\n",
				detection.Round(10*time.Millisecond), v.name, trial, v.what)
			n.Note("web2 %s after %v:", v.what, detection.Round(10*time.Millisecond))
			n.Block(table)
			if !ok {
				t.Fatalf("web2 never %s (waited %v, five times the protocol's %v)", v.what, detection, hcDetectMax)
			}
			detections = append(detections, detection)
			checkFailuresBeforeDown(t, n, d, web2, logFrom, broke)
			if r, ok := parseIPVS(t, table)[svc].dest(w1); !ok || r.weight != 1 {
				t.Errorf("web1 is not in the table with weight 1 while web2 is down")
			}
			out, _, code := node.lbctl(t, "status", "-n", "--health")
			if trial == 1 {
				n.Note("lbctl status -n --health:")
				n.Block(out)
			}
			if code != 0 {
				t.Errorf("lbctl status --health: exit %d", code)
			}
			if !healthRow(out, w2, v.health, "digest mismatch") || !healthRow(out, w1, "up 1 1 1", "") {
				t.Errorf("lbctl status --health: want web2 %q (digest mismatch) and web1 \"up 1 1 1\":\n%s", v.health, out)
			}
			logged := strings.Split(strings.TrimSpace(d.log.String()[logFrom:]), "\n")
			n.Note("lbd's log since web2 broke:")
			n.Block(strings.Join(logged, "\n"))
			if k := len(linesWith(logged, `msg="real server down"`, "server="+w2, "digest mismatch")); k != 1 {
				t.Errorf("lbd logged %d \"real server down\" lines for web2 with the digest mismatch, want 1", k)
			}

			counts, seq := l.sendRequests(t, l.client, vipURL, 10)
			n.Note("client, 10 requests: %s", seq)
			if counts["web1"] != 10 {
				t.Errorf("answers %v while web2 is down: want all 10 on web1", counts)
			}

			n.Step("%s, trial %d/%d: web2 answers %q again", v.name, trial, hcTrials, healthBody)
			fixed := time.Now()
			web2.setHealth(healthBody)
			table, _, ok = waitIPVS(t, l.director, 5*hcRecoverMax, healthy)
			recovery := time.Since(fixed)
			fmt.Printf("MEASURE recovery=%v variant=%s trial=%d (web2 back with weight 1 in ipvsadm -ln, polled every 100 ms)\n",
				recovery.Round(10*time.Millisecond), v.name, trial)
			n.Note("web2 back with weight 1 after %v", recovery.Round(10*time.Millisecond))
			if !ok {
				t.Fatalf("web2 never came back (waited %v, five times the protocol's %v):\n%s", recovery, hcRecoverMax, table)
			}
			recoveries = append(recoveries, recovery)
			counts, seq = l.sendRequests(t, l.client, vipURL, 10)
			n.Note("client, 10 requests: %s", seq)
			if counts["web1"] != 5 || counts["web2"] != 5 {
				t.Errorf("answers %v after web2's recovery: want 5 each (rr)", counts)
			}
		}
		for _, m := range []struct {
			name string
			ds   []time.Duration
		}{{"detection", detections}, {"recovery", recoveries}} {
			s := slices.Clone(m.ds)
			slices.Sort(s)
			fmt.Printf("MEASURE %s variant=%s trials=%d min=%v median=%v max=%v\n", m.name, v.name, len(s),
				s[0].Round(10*time.Millisecond), s[len(s)/2].Round(10*time.Millisecond), s[len(s)-1].Round(10*time.Millisecond))
		}
	}
}

// checkFailuresBeforeDown checks that one failure is not enough: web
// served the broken page retry+1 times (since broke) before lbd logged it
// down after byte offset logFrom of its log. Both clocks are the VM's;
// lbd's log has milliseconds.
func checkFailuresBeforeDown(t *testing.T, n *narrator, d *lbdDaemon, web *lbdWeb, logFrom int, broke time.Time) {
	t.Helper()
	at, ok := d.waitLogTime(logFrom, `msg="real server down"`, "server="+web.addr+":80")
	if !ok {
		t.Errorf("lbd logged no \"real server down\" for %s", web.name)
		return
	}
	served := web.servedSince("BROKEN\n", broke, at.Add(time.Millisecond))
	if len(served) < hcRetry+1 {
		t.Errorf("lbd took %s down after %d failed check(s), want retry+1 = %d: a single failure took it down", web.name, len(served), hcRetry+1)
		return
	}
	n.Note("%s served the broken page %d times before lbd logged it down", web.name, len(served))
}

// waitLogTime waits up to settle for the daemon to log, after byte offset
// from of its log, a line holding every one of words, and returns the time
// the line carries (slog's time=, milliseconds).
func (d *daemon) waitLogTime(from int, words ...string) (time.Time, bool) {
	re := regexp.MustCompile(`\btime=(\S+)`)
	deadline := time.Now().Add(settle)
	for {
		log := d.log.String()
		for _, l := range linesWith(strings.Split(log[min(from, len(log)):], "\n"), words...) {
			if m := re.FindStringSubmatch(l); m != nil {
				if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
					return at, true
				}
			}
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// healthRow reports whether "lbctl status --health" has a real-server row
// for addr whose Health, Configured, Desired and Kernel columns are cols
// ("down 1 - -") and whose reason holds reason.
func healthRow(out, addr, cols, reason string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		for i := 0; i+4 < len(f); i++ {
			if f[i] == addr && strings.Join(f[i+1:i+5], " ") == cols && strings.Contains(l, reason) {
				return true
			}
		}
	}
	return false
}

// linesWith returns the lines holding every one of words.
func linesWith(lines []string, words ...string) []string {
	var out []string
	for _, l := range lines {
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}
