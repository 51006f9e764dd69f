//go:build testbed_guest

package scenarios

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestScenarioZooKeeperDrainUnseen is a graceful leave (json: weight 0,
// drain, delete, then the VIP goes) whose weight 0 the director never
// sees: the director is cut off ZooKeeper (its forwarders paused) just
// before SIGTERM to web1's lbrs, while a client opens a new connection
// every 20 ms. lbd keeps its last known members (web1 at weight 1), so
// new connections keep reaching web1. lbrs's drain counts the new
// connections to its VIP and keeps the VIP while they come (up to
// drain_timeout, 10 s here), so no request fails; once the client stops,
// the drain ends drain_quiet (2 s, the default) later. (The former drain
// ended on the first count of zero, a few ms after publishing weight 0,
// and removed the VIP 0.22 s after SIGTERM while requests still came.)
func TestScenarioZooKeeperDrainUnseen(t *testing.T) {
	n := newNarrator(t)
	z := setupZKMembers(t, n, "zkunseen", "json", 2)
	l := z.lab
	load := startLoad(t, l, l.client, 20*time.Millisecond)
	time.Sleep(time.Second)

	n.Step("The director cut off ZooKeeper; SIGTERM to web1's lbrs (json: weight 0 it cannot see)")
	for _, f := range z.director {
		f.Pause()
	}
	web1 := z.lbrs["web1"]
	termAt := time.Now()
	must(t, web1.cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(3 * time.Second) // well within drain_timeout (10 s)
	res := load.stop()
	loadEnd := time.Now()
	if early := web1.logLines("stop: VIPs removed"); len(early) > 0 {
		t.Errorf("lbrs removed its VIP while new connections still arrived: %q", early)
	}
	reportLoad(t, n, res, "a drain the director did not see (within drain_timeout)", 0, time.Time{})

	n.Step("The client stops: no new connection; lbrs ends the drain drain_quiet (2 s) later")
	web1.waitLog(15*time.Second, "stop: VIPs removed")
	vipsGone, ok := logTime(web1.logLines("stop: VIPs removed"))
	if !ok {
		t.Fatalf("lbrs did not remove its VIP within drain_timeout after the load stopped")
	}
	drained := web1.logLines("stop: drained")
	n.Block(strings.Join(append(drained, web1.logLines("stop: drain ended by timeout")...), "\n"))
	if len(drained) == 0 {
		t.Errorf("the drain did not end by its quiet period after the load stopped")
	}
	fmt.Printf("MEASURE zk_unseen_vip_removed_after=%.3fs zk_unseen_vip_removed_after_load_end=%.3fs zk_unseen_requests=%d zk_unseen_failed=%d\n",
		vipsGone.Sub(termAt).Seconds(), vipsGone.Sub(loadEnd).Seconds(), len(res), len(failedOf(res)))
	for _, f := range z.director {
		f.Resume()
	}
}
