//go:build testbed_guest

package scenarios

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestScenarioZooKeeperDrainUnseen is a graceful leave (json: weight 0,
// drain, delete, then the VIP goes) whose weight 0 the director never
// sees: the director is cut off ZooKeeper (its forwarders paused) just
// before SIGTERM to web1's lbrs, while a client opens a new connection
// every 20 ms. lbd keeps its last known members (web1 at weight 1), so
// new connections keep reaching web1. Wanted: lbrs's drain, which counts
// the connections to its VIP, sees them keep coming and keeps the VIP
// until drain_timeout (10 s here), so no request fails before that
// bound. (Today the drain ends on the first count of zero, a few ms after
// publishing weight 0, before any director could have applied it.)
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
	termAt := time.Now()
	must(t, z.lbrs["web1"].cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(3 * time.Second) // well within drain_timeout (10 s)
	res := load.stop()
	vipsGone, _ := logTime(z.lbrs["web1"].logLines("stop: VIPs removed"))
	fmt.Printf("MEASURE zk_unseen_vip_removed_after=%.3fs zk_unseen_requests=%d zk_unseen_failed=%d\n",
		vipsGone.Sub(termAt).Seconds(), len(res), len(failedOf(res)))
	reportLoad(t, n, res, "a drain the director did not see (within drain_timeout)", 0, time.Time{})
	for _, f := range z.director {
		f.Resume()
	}
}
