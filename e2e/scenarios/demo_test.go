//go:build testbed_guest

package scenarios

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// TestScenarioDemo is the live demo ("make demo") and a test like the
// others: the classic LVS-DR + keepalived pair of the seed tutorial, run by
// our binaries with the shipped example files, on a real kernel.
//
// Two directors run lbd with deploy/examples/lbd-master.yaml and
// lbd-backup.yaml, two web nodes run lbrs with lbrs-web.yaml and serve
// /health.html. The demo shows lbctl status (the ipvsadm table, byte for
// byte, then VRRP and health), the client's requests spread over both
// nodes, a web node failing its health check (removed from both directors'
// tables, traffic to the healthy node only) and coming back, then the
// master's cable pulled (the backup takes the VIP, the client's traffic
// continues). Every step is asserted.
//
// What it leaves to TestScenarioVIPTakeover: the ARP and VRRP details of a
// takeover (gratuitous ARP seen by the client, FAULT on the cut director),
// preemption when the master comes back, and the graceful stop.
func TestScenarioDemo(t *testing.T) {
	n := newNarrator(t)
	n.Note("The seed tutorial's set-up: two LVS directors (keepalived + ipvsadm) in front of two web nodes")
	n.Note("(lvs-rs.sh), replaced by lbd on the directors and lbrs on the web nodes, configured with the")
	n.Note("files shipped in deploy/examples. Every machine is a network namespace on one bridge.")
	l := buildVIPLab(t, n, "demo")
	d1, d2 := l.master, l.backup
	web2 := l.webs[1]
	var summary [][2]string

	n.Step("lbctl status -n --health on d1: the IPVS table exactly as ipvsadm -ln prints it, then what ipvsadm cannot show")
	status := d1.checkHealthText(t, "MASTER", 200)
	n.Block(status)
	ipvsadm := run(t, d1.ns, "ipvsadm", "-ln")
	if !strings.HasPrefix(status, ipvsadm) {
		t.Errorf("lbctl status -n does not start with ipvsadm -ln's output byte for byte:\nipvsadm -ln:\n%s\nlbctl status -n --health:\n%s", ipvsadm, status)
	} else {
		n.Note("the table part is byte for byte what ipvsadm -ln prints on d1")
	}
	if s2 := d2.checkHealthText(t, "BACKUP", 100); demoTable(s2) != demoTable(status) {
		t.Errorf("d2's table differs from d1's:\n%s\nd1:\n%s", demoTable(s2), demoTable(status))
	}
	n.Note("d2 has the same table and reports VI_1 BACKUP, priority 100, without the VIP")
	summary = append(summary, [2]string{"director pair from deploy/examples (VRRP 200/100, advert 1s, PASS)",
		fmt.Sprintf("d1 MASTER with %s on %s, d2 BACKUP", vipAddr, vipLabel)})

	n.Step("The client sends 10 requests to http://%s/ (a new connection each): who answers?", vipAddr)
	vipSpread(t, n, l.client, 10, map[string]int{"web1": 5, "web2": 5})
	summary = append(summary, [2]string{"round robin over web1 and web2 (IPVS DR)", "10 requests: web1 5, web2 5"})

	// A web node fails its health check.
	badSum := md5.Sum([]byte(vipBrokenBody))
	n.Step("Breaking web2: its %s now serves %q (MD5 %x, not the expected digest)", vipHealthPath, vipBrokenBody, badSum)
	logFrom := len(d1.lbd.log.String())
	broke := time.Now()
	web2.broken.Store(true)
	// The waits allow five times the longest the protocol takes; how long
	// it took is measured.
	detect := demoWaitDest(t, d1, web2.addr, false, broke, 5*vipDetectMax)
	fmt.Printf("MEASURE demo_health_detect=%.3fs\n", detect.Seconds())
	// Down after retry+1 failed checks: web2 served d1's checker the
	// broken page that many times before d1's lbd logged it down.
	if at, ok := d1.lbd.waitLogTime(logFrom, `msg="real server down"`, "server="+web2.addr+":80"); !ok {
		t.Errorf("lbd on d1 logged no \"real server down\" for web2")
	} else if got := web2.brokenServed(d1.addr, broke, at.Add(time.Millisecond)); len(got) < vipRetry+1 {
		t.Errorf("d1 took web2 down after %d failed check(s), want retry+1 = %d: a single failure took it down", len(got), vipRetry+1)
	}
	detect2 := demoWaitDest(t, d2, web2.addr, false, broke, 5*vipDetectMax)
	n.Note("web2 left d1's IPVS table %s after the break (d2's: %s): %d failed checks %s apart, the first within delay_loop %s",
		detect.Round(10*time.Millisecond), detect2.Round(10*time.Millisecond), vipRetry+1, vipDelayBeforeRetry, vipDelayLoop)
	status = d1.lbctl(t, "status", "-n", "--health")
	n.Block(status)
	demoCheckServer(t, status, web2.addr, "down")
	n.Step("The client sends 6 requests: only web1 answers")
	vipSpread(t, n, l.client, 6, map[string]int{"web1": 6, "web2": 0})
	summary = append(summary, [2]string{"web2's " + vipHealthPath + " broken (digest mismatch)",
		fmt.Sprintf("removed from both tables in %s; 6 requests: all web1", detect.Round(10*time.Millisecond))})

	n.Step("Fixing web2: %s serves %q again", vipHealthPath, vipHealthyBody)
	fixed := time.Now()
	web2.broken.Store(false)
	recovered := demoWaitDest(t, d1, web2.addr, true, fixed, 5*vipRecoverMax)
	fmt.Printf("MEASURE demo_health_recover=%.3fs\n", recovered.Seconds())
	demoWaitDest(t, d2, web2.addr, true, fixed, 5*vipRecoverMax)
	n.Note("web2 back in both tables %s after the fix (one passed check)", recovered.Round(10*time.Millisecond))
	status = d1.lbctl(t, "status", "-n", "--health")
	demoCheckServer(t, status, web2.addr, "up")
	n.Block(demoTable(status))
	vipSpread(t, n, l.client, 4, map[string]int{"web1": 2, "web2": 2})
	summary = append(summary, [2]string{"web2 fixed",
		fmt.Sprintf("back in %s; 4 requests: web1 2, web2 2", recovered.Round(10*time.Millisecond))})

	// The master fails.
	n.Step("Pulling the master d1's cable; the client keeps trying the VIP every 50 ms")
	cut := time.Now()
	must(t, d1.link.Cut())
	took, who := vipFirstAnswer(t, l.client, cut, vipTakeoverWait)
	fmt.Printf("MEASURE demo_vip_takeover_linkcut=%.3fs\n", took.Seconds())
	n.Note("the client got its first answer (from %s) %s after the cut: d2 missed 3 adverts (Master_Down_Interval %s",
		who, took.Round(10*time.Millisecond), vipBackupMasterDown.Round(10*time.Millisecond))
	n.Note("after d1's last one), took the VIP and announced it with gratuitous ARP")
	l.waitStates(t, settle, map[*vipDirector]string{d1: "FAULT", d2: "MASTER"})
	l.checkVIPOn(t, d2)
	if mac := vipWaitNeigh(t, l.client, "eth0", vipAddr, d2.mac, settle); mac.String() != d2.mac.String() {
		t.Errorf("client's ARP entry for the VIP is %s after the takeover, want d2's %s", mac, d2.mac)
	}
	n.Step("lbctl status -n --health on d2: now MASTER")
	n.Block(d2.checkHealthText(t, "MASTER", 100))
	n.Note("d1 is FAULT (its link is down) and dropped the VIP; the client's ARP entry for %s is d2's %s", vipAddr, d2.mac)
	n.Step("The client sends 6 requests: served through d2")
	vipSpread(t, n, l.client, 6, map[string]int{"web1": 3, "web2": 3})
	summary = append(summary, [2]string{"master d1's cable pulled",
		fmt.Sprintf("d2 MASTER; client answered again after %s; 6 requests: web1 3, web2 3", took.Round(10*time.Millisecond))})

	n.Step("Summary")
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "shown\tresult")
	for _, s := range summary {
		fmt.Fprintf(tw, "%s\t%s\n", s[0], s[1])
	}
	tw.Flush()
	b.WriteString("\nmeasured (qemu TCG, emulated CPU):\n")
	fmt.Fprintf(&b, "  health detection  %-7s (web2 out of the table; delay_loop %s, retry %d, delay_before_retry %s)\n",
		detect.Round(10*time.Millisecond), vipDelayLoop, vipRetry, vipDelayBeforeRetry)
	fmt.Fprintf(&b, "  health recovery   %-7s (web2 back after one passed check)\n", recovered.Round(10*time.Millisecond))
	fmt.Fprintf(&b, "  VIP takeover      %-7s (cable pulled -> first answer at the client; protocol bound %s after the last advert)\n",
		took.Round(10*time.Millisecond), vipBackupMasterDown.Round(10*time.Millisecond))
	n.Block(b.String())
}

