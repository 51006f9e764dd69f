//go:build testbed_guest

package scenarios

import (
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/e2e/ecmplab"
)

// TestScenarioBGPECMP is issue 16's real routing: a bird2 router with
// merge paths and fib_multipath_hash_policy=1, three lbd directors each
// announcing the VIP with BGP on its own IPVS table (mh, mh-fallback,
// mh-port, sloppy_tcp on), three DR real servers under lbrs, a client
// behind the router. It proves: the router holds one route with three next
// hops and the client's flows spread over all three directors; the same
// 5-tuple lands on the same real server through each director (the route
// pinned to each in turn); a long flow survives its director being drained
// (lbctl drain-director: BGP withdraw) and then its next director being
// killed (its link cut, then kill -9: routed around after the hold time),
// resuming on the others with no reset; a flow survives kill -9 alone (the
// session closed by the kernel) and the killed lbd comes back; and, the
// control, with sloppy_tcp off a moved flow is reset.
func TestScenarioBGPECMP(t *testing.T) {
	n := newNarrator(t)
	l := buildECMPLab(t, n, "ecmp", ecmplab.LbdOptions{Sloppy: true})
	ecmpSpread(t, n, l)
	ecmpSameServer(t, n, l)
	moved := ecmpSurvives(t, n, l)
	a, b := ecmpKillOnly(t, n, l, moved)
	ecmpControl(t, n, l, a, b)
}

// ecmpSpread makes 60 connections from 60 source ports and requires each
// to be in exactly one director's IPVS table, every director to carry
// some, and each answer to come from the real server that table names.
func ecmpSpread(t *testing.T, n *narrator, l *ecmpLab) {
	t.Helper()
	const flows, base = 60, 30000
	n.Step("Client opens %d connections to %s:80 from source ports %d-%d, one request each, all kept open while counted", flows, ecmpVIP, base, base+flows-1)
	// Kept open: a closing socket's last ACKs may be sent without its
	// hash (TIME_WAIT) and take another next hop, where sloppy_tcp makes a
	// second entry.
	answers, reset := l.openFlows(t, base, flows)
	defer reset()
	perDirector := map[int]int{}
	perWeb := map[string]int{}
	owner := map[int]int{}
	for _, d := range l.directors {
		for port, c := range d.conns(t) {
			if _, ok := answers[port]; !ok {
				continue
			}
			if prev, dup := owner[port]; dup {
				t.Errorf("port %d is in the IPVS tables of d%d and d%d (%+v)", port, prev, d.id, c)
			}
			owner[port] = d.id
			perDirector[d.id]++
			if l.webs[c.Dest] != answers[port] {
				t.Errorf("port %d: d%d's IPVS sent it to %s, but %s answered", port, d.id, c.Dest, answers[port])
			}
		}
	}
	for _, a := range answers {
		perWeb[a]++
	}
	n.Note("flows per director (from each director's IPVS connection table): d1 %d, d2 %d, d3 %d", perDirector[1], perDirector[2], perDirector[3])
	n.Note("flows per real server: web1 %d, web2 %d, web3 %d", perWeb["web1"], perWeb["web2"], perWeb["web3"])
	fmt.Printf("MEASURE ecmp_split=%d/%d/%d ecmp_web_split=%d/%d/%d\n", perDirector[1], perDirector[2], perDirector[3], perWeb["web1"], perWeb["web2"], perWeb["web3"])
	if len(owner) != flows {
		t.Errorf("%d of %d flows found in the directors' IPVS tables", len(owner), flows)
	}
	for i := 1; i <= 3; i++ {
		if perDirector[i] == 0 {
			t.Errorf("d%d carried none of %d flows: %v", i, flows, perDirector)
		}
	}
}

// ecmpSameServer sends the same 5-tuples through each director in turn
// (the router's route pinned to it) and requires the same real server
// each time, and the director pinned to be the one that carried it.
func ecmpSameServer(t *testing.T, n *narrator, l *ecmpLab) {
	t.Helper()
	const ports, base = 8, 31000
	n.Step("Same 5-tuple through each director: the router pinned to d1, d2, d3 in turn (ip rule + table 100); source ports %d-%d", base, base+ports-1)
	got := l.throughEach(t, base, ports)
	webs := map[string]bool{}
	for p := base; p < base+ports; p++ {
		n.Note("port %d: d1 -> %s, d2 -> %s, d3 -> %s", p, got[p][0], got[p][1], got[p][2])
		if got[p][0] != got[p][1] || got[p][0] != got[p][2] {
			t.Errorf("port %d reached different real servers through d1, d2, d3: %v", p, got[p])
		}
		webs[got[p][0]] = true
	}
	if len(webs) < 2 {
		t.Errorf("all %d ports reached one real server (%v): mh-port spreads source ports", ports, webs)
	}
}

