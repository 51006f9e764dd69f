//go:build testbed_guest

package scenarios

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestScenarioZooKeeperStale is issue 15's safety rule on the real kernel:
// the director loses ZooKeeper (its way to the ensemble cut: the
// forwarders in its namespace paused) and lbctl status --health says
// "discovery stale since T"; meanwhile web1's lbrs is killed with -9, so
// its znode expires; the IPVS table does not change (ipvsadm -Sn as
// before) and the client is still served by both web nodes. The way back
// restored, lbd lists the path again and applies the difference: web1
// leaves the table, and the status is fresh again. The times are printed
// (MEASURE).
func TestScenarioZooKeeperStale(t *testing.T) {
	n := newNarrator(t)
	z := setupZKMembers(t, n, "zkstale", "seed", 2)
	l := z.lab
	saved := run(t, l.director, "ipvsadm", "-Sn")

	n.Step("The director loses ZooKeeper (its forwarders to the ensemble paused)")
	cutAt := time.Now()
	for _, f := range z.director {
		f.Pause()
	}
	st, stale := waitStatus(t, z.node, 2*zkSessionTimeout+settle, func(s string) bool { return strings.Contains(s, "discovery stale since") })
	if !stale {
		t.Fatalf("lbctl status --health does not say \"discovery stale since\" %v after the cut:\n%s", time.Since(cutAt), st)
	}
	detect := time.Since(cutAt)
	n.Note("stale after %v:", detect.Round(time.Millisecond))
	n.Block(strings.Join(linesWith(strings.Split(st, "\n"), "stale"), "\n"))

	n.Step("kill -9 of web1's lbrs: its znode expires in ZooKeeper, which the director cannot see")
	if _, err := z.lbrs["web1"].stop(t, syscall.SIGKILL); err == nil {
		t.Error("lbrs killed by SIGKILL exited 0")
	}
	kids, took, ok := zkWaitChildren(t, z.root, zkMembersPath, zkSessionTimeout+settle, func(k []string) bool { return len(k) == 1 })
	if !ok {
		t.Fatalf("%s still holds %v %v after kill -9 of web1's lbrs", zkMembersPath, kids, took)
	}
	n.Note("%s holds %v %v after the kill", zkMembersPath, kids, took.Round(time.Millisecond))
	time.Sleep(time.Second)
	if got := run(t, l.director, "ipvsadm", "-Sn"); got != saved {
		t.Errorf("the table changed while ZooKeeper was lost:\n%s\nwant as before:\n%s", got, saved)
	}
	counts, seq := l.sendRequests(t, l.client, vipURL, 4)
	n.Note("table unchanged; 4 requests: %s", seq)
	if counts["web1"] != 2 || counts["web2"] != 2 {
		t.Errorf("answers %v while ZooKeeper was lost, want web1 2 and web2 2 (the last known members kept)", counts)
	}

	n.Step("The way to ZooKeeper restored: lbd lists %s again and applies the difference", zkMembersPath)
	backAt := time.Now()
	for _, f := range z.director {
		f.Resume()
	}
	goneAt := watchMemberGone(t, l, "web1")
	recover := goneAt().Sub(backAt)
	if at, ok := removedAt(z.lbd, l.web("web1")); ok {
		recover = at.Sub(backAt)
	}
	st, fresh := waitStatus(t, z.node, settle, func(s string) bool { return !strings.Contains(s, "stale since") })
	if !fresh {
		t.Errorf("lbctl status --health still stale %v after the way back:\n%s", time.Since(backAt), st)
	}
	fmt.Printf("MEASURE zk_stale_detect=%.3fs zk_stale_recover=%.3fs\n", detect.Seconds(), recover.Seconds())
	n.Note("web1 out of the table %v after the way back; the status is fresh", recover.Round(time.Millisecond))
	if counts, seq := l.sendRequests(t, l.client, vipURL, 2); counts["web2"] != 2 {
		t.Errorf("answers %s after web1 left, want web2 twice", seq)
	}
}

// waitStatus polls "lbctl status --health" until ok holds for its output,
// at most limit; it returns the last output and whether ok held.
func waitStatus(t *testing.T, node *lbdNode, limit time.Duration, ok func(string) bool) (string, bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out, _, _ := node.lbctl(t, "status", "--health")
		if ok(out) {
			return out, true
		}
		if time.Now().After(deadline) {
			return out, false
		}
		time.Sleep(200 * time.Millisecond)
	}
}
