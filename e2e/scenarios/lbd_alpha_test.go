//go:build testbed_guest

package scenarios

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
)

// TestScenarioLbdAlphaRestart: alpha on the real kernel (the daemon's
// tests count the writes on the fake one). Both real servers' HTTP checks
// have alpha; web2 serves a broken health page. At the first start web2
// never enters the table (ipvsadm -ln polled until its check has failed
// twice) while web1 enters after its first pass: 2 writes (the service and
// web1; main made 6: web2 added then removed, web1 removed and re-added). lbd is stopped (SIGTERM:
// the table stays) and started again: it adopts web1, which the kernel
// serves, with zero writes, and keeps it once its check passed; web2 stays
// out, also with no write (main made 4).
func TestScenarioLbdAlphaRestart(t *testing.T) {
	n := newNarrator(t)
	l := buildLbdLab(t, n, "lbdalpha", "DR")
	node := newLbdNode(t, "lbd-alpha", l.director)
	web1, web2 := l.web("web1"), l.web("web2")
	w1, w2 := web1.addr+":80", web2.addr+":80"
	svc := "TCP " + seedVIP + ":80"
	web2.setHealth("broken\n")
	check := fmt.Sprintf(`checks:
  - type: http
    alpha: true
    urls:
      - path: /health.html
        digest: %s
    delay_loop: 1s
    retry: 0
    connect_timeout: 1s`, healthDigest())
	node.writeConfig(t, "", lbdIPVSYAML+lbdServiceYAML(l, "rr", [2]int{1, 1}, "", check))

	n.Step("lbd with TCP %s:80 rr, web1/web2 DR, an HTTP check with alpha on each; web2's health page is broken:", seedVIP)
	n.Block(node.yaml)
	d := node.start(t)
	_, took := d.waitReady(t)
	n.Note("ready after %v", took.Round(time.Millisecond))
	// Poll the table until both checks have reported (web2's twice): web2
	// must be absent from every read.
	deadline := time.Now().Add(20 * time.Second)
	var web1In bool
	for {
		svcs := parseIPVS(t, ipvsadmList(t, l.director))
		if _, ok := svcs[svc].dest(w2); ok {
			t.Fatalf("web2 (alpha, its check failing) is in the table:\n%s", ipvsadmList(t, l.director))
		}
		_, web1In = svcs[svc].dest(w1)
		st, err := d.status(t)
		if err == nil && web1In && checksRan(st.Checks, 2) {
			n.Note("web1 in the table, web2 never seen in it; lbd's writes since its start: %d", st.IPVS.Writes)
			fmt.Printf("MEASURE lbd_alpha_first_start_writes=%d\n", st.IPVS.Writes)
			if st.IPVS.Writes != 2 {
				t.Errorf("the first start made %d IPVS writes, want 2 (the service, web1 after its pass; none for web2); log:\n%s",
					st.IPVS.Writes, d.log.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web1 in the table %v, checks %+v after 20 s; log:\n%s", web1In, st.Checks, d.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	saved := run(t, l.director, "ipvsadm", "-Sn")
	n.Block(saved)

	n.Step("lbd stopped (SIGTERM: the table stays) and started again on it")
	if _, err := d.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("lbd stopped by SIGTERM: %v", err)
	}
	d = node.start(t)
	d.waitReady(t)
	deadline = time.Now().Add(20 * time.Second)
	for {
		st, err := d.status(t)
		if err == nil && checksRan(st.Checks, 2) {
			n.Note("both checks have run again (web1 passed, web2 failed twice): lbd's writes since its start: %d", st.IPVS.Writes)
			fmt.Printf("MEASURE lbd_alpha_restart_writes=%d\n", st.IPVS.Writes)
			if st.IPVS.Writes != 0 {
				t.Errorf("the restarted lbd made %d IPVS writes on a table that serves web1, want 0; log:\n%s", st.IPVS.Writes, d.log.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checks %+v after 20 s; log:\n%s", st.Checks, d.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := run(t, l.director, "ipvsadm", "-Sn"); got != saved {
		t.Errorf("table after the restart:\n%s\nwant as before:\n%s", got, saved)
	}
}

// checksRan reports whether every check has completed at least n attempts
// (web1's passing one at least once).
func checksRan(checks []control.CheckStatus, n uint64) bool {
	if len(checks) == 0 {
		return false
	}
	for _, c := range checks {
		if c.Checks < min(n, 1) || (!c.Up && c.Checks < n) {
			return false
		}
	}
	return true
}