// ecmpSurvives runs a long flow (a request every 20 ms on one connection)
// and drains its director, then kills the next one (its link cut, then
// kill -9): the flow resumes on the others with no error and the same real
// server. It returns the director that carries it in the end.
func ecmpSurvives(t *testing.T, n *narrator, l *ecmpLab) *ecmpDirector {
	t.Helper()
	const port = 32000
	n.Step("A long flow from port %d: a request every 20 ms on one keep-alive connection", port)
	f := l.startFlow(t, port)
	c1 := l.carrier(t, port)
	n.Note("carried by d%d, served by %s", c1.id, f.h.server)
	f.answeredAfter(t, time.Now(), 10)

	n.Step("lbctl drain-director on d%d: it withdraws the VIP", c1.id)
	out, errOut, code := c1.node.lbctl(t, "drain-director")
	if code != 0 {
		t.Fatalf("lbctl drain-director: exit %d %s%s", code, out, errOut)
	}
	t0 := time.Now()
	rest := others(l, c1)
	withdraw := l.waitHops(t, ids(rest), 15*time.Second)
	first := f.answeredAfter(t, t0.Add(withdraw), 10)
	c2 := l.carrier(t, port, c1)
	gap, _ := f.gapAround(t0)
	n.Note("router next hop d%d gone %v after the drain; the flow moved to d%d, longest gap between answers %v (first answer after the route change %v later)",
		c1.id, withdraw.Round(time.Millisecond), c2.id, gap.Round(time.Millisecond), first.Sub(t0.Add(withdraw)).Round(time.Millisecond))
	fmt.Printf("MEASURE ecmp_drain_withdraw=%.3fs ecmp_drain_gap=%.3fs\n", withdraw.Seconds(), gap.Seconds())

	// The link first: the session's FIN from the kill never reaches the
	// router (a director that dies silently), so the hold time ends it.
	// Killed first, the FIN sometimes got out before the cut (0.07 s).
	n.Step("d%d (now carrying the flow): its link cut, then kill -9", c2.id)
	must(t, c2.link.Cut())
	t1 := time.Now()
	must(t, c2.lbd.cmd.Process.Signal(syscall.SIGKILL))
	gone := l.waitHops(t, ids(others(l, c1, c2)), 15*time.Second)
	f.answeredAfter(t, t1, 10)
	c3 := l.carrier(t, port, c1, c2)
	gap, back := f.gapAround(t1)
	resume := back.Sub(t1)
	n.Note("router next hop d%d gone %v after the cut; the flow resumed on d%d %v after the cut (the answer ending its longest gap, %v)",
		c2.id, gone.Round(time.Millisecond), c3.id, resume.Round(time.Millisecond), gap.Round(time.Millisecond))
	fmt.Printf("MEASURE ecmp_kill_route_gone=%.3fs ecmp_kill_resume=%.3fs ecmp_kill_gap=%.3fs\n", gone.Seconds(), resume.Seconds(), gap.Seconds())
	f.end()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 || len(f.srv) != 1 || f.srv[f.h.server] == 0 {
		t.Errorf("the flow: errors %v, answered by %v, want only %s", f.errs, f.srv, f.h.server)
	}
	n.Note("the flow: %d answers, all from %s, no error", len(f.at), f.h.server)
	return c3
}

