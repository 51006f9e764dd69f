//go:build testbed_guest

package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestScenarioLbdKill9Adopt kills lbd with SIGKILL while a client holds a
// TCP connection through the VIP and sends a request on it every 100 ms,
// and restarts it on the table it left: the table stays as it was, the new
// lbd adopts it with zero writes (control status and log), and every
// request on the held connection is answered, by the same real server,
// throughout: before the kill, while lbd is down, and after the restart
// (answers counted in each phase). The longest gap between answers is
// printed (MEASURE lbd_kill9_gap), not asserted: it measures the VM.
func TestScenarioLbdKill9Adopt(t *testing.T) {
	n := newNarrator(t)
	l := buildLbdLab(t, n, "lbdkill", "DR")
	node := newLbdNode(t, "lbd-kill", l.director)

	n.Step("lbd with TCP %s:80 rr, web1/web2 DR, a TCP check on each (delay_loop 1s):", seedVIP)
	node.writeConfig(t, "", lbdIPVSYAML+lbdServiceYAML(l, "rr", [2]int{1, 1}, "delay_loop: 1s\nconnect_timeout: 1s", "checks:\n  - type: tcp"))
	n.Block(node.yaml)
	d := node.start(t)
	st, took := d.waitReady(t)
	saved := run(t, l.director, "ipvsadm", "-Sn")
	n.Note("ready after %v, %d writes; ipvsadm -Sn:", took.Round(time.Millisecond), st.IPVS.Writes)
	n.Block(saved)

	n.Step("Client opens one connection to the VIP and sends a request on it every 100 ms")
	h := l.holdConn(t, l.client, seedVIP+":80")
	n.Note("the connection is held by %s", h.server)
	p := startPinger(h, 100*time.Millisecond)
	p.waitAnswers(t, 5) // before the kill

	n.Step("kill -9 lbd (pid %d): nothing cleans up, the IPVS table stays", d.cmd.Process.Pid)
	if _, err := d.stop(t, syscall.SIGKILL); err == nil {
		t.Errorf("lbd killed by SIGKILL exited 0")
	}
	killed := time.Now()
	if got := run(t, l.director, "ipvsadm", "-Sn"); got != saved {
		t.Errorf("table after kill -9:\n%s\nwant as before:\n%s", got, saved)
	}
	p.waitAnswers(t, 5) // while lbd is down

	n.Step("lbd run again on the same table: it must adopt it with zero writes")
	d = node.start(t)
	st, took = d.waitReady(t)
	n.Note("ready %v after its start (%v after the kill)", took.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	out, _, code := node.lbctl(t, "status", "--json")
	if code != 0 {
		t.Fatalf("lbctl status --json: exit %d", code)
	}
	var excerpt []string
	for _, line := range strings.Split(out, "\n") {
		for _, k := range []string{`"kind"`, `"writes"`, `"repairs"`, `"in_sync"`, `"pid"`} {
			if strings.Contains(line, k) {
				excerpt = append(excerpt, strings.TrimSpace(line))
			}
		}
	}
	n.Note("lbctl status --json (excerpt): %s", strings.Join(excerpt, " "))
	la := st.IPVS.LastApply
	switch {
	case st.IPVS.Writes != 0:
		t.Errorf("the restarted lbd made %d IPVS writes adopting a matching table, want 0 (last apply %+v)", st.IPVS.Writes, la)
	case la == nil || la.Kind != "apply" || la.Writes != 0 || len(la.Ops) != 0:
		t.Errorf("last apply %+v: want kind apply with 0 writes", la)
	case !st.IPVS.InSync:
		t.Errorf("the restarted lbd is not in sync: pending %q", st.IPVS.Pending)
	}
	adopt := d.logLines(`msg="ipvs table applied"`, "on=start")
	n.Note("lbd's apply at start: %s", strings.Join(adopt, " | "))
	if len(adopt) != 1 || !strings.Contains(adopt[0], " writes=0 ") {
		t.Errorf("the restarted lbd logged %q: want one apply at start with writes=0", adopt)
	}
	if lines := d.logLines("IPVS changed"); len(lines) != 0 {
		t.Errorf("the restarted lbd logged IPVS changes:\n%s", strings.Join(lines, "\n"))
	}
	if got := run(t, l.director, "ipvsadm", "-Sn"); got != saved {
		t.Errorf("table after the restart:\n%s\nwant as before:\n%s", got, saved)
	}
	n.Note("lbd log of the restart:")
	n.Block(d.log.String())
	p.waitAnswers(t, 5) // after the restart

	n.Step("The held connection throughout (a request every 100 ms)")
	res := p.stop()
	fmt.Printf("MEASURE lbd_kill9_gap=%.3fs\n", res.maxGap.Seconds())
	n.Note("%d requests, %d failed, answered by %v, longest gap between answers %v",
		res.sent, len(res.errs), res.servers, res.maxGap.Round(time.Millisecond))
	if len(res.errs) > 0 {
		t.Errorf("%d requests on the held connection failed: %v", len(res.errs), res.errs)
	}
	if len(res.servers) != 1 || res.servers[h.server] != res.sent {
		t.Errorf("held connection answered by %v, want only %s", res.servers, h.server)
	}
}

// pinger sends a request on a held connection at a fixed interval.
type pinger struct {
	h     *heldConn
	stopc chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	mu    sync.Mutex
	res   pingResult
	// answered counts the answers; waitAnswers counts from the last
	// mark.
	answered, mark int
}

// waitAnswers waits until n more requests were answered than at the last
// call (counted, not timed) and fails the test on a failed request. The
// bound, n requests' worth of settle, only stops a connection that died.
func (p *pinger) waitAnswers(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Duration(n) * settle)
	for {
		p.mu.Lock()
		got, errs := p.answered-p.mark, slices.Clone(p.res.errs)
		p.mu.Unlock()
		if len(errs) > 0 {
			p.stop()
			t.Fatalf("a request on the held connection failed: %v", errs)
		}
		if got >= n {
			p.mu.Lock()
			p.mark = p.answered
			p.mu.Unlock()
			return
		}
		if time.Now().After(deadline) {
			p.stop()
			t.Fatalf("%d of %d answers on the held connection", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pingResult is what a pinger saw.
type pingResult struct {
	sent    int
	errs    []string
	servers map[string]int
	maxGap  time.Duration
}

func startPinger(h *heldConn, every time.Duration) *pinger {
	p := &pinger{h: h, stopc: make(chan struct{}), res: pingResult{servers: map[string]int{}}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-p.stopc:
				return
			case <-tick.C:
			}
			got, err := h.get()
			now := time.Now()
			p.mu.Lock()
			p.res.sent++
			if err != nil {
				p.res.errs = append(p.res.errs, fmt.Sprintf("request %d: %v", p.res.sent, err))
			} else {
				p.res.servers[got]++
				p.res.maxGap = max(p.res.maxGap, now.Sub(last))
				p.answered++
				last = now
			}
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *pinger) stop() pingResult {
	p.once.Do(func() { close(p.stopc) })
	p.wg.Wait()
	return p.res
}
