//go:build testbed_guest

package scenarios

import (
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
// destination, a hand-changed weight and a deleted service within about a
// second, logging each repair, and leaves a service it does not manage
// alone.
func TestScenarioLbdResyncRepairs(t *testing.T) {
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
	rep := d.waitLog(3*time.Second, "repaired IPVS drift", web2)
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

	n.Step("lbd again, with resync_interval 1s: it adopts the table with 0 writes")
	node.writeConfig(t, "resync_interval: 1s", lbdIPVSYAML+lbdServiceYAML(l, "rr", [2]int{1, 1}, "", ""))
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
		table, took, back := waitIPVS(t, l.director, 4*time.Second, ok)
		n.Note("restored after %v (resync_interval 1s)", took.Round(time.Millisecond))
		if !back {
			t.Errorf("%s: not restored 4 s later:\n%s", what, table)
			return
		}
		if took > 2500*time.Millisecond {
			t.Errorf("%s: restored after %v, want within resync_interval 1s (+1.5 s)", what, took)
		}
		lines := d.waitLog(3*time.Second, append([]string{"repaired IPVS drift"}, logWords...)...)
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
	time.Sleep(2500 * time.Millisecond)
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