// ecmpKillOnly brings the drained director back, runs a new long flow
// and kills its director with kill -9 alone (the link up: its kernel
// closes the BGP session at once, though its IPVS table stays): the flow
// resumes on the other with no error. Then it restarts the killed lbd and
// returns the two directors announcing the VIP.
func ecmpKillOnly(t *testing.T, n *narrator, l *ecmpLab, alive *ecmpDirector) (*ecmpDirector, *ecmpDirector) {
	t.Helper()
	var drained *ecmpDirector
	for _, d := range l.directors {
		if d != alive && !d.lbd.exited() {
			drained = d
		}
	}
	n.Step("kill -9 alone: d%d announced again (drain-director --undo), a new long flow, its director killed with its link up", drained.id)
	if out, errOut, code := drained.node.lbctl(t, "drain-director", "--undo"); code != 0 {
		t.Fatalf("lbctl drain-director --undo: exit %d %s%s", code, out, errOut)
	}
	l.waitHops(t, ids([]*ecmpDirector{drained, alive}), 15*time.Second)
	const port = 32001
	f := l.startFlow(t, port)
	x := l.carrier(t, port)
	f.answeredAfter(t, time.Now(), 5)
	y := map[bool]*ecmpDirector{true: alive, false: drained}[x == drained]
	must(t, x.lbd.cmd.Process.Signal(syscall.SIGKILL))
	t2 := time.Now()
	gone := l.waitHops(t, ids([]*ecmpDirector{y}), 15*time.Second)
	f.answeredAfter(t, t2, 10)
	if c := l.carrier(t, port, x); c != y {
		t.Errorf("after d%d's kill the flow is on d%d, want d%d", x.id, c.id, y.id)
	}
	gap, back := f.gapAround(t2)
	n.Note("flow from port %d on d%d; kill -9: router next hop gone %v after the kill; the flow on d%d, longest gap %v (ended %v after the kill)",
		port, x.id, gone.Round(time.Millisecond), y.id, gap.Round(time.Millisecond), back.Sub(t2).Round(time.Millisecond))
	fmt.Printf("MEASURE ecmp_kill_only_route_gone=%.3fs ecmp_kill_only_gap=%.3fs\n", gone.Seconds(), gap.Seconds())
	f.end()
	f.mu.Lock()
	if len(f.errs) > 0 || len(f.srv) != 1 || f.srv[f.h.server] == 0 {
		t.Errorf("the flow: errors %v, answered by %v, want only %s", f.errs, f.srv, f.h.server)
	}
	f.mu.Unlock()
	n.Step("lbd restarted on d%d: it announces again", x.id)
	x.lbd = x.node.start(t)
	x.lbd.waitReady(t)
	up := l.waitHops(t, ids([]*ecmpDirector{x, y}), 30*time.Second)
	n.Note("d%d back in the router's route %v after it was ready", x.id, up.Round(time.Millisecond))
	return x, y
}

// ecmpControl turns sloppy_tcp off on the two directors announcing the
// VIP and drains the carrier of a new flow: the director the flow moves to
// does not take a mid-stream packet, and the client is reset.
func ecmpControl(t *testing.T, n *narrator, l *ecmpLab, a, b *ecmpDirector) {
	t.Helper()
	n.Step("Control: sloppy_tcp: false in lbd.yaml of d%d and d%d (lbctl reload)", a.id, b.id)
	for _, d := range []*ecmpDirector{a, b} {
		d.node.writeConfig(t, "", ecmplab.LbdBody(d.id, ecmplab.LbdOptions{}))
		d.check(t, n, true)
		if out, errOut, code := d.node.lbctl(t, "reload"); code != 0 {
			t.Fatalf("d%d: lbctl reload: exit %d %s%s", d.id, code, out, errOut)
		}
	}
	for _, d := range []*ecmpDirector{a, b} {
		deadline := time.Now().Add(settle)
		for v, _ := d.ns.ReadSysctl("net.ipv4.vs.sloppy_tcp"); v != "0"; v, _ = d.ns.ReadSysctl("net.ipv4.vs.sloppy_tcp") {
			if time.Now().After(deadline) {
				t.Fatalf("d%d: sloppy_tcp = %s %v after the reload, want 0", d.id, v, settle)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	const port = 32002
	f := l.startFlow(t, port)
	c := l.carrier(t, port)
	f.answeredAfter(t, time.Now(), 5)
	for _, d := range []*ecmpDirector{a, b} {
		if v, _ := d.ns.ReadSysctl("net.ipv4.vs.sloppy_tcp"); v != "0" {
			t.Fatalf("d%d: sloppy_tcp = %s before the control's drain, want 0", d.id, v)
		}
	}
	n.Note("a new flow from port %d on d%d; draining d%d", port, c.id, c.id)
	if out, errOut, code := c.node.lbctl(t, "drain-director"); code != 0 {
		t.Fatalf("lbctl drain-director: exit %d %s%s", code, out, errOut)
	}
	var left *ecmpDirector
	for _, d := range []*ecmpDirector{a, b} {
		if d != c {
			left = d
		}
	}
	l.waitHops(t, ids([]*ecmpDirector{left}), 15*time.Second)
	err := f.waitBroken(settle)
	n.Note("the moved flow on d%d without sloppy_tcp: %v", left.id, err)
	if err == nil || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the flow moved to d%d with sloppy_tcp off: error %v, want a connection reset", left.id, err)
	}
}

func others(l *ecmpLab, not ...*ecmpDirector) []*ecmpDirector {
	var out []*ecmpDirector
	for _, d := range l.directors {
		if !slices.Contains(not, d) {
			out = append(out, d)
		}
	}
	return out
}

func ids(ds []*ecmpDirector) []int {
	var out []int
	for _, d := range ds {
		out = append(out, d.id)
	}
	slices.Sort(out)
	return out
}
