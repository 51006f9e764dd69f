//go:build testbed_guest

package scenarios

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestScenarioLbdResyncRepairs edits lbd's IPVS table by hand and watches
// lbd put it back. With resync_interval 1h, "lbctl resync" restores a
// destination deleted with ipvsadm -d at once and reports the one write.
// Restarted with resync_interval 1s (the table survives SIGTERM and is
// adopted with zero writes), lbd's periodic resync restores a deleted
// destination, a hand-changed weight and a deleted service, logging each
// repair, and leaves a service it does not manage alone through two
// resyncs. How long a repair took is printed, not asserted: the wait is a
// multiple of resync_interval and only stops a repair that never comes.
func TestScenarioLbdResyncRepairs(t *testing.T) {
	const resyncInterval = time.Second
	n := newNarrator(t)
	l := buildLbdLab(t, n, "lbdsync", "DR")
	node := newLbdNode(t, "lbd-resync", l.director)
	svc := seedVIP + ":80"
	web1, web2 := l.web("web1").addr+":80", l.web("web2").addr+":80"
	wantRR := func(s map[string]*ipvsService) bool { return l.wantService(s, "rr", [2]int{1, 1}) }

	n.Step("lbd with TCP %s rr, web1/web2 DR, resync_interval 1h (only an explicit resync repairs)", svc)
	node.writeConfig(t, "resync_interval: 1h", lbdIPVSYAML+lbdServiceYAML(l, "rr", [2]int{1, 1}, "", ""))
	n.Block(node.yaml)
	d := node.start(t)
	d.waitReady(t)
	table := ipvsadmList(t, l.director)
	n.Block(table)
	if !wantRR(parseIPVS(t, table)) {
		t.Fatalf("table not as configured")
	}

	n.Step("By hand: ipvsadm -d -t %s -r %s; then lbctl resync", svc, web2)
	run(t, l.director, "ipvsadm", "-d", "-t", svc, "-r", web2)
	if _, ok := parseIPVS(t, ipvsadmList(t, l.director))["TCP "+svc].dest(web2); ok {
		t.Fatalf("ipvsadm -d did not delete %s", web2)
	}
	out, errOut, code := node.lbctl(t, "resync")
	n.Block(out)
	if code != 0 {
		t.Fatalf("lbctl resync: exit %d: %s%s", code, out, errOut)
	}
	if !strings.HasPrefix(out, "resync: 1 writes") || !strings.Contains(out, "ipvsadm -a -t "+svc+" -r "+web2+" -g -w 1") {
		t.Errorf("lbctl resync printed:\n%s\nwant \"resync: 1 writes\" and the rule ipvsadm -a -t %s -r %s -g -w 1", out, svc, web2)
	}
	table = ipvsadmList(t, l.director)
	if !wantRR(parseIPVS(t, table)) {
		t.Errorf("after lbctl resync the table is not back:\n%s", table)
	}
	rep := d.waitLog(settle, "repaired IPVS drift", web2)
	n.Note("lbd log:")
	n.Block(strings.Join(rep, "\n"))
	if len(rep) != 1 {
		t.Errorf("lbd logged %d repairs of %s, want 1:\n%s", len(rep), web2, d.log.String())
	}

	n.Step("SIGTERM: lbd exits 0 and leaves the table in place (flush_on_stop is false)")
	took, err := d.stop(t, syscall.SIGTERM)
	n.Note("exited in %v (%v)", took.Round(time.Millisecond), err)
	if err != nil {
		t.Errorf("lbd exited with %v after SIGTERM, want 0", err)
	}
	if table = ipvsadmList(t, l.director); !wantRR(parseIPVS(t, table)) {
		t.Fatalf("table after lbd stopped:\n%s\nwant it untouched", table)
	}

	n.Step("lbd again, with resync_interval %v: it adopts the table with 0 writes", resyncInterval)
	node.writeConfig(t, fmt.Sprintf("resync_interval: %v", resyncInterval), lbdIPVSYAML+lbdServiceYAML(l, "rr", [2]int{1, 1}, "", ""))
	d = node.start(t)
	st, _ := d.waitReady(t)
	n.Note("status: writes %d, repairs %d, in sync %v", st.IPVS.Writes, st.IPVS.Repairs, st.IPVS.InSync)
	if st.IPVS.Writes != 0 {
		t.Errorf("lbd made %d writes adopting a matching table, want 0 (last apply %+v)", st.IPVS.Writes, st.IPVS.LastApply)
	}
	if adopt := d.logLines(`msg="ipvs table applied"`, "on=start", " writes=0 "); len(adopt) != 1 {
		t.Errorf("lbd did not log one apply at start with writes=0:\n%s", d.log.String())
	}

	repair := func(what string, edit [][]string, ok func(map[string]*ipvsService) bool, logWords ...string) {
		t.Helper()
		n.Step("By hand: %s; the periodic resync must put it back", what)
		for _, args := range edit {
			n.Note("ipvsadm %s", strings.Join(args, " "))
			run(t, l.director, "ipvsadm", args...)
		}
		edited := time.Now()
		// One resync_interval, plus the resync itself; ten allowed.
		table, took, back := waitIPVS(t, l.director, 10*resyncInterval, ok)
		n.Note("restored after %v (resync_interval %v)", took.Round(time.Millisecond), resyncInterval)
		if !back {
			t.Errorf("%s: not restored %v later (ten resync_intervals):\n%s", what, took.Round(time.Millisecond), table)
			return
		}
		lines := d.waitLog(settle, append([]string{"repaired IPVS drift"}, logWords...)...)
		n.Block(strings.Join(lines, "\n"))
		if len(lines) == 0 {
			t.Errorf("%s: lbd logged no repair holding %q (%v after the edit):\n%s", what, logWords, time.Since(edited), d.log.String())
		}
	}
	repair("delete web2 from the service",
		[][]string{{"-d", "-t", svc, "-r", web2}}, wantRR, "-a -t "+svc+" -r "+web2)
	repair("set web1's weight to 7",
		[][]string{{"-e", "-t", svc, "-r", web1, "-g", "-w", "7"}}, wantRR, "-e -t "+svc+" -r "+web1)
	repair("delete the whole service",
		[][]string{{"-D", "-t", svc}}, wantRR, "-A -t "+svc)

	n.Step("A service lbd does not manage (ipvsadm -A -t 192.168.56.99:8080) stays through resyncs (purge_unmanaged is false)")
	run(t, l.director, "ipvsadm", "-A", "-t", "192.168.56.99:8080", "-s", "rr")
	// Two resyncs after it appeared (lbd's resynced_at, counted).
	added := time.Now()
	for range 2 {
		added = d.waitResync(t, added)
	}
	table = ipvsadmList(t, l.director)
	n.Block(table)
	svcs := parseIPVS(t, table)
	if svcs["TCP 192.168.56.99:8080"] == nil {
		t.Errorf("lbd removed the unmanaged service 192.168.56.99:8080")
	}
	if !wantRR(svcs) {
		t.Errorf("lbd's service changed")
	}
	st, err = d.status(t)
	must(t, err)
	n.Note("status: writes %d, repairs %d, in sync %v", st.IPVS.Writes, st.IPVS.Repairs, st.IPVS.InSync)
	// One create for the destination, one update for the weight, one
	// service and two destinations for the deleted service.
	if st.IPVS.Repairs != 5 || st.IPVS.Writes != 5 || !st.IPVS.InSync {
		t.Errorf("status after the repairs: writes %d, repairs %d, in sync %v; want 5, 5, true", st.IPVS.Writes, st.IPVS.Repairs, st.IPVS.InSync)
	}
}

// waitResync waits until lbd's last apply is a resync that started after
// since (the periodic resync records itself there), and returns its start.
// The bound, settle plus ten resync_intervals of 1 s, only stops a resync
// loop that stopped.
func (d *lbdDaemon) waitResync(t *testing.T, since time.Time) time.Time {
	t.Helper()
	deadline := time.Now().Add(settle + 10*time.Second)
	for {
		st, err := d.status(t)
		if la := st.IPVS.LastApply; err == nil && la != nil && la.Kind == "resync" && la.Start.After(since) {
			return la.Start
		}
		if time.Now().After(deadline) {
			t.Fatalf("lbd reported no resync started after %v (last apply %+v, %v)", since.Format("15:04:05.000"), st.IPVS.LastApply, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