// demoWaitDest polls the director's kernel table (ipvsadm -ln) until the
// real server at addr:80 is present (or absent), and returns how long
// after since that was seen.
func demoWaitDest(t *testing.T, d *vipDirector, addr string, present bool, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	deadline := since.Add(limit)
	for {
		table := run(t, d.ns, "ipvsadm", "-ln")
		has := false
		for _, m := range ipvsDestRE.FindAllStringSubmatch(table, -1) {
			has = has || m[1] == addr+":80"
		}
		if has == present {
			return time.Since(since)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:80 still %s %s's IPVS table %s later:\n%s", addr,
				map[bool]string{true: "missing from", false: "in"}[present], d.name, limit, table)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// demoCheckServer requires lbctl's health section to show the real server
// at addr:80 with health ("up" or "down").
func demoCheckServer(t *testing.T, status, addr, health string) {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && f[0] == "TCP" && f[2] == addr+":80" {
			if f[3] != health {
				t.Errorf("lbctl status --health shows %s:80 %s, want %s:\n%s", addr, f[3], health, status)
			}
			return
		}
	}
	t.Errorf("lbctl status --health has no row for %s:80:\n%s", addr, status)
}

// demoTable returns the ipvsadm part of lbctl status output (up to the
// first blank line).
func demoTable(status string) string {
	if i := strings.Index(status, "\n\n"); i >= 0 {
		return status[:i+1]
	}
	return status
}
