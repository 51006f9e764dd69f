//go:build testbed_guest

package scenarios

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestScenarioZooKeeperSeedLeave is the graceful leave in the seed's
// format, which carries no weight: SIGTERM to web1's lbrs deletes its
// znode first, then waits for its connections to the VIP to end (bounded
// by drain_timeout), then removes the VIP. The client holds a keep-alive
// connection on web1 and sends a request on it every 100 ms, while a
// second client opens a new connection every 20 ms. Wanted: no request
// fails, on either: the director must stop sending web1 new connections
// but keep forwarding the established one while web1 drains. (IPVS drops
// every packet of a removed destination's connections: removing the
// destination at once cuts the held connection.) lbd drains it: weight 0
// at once, the destination removed when the kernel counts no connection
// on it or after discovery.leave_timeout (zkLeaveTimeout here): the
// client closes the held connection, and the member leaves the table
// within that bound.
func TestScenarioZooKeeperSeedLeave(t *testing.T) {
	n := newNarrator(t)
	z := setupZKMembers(t, n, "zkseed", "seed", 2)
	l, d, lbrs := z.lab, z.lbd, z.lbrs

	n.Step("A client holds a keep-alive connection on web1; another opens a new connection every 20 ms")
	var h *heldConn
	for range 2 {
		if h = l.holdConn(t, l.client, seedVIP+":80"); h.server == "web1" {
			break
		}
	}
	if h.server != "web1" {
		t.Fatalf("no held connection landed on web1 (rr over 2)")
	}
	other := l.addClient(t, n, "client2", "192.168.56.11")
	load := startLoad(t, l, other, 20*time.Millisecond)
	time.Sleep(time.Second)

	n.Step("SIGTERM to web1's lbrs (format seed: delete the znode, drain, remove the VIP); a request on the held connection every 100 ms")
	goneAt := watchMemberGone(t, l, "web1")
	termAt := time.Now()
	must(t, lbrs["web1"].cmd.Process.Signal(syscall.SIGTERM))
	gone := goneAt().Sub(termAt)
	if at, ok := removedAt(d, l.web("web1")); ok {
		gone = at.Sub(termAt)
	}
	n.Note("lbd took web1 out of rotation %v after SIGTERM", gone.Round(time.Millisecond))
	heldOK, heldFailed := 0, 0
	for i := range 10 {
		got, err := h.get()
		if err != nil {
			heldFailed++
			t.Errorf("request %d on the held connection to web1 after web1 left the table: %v", i+1, err)
			break
		}
		heldOK++
		if got != "web1" {
			t.Errorf("held connection answered by %s, want web1", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	n.Step("The client closes the held connection: lbd removes web1's destination within leave_timeout (%v)", zkLeaveTimeout)

	h.c.Close()
	svc := "TCP " + seedVIP + ":80"
	out, took, ok := waitIPVS(t, l.director, zkLeaveTimeout+settle, func(s map[string]*ipvsService) bool {
		_, in := s[svc].dest(l.web("web1").addr + ":80")
		return !in
	})
	if !ok {
		t.Errorf("web1 still in the table %v after the held connection closed (leave_timeout %v):\n%s", took, zkLeaveTimeout, out)
	}
	removed := time.Since(termAt)
	if at, ok := logTime(d.logLines("op=remove-destination", "-r "+l.web("web1").addr+":80")); ok {
		removed = at.Sub(termAt)
	}
	n.Note("web1's destination removed %v after SIGTERM (%v after the close):", removed.Round(time.Millisecond), took.Round(time.Millisecond))
	n.Block(strings.Join(d.logLines("discovery: leaving member", l.web("web1").addr), "\n"))
	res := load.stop()
	fmt.Printf("MEASURE zk_seed_leave=%.3fs zk_seed_removed=%.3fs zk_seed_held_ok=%d zk_seed_held_failed=%d zk_seed_requests=%d zk_seed_failed=%d\n",
		gone.Seconds(), removed.Seconds(), heldOK, heldFailed, len(res), len(failedOf(res)))
	reportLoad(t, n, res, "the seed-format leave", 0, time.Time{})
}
