//go:build testbed_guest

package scenarios

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/lvsd/lb/internal/netnslab"
	"github.com/lvsd/lb/internal/zklab"
)

// zkMembersPath is the seed's base path (AppServer's /sgroup).
const zkMembersPath = "/sgroup"

// zkSessionTimeout is the seed's session timeout, lbrs's and lbd's here.
const zkSessionTimeout = 5 * time.Second

// TestScenarioZooKeeperMembers is issue 15 on the real kernel with the
// seed's layout: lbd's only real servers come from ZooKeeper (discovery,
// format seed), and three web nodes register themselves with "lbrs run"
// (register: the seed's EPHEMERAL_SEQUENTIAL /sgroup/subNNN holding
// host:port), each through a proxy on its namespace's 127.0.0.1:4180-4182
// to the host's 3-node ensemble. (1) The members appear in the IPVS table
// (ipvsadm -ln) as DR destinations, lbctl names their znodes, and rr
// spreads a client's requests over them exactly. (2) kill -9 of web2's
// lbrs while a client sends a request every 20 ms, a new connection each:
// the member is out of rotation (weight 0, drained: its web server still
// runs) within the session timeout + 1 s, and every request is answered
// (the one in flight when it left included: lbd keeps the destination
// while the kernel counts its connections, bounded by leave_timeout; a
// node really dead would lose it anyway). web1 and web3 serve afterwards.
// The times are printed (MEASURE).
func TestScenarioZooKeeperMembers(t *testing.T) {
	n := newNarrator(t)
	z := setupZKMembers(t, n, "zkmem", "seed", 3)
	l, d, lbrs := z.lab, z.lbd, z.lbrs

	n.Step("Dead node: kill -9 of web2's lbrs (its session is left to expire, %v) while the client sends a new connection every 20 ms", zkSessionTimeout)
	load := startLoad(t, l, l.client, 20*time.Millisecond)
	time.Sleep(time.Second)
	goneAt := watchMemberGone(t, l, "web2")
	killAt := time.Now()
	if _, err := lbrs["web2"].stop(t, syscall.SIGKILL); err == nil {
		t.Error("lbrs killed by SIGKILL exited 0")
	}
	seenGone := goneAt()
	gone := seenGone.Sub(killAt)
	if at, ok := removedAt(d, l.web("web2")); ok {
		gone = at.Sub(killAt) // lbd's write, not the poll that saw it
	}
	time.Sleep(time.Second)
	res := load.stop()
	fmt.Printf("MEASURE zk_kill9_leave=%.3fs zk_kill9_requests=%d zk_kill9_failed=%d\n", gone.Seconds(), len(res), len(failedOf(res)))
	n.Note("the member was out of the table %v after kill -9 (bound: session timeout %v + 1 s)", gone.Round(time.Millisecond), zkSessionTimeout)
	if gone > zkSessionTimeout+time.Second {
		t.Errorf("web2 left the table %v after kill -9 of its lbrs, want within the session timeout + 1 s (%v)", gone, zkSessionTimeout+time.Second)
	}
	// The client is sequential: one request at most is in flight when the
	// member leaves; drained (weight 0, its connections kept), it is served.
	reportLoad(t, n, res, "the kill -9", 0, seenGone)

	n.Step("Afterwards web1 and web3 serve: 6 requests")
	counts, seq := l.sendRequests(t, l.client, vipURL, 6)
	n.Note("%s", seq)
	if counts["web1"] != 3 || counts["web3"] != 3 {
		t.Errorf("answers %v after web2 left, want web1 3 and web3 3", counts)
	}
}

// TestScenarioZooKeeperGracefulLeave is the graceful leave of issue 15
// (Deliver 2) on the real kernel: lbd and two web nodes' lbrs on our
// format (json, which carries a weight). A client holds a keep-alive
// connection on web1 while another sends a request every 20 ms, a new
// connection each. SIGTERM to web1's lbrs: it publishes weight 0 (the
// table shows web1 at weight 0), and waits for its connections to the VIP
// to end: the held connection is still served by web1, five requests 100
// ms apart, then the client closes it; lbrs deletes its znode, lbd takes
// the member out of the table, lbrs removes the VIP and exits 0. No request
// fails. The times are printed (MEASURE), with the margin by which the VIP
// outlived the member in the table.
func TestScenarioZooKeeperGracefulLeave(t *testing.T) {
	n := newNarrator(t)
	z := setupZKMembers(t, n, "zkleave", "json", 2)
	l, d, lbrs := z.lab, z.lbd, z.lbrs
	n.Step("A client holds a keep-alive connection on web1; another sends a new connection every 20 ms")
	h := holdOn(t, l, "web1")
	load := startLoad(t, l, l.addClient(t, n, "client2", "192.168.56.11"), 20*time.Millisecond)
	time.Sleep(time.Second)

	n.Step("Graceful leave: SIGTERM to web1's lbrs")
	goneAt := watchMemberGone(t, l, "web1")
	termAt := time.Now()
	must(t, lbrs["web1"].cmd.Process.Signal(syscall.SIGTERM))
	svc := "TCP " + seedVIP + ":80"
	out, w0, ok := waitIPVS(t, l.director, settle, func(s map[string]*ipvsService) bool {
		r, in := s[svc].dest(l.web("web1").addr + ":80")
		return in && r.weight == 0
	})
	if !ok {
		t.Fatalf("web1 not at weight 0 in the table %v after SIGTERM to its lbrs:\n%s", w0, out)
	}
	n.Note("web1 at weight 0 in the table %v after SIGTERM (lbrs drains):", w0.Round(time.Millisecond))
	n.Block(out)
	for i := range 5 {
		if got, err := h.get(); err != nil || got != "web1" {
			t.Errorf("request %d on the held connection while web1 drains: %q, %v; want web1", i+1, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	n.Note("the held connection was served by web1 during the drain (5 requests); the client closes it")
	closedAt := time.Now()
	h.c.Close()
	select {
	case <-lbrs["web1"].done:
	case <-time.After(settle):
		t.Fatalf("lbrs on web1 still running %v after the held connection closed", settle)
	}
	if lbrs["web1"].err != nil {
		t.Errorf("lbrs on web1 exited with %v after SIGTERM, want 0", lbrs["web1"].err)
	}
	gone := goneAt().Sub(termAt)
	if at, ok := removedAt(d, l.web("web1")); ok {
		gone = at.Sub(termAt) // lbd's write, not the poll that saw it
	}
	n.Note("lbrs exited %v after the close; lbd took the member out of the table %v after SIGTERM",
		lbrs["web1"].exitAt.Sub(closedAt).Round(time.Millisecond), gone.Round(time.Millisecond))
	n.Block(strings.Join(d.logLines("discovery: member", l.web("web1").addr), "\n"))
	stopLog := lbrs["web1"].logLines("stop:")
	n.Block(strings.Join(stopLog, "\n"))
	// The margin: how long the VIP stayed on web1 after lbd took web1 out
	// of the table (negative: a window where IPVS could still send web1
	// connections it could no longer take).
	margin := "unknown"
	if vipsGone, ok := logTime(linesWith(stopLog, "VIPs removed")); ok {
		margin = fmt.Sprintf("%.3fs", vipsGone.Sub(termAt.Add(gone)).Seconds())
	}
	time.Sleep(time.Second)
	res := load.stop()
	fmt.Printf("MEASURE zk_graceful_weight0=%.3fs zk_graceful_leave=%.3fs zk_graceful_vip_margin=%s zk_graceful_requests=%d zk_graceful_failed=%d\n",
		w0.Seconds(), gone.Seconds(), margin, len(res), len(failedOf(res)))
	reportLoad(t, n, res, "the graceful leave", 0, time.Time{})
	n.Step("Afterwards web2 alone serves: 4 requests")
	if counts, seq := l.sendRequests(t, l.client, vipURL, 4); counts["web2"] != 4 {
		t.Errorf("answers %s after web1 left, want web2 4", seq)
	}
}

// holdOn opens keep-alive connections from the client to the VIP until
// one lands on web (rr: within as many tries as there are web nodes).
func holdOn(t *testing.T, l *lbdLab, web string) *heldConn {
	t.Helper()
	for range l.webs {
		h := l.holdConn(t, l.client, seedVIP+":80")
		if h.server == web {
			return h
		}
		h.c.Close()
	}
	t.Fatalf("no held connection landed on %s (rr over %d)", web, len(l.webs))
	return nil
}

// zkMembers is a lab whose lbd takes its real servers from ZooKeeper.
type zkMembers struct {
	lab      *lbdLab
	node     *lbdNode
	lbd      *lbdDaemon
	lbrs     map[string]*lbrsDaemon // by web node
	root     *zk.Conn               // the test's own session, from the root namespace
	director []*zklab.Forwarder     // the director's way to the ensemble (Pause cuts it off)
}

// setupZKMembers builds the lab with webs web nodes, starts lbd with a
// discovery-only service in format and "lbrs run" registering in that
// format on every web node, and checks the members serve (see
// checkMembersServe).
func setupZKMembers(t *testing.T, n *narrator, prefix, format string, webs int) *zkMembers {
	t.Helper()
	servers := zkServers(t)
	l := buildZKLab(t, n, prefix, webs)
	root := zkSession(t, nil, servers, zkSessionTimeout)
	zkEnsurePath(t, root, zkMembersPath)
	zkClearChildren(t, root, zkMembersPath)

	n.Step("lbd on the director: TCP %s:80 rr DR, no real_servers, discovery from %s (format %s, a TCP check each)", seedVIP, zkMembersPath, format)
	dirZK, fwds := zkProxy(t, l.director, servers)
	node := newLbdNode(t, "lbd-zk", l.director)
	node.writeConfig(t, "", lbdIPVSYAML+zkServiceYAML(dirZK, format))
	n.Block(node.yaml)
	d := node.start(t)
	d.waitReady(t)
	svc := "TCP " + seedVIP + ":80"
	if out, _, ok := waitIPVS(t, l.director, settle, func(s map[string]*ipvsService) bool { return s[svc] != nil && len(s[svc].dests) == 0 }); !ok {
		t.Fatalf("want %s with no destination before any registration:\n%s", svc, out)
	}
	started := time.Now()
	lbrs := startZKWebs(t, n, l, servers, format)
	checkMembersServe(t, n, l, node, root, started)
	return &zkMembers{lab: l, node: node, lbd: d, lbrs: lbrs, root: root, director: fwds}
}

// buildZKLab builds the seed's LAN with webs web nodes (web1 at .200...),
// the VIP on the director's eth0:0 and an HTTP server on each web node
// (its name; /health.html "OK").
func buildZKLab(t *testing.T, n *narrator, prefix string, webs int) *lbdLab {
	t.Helper()
	commandPath(t, "lbrs")
	n.Step("LAN 192.168.56.0/24: client, director, web1-web%d on one bridge", webs)
	lab := netnslab.NewT(t, prefix)
	lan, err := lab.AddSwitch("lan")
	must(t, err)
	host := func(name, addr string) *netnslab.Namespace {
		ns, _ := addSeedHost(t, lab, lan, name, "eth0", addr)
		n.Note("%-8s eth0 %s/24", name, addr)
		return ns
	}
	l := &lbdLab{fwd: "DR", lab: lab, lan: lan}
	l.client = host("client", seedClient)
	l.director = host("director", seedDirector)
	for i := range webs {
		name, addr := fmt.Sprintf("web%d", i+1), fmt.Sprintf("192.168.56.%d", 200+i)
		w := &lbdWeb{name: name, addr: addr, ns: host(name, addr)}
		w.serve(t)
		l.webs = append(l.webs, w)
	}
	must(t, l.director.AddAddress("eth0", netip.MustParsePrefix(seedVIP+"/32"), "eth0:0"))
	n.Note("VIP %s/32 on the director's eth0:0; the web nodes serve HTTP on :80 (their name)", seedVIP)
	return l
}

// zkServiceYAML is the virtual server whose real servers all come from
// ZooKeeper, dialed at zk (the director's proxy).
func zkServiceYAML(zk []string, format string) string {
	return fmt.Sprintf(`virtual_servers:
  - address: %s
    port: 80
    protocol: TCP
    scheduler: rr
    forwarding: DR
    discovery:
      zookeeper: ["%s"]
      session_timeout: %v
      path: %s
      format: %s
      delay_loop: 1s
      connect_timeout: 1s
      leave_timeout: %v
      checks:
        - type: tcp
`, seedVIP, strings.Join(zk, `", "`), zkSessionTimeout, zkMembersPath, format, zkLeaveTimeout)
}

// zkLeaveTimeout bounds how long lbd drains a member that left (its
// destination at weight 0 while the kernel counts connections on it).
const zkLeaveTimeout = 10 * time.Second

// startZKWebs starts "lbrs run" with a register section in format on
// every web node and waits until each has applied (its VIP and sysctls in
// place).
func startZKWebs(t *testing.T, n *narrator, l *lbdLab, servers []string, format string) map[string]*lbrsDaemon {
	t.Helper()
	n.Step("lbrs run on the web nodes with register: (the seed's AppServer: %s/sub, EPHEMERAL_SEQUENTIAL; format %s)", zkMembersPath, format)
	out := map[string]*lbrsDaemon{}
	for _, w := range l.webs {
		local, _ := zkProxy(t, w.ns, servers)
		extra := fmt.Sprintf(`register:
  zookeeper: ["%s"]
  session_timeout: %v
  path: %s
  format: %s
  address: %s
  port: 80
  drain_timeout: 10s
`, strings.Join(local, `", "`), zkSessionTimeout, zkMembersPath, format, w.addr)
		nd := newLbrsNode(t, w.name, w.ns, "dr", extra)
		if w.name == "web1" {
			n.Block(nd.yaml)
		}
		out[w.name] = startLbrs(t, nd)
	}
	for _, w := range l.webs {
		_, took := out[w.name].waitApplied(t)
		n.Note("%s: lbrs applied in %v", w.name, took.Round(time.Millisecond))
	}
	return out
}

// checkMembersServe waits for every web node as a member in ZooKeeper and
// in the IPVS table (DR, weight 1), shows lbctl's sources, and requires rr
// to spread 10 requests per member evenly.
func checkMembersServe(t *testing.T, n *narrator, l *lbdLab, node *lbdNode, root *zk.Conn, since time.Time) {
	t.Helper()
	kids, took, ok := zkWaitChildren(t, root, zkMembersPath, settle, func(k []string) bool { return len(k) == len(l.webs) })
	if !ok {
		t.Fatalf("%s holds %v %v after the lbrs started, want %d members", zkMembersPath, kids, took, len(l.webs))
	}
	slices.Sort(kids)
	var datas []string
	for _, k := range kids {
		data, _, err := root.Get(zkMembersPath + "/" + k)
		must(t, err)
		datas = append(datas, k+"="+string(data))
	}
	n.Note("%s: %s", zkMembersPath, strings.Join(datas, " "))
	svc := "TCP " + seedVIP + ":80"
	out, _, ok := waitIPVS(t, l.director, settle, func(s map[string]*ipvsService) bool {
		for _, w := range l.webs {
			if r, in := s[svc].dest(w.addr + ":80"); !in || r.fwd != "Route" || r.weight != 1 {
				return false
			}
		}
		return len(s[svc].dests) == len(l.webs)
	})
	joined := time.Since(since)
	fmt.Printf("MEASURE zk_join_all=%.3fs\n", joined.Seconds())
	if !ok {
		t.Fatalf("the IPVS table does not hold the %d web nodes (Route, weight 1) %v after the lbrs started:\n%s", len(l.webs), joined, out)
	}
	n.Note("ipvsadm -ln, %v after the lbrs started:", joined.Round(time.Millisecond))
	n.Block(out)
	st, _, code := node.lbctl(t, "status", "--health")
	n.Block(st)
	if code != 0 || strings.Count(st, "zk:"+zkMembersPath+"/sub") != len(l.webs) {
		t.Errorf("lbctl status --health (exit %d) names %d zk:%s/sub sources, want %d:\n%s", code,
			strings.Count(st, "zk:"+zkMembersPath+"/sub"), zkMembersPath, len(l.webs), st)
	}
	n.Step("Client sends %d requests to http://%s/, a new connection each", 10*len(l.webs), seedVIP)
	counts, seq := l.sendRequests(t, l.client, vipURL, 10*len(l.webs))
	n.Note("%s", seq)
	for _, w := range l.webs {
		if counts[w.name] != 10 {
			t.Errorf("answers %v: want 10 from each web node (rr over new connections)", counts)
			break
		}
	}
}

// load is a client sending a request through the VIP every interval, a
// new connection each, until stop.
type load struct {
	mu      sync.Mutex
	results []loadResult
	cancel  context.CancelFunc
	done    chan struct{}
}

// loadResult is one request of a load.
type loadResult struct {
	at     time.Time
	server string
	err    error
}

func startLoad(t *testing.T, l *lbdLab, ns *netnslab.Namespace, interval time.Duration) *load {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ld := &load{cancel: cancel, done: make(chan struct{})}
	c := &http.Client{
		Timeout: 5 * time.Second, // a SYN dropped twice (1 s, then 2 s) still fails within it
		Transport: &http.Transport{
			DialContext:       func(ctx context.Context, _, addr string) (net.Conn, error) { return l.dial(ctx, ns, addr) },
			DisableKeepAlives: true,
		},
	}
	go func() {
		defer close(ld.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for ctx.Err() == nil {
			at := time.Now()
			got, err := get(c, vipURL)
			ld.mu.Lock()
			ld.results = append(ld.results, loadResult{at, got, err})
			ld.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()
	return ld
}

// stop ends the load (the request in flight finishes) and returns its
// results.
func (ld *load) stop() []loadResult {
	ld.cancel()
	<-ld.done
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return slices.Clone(ld.results)
}

func failedOf(res []loadResult) []loadResult {
	var out []loadResult
	for _, r := range res {
		if r.err != nil {
			out = append(out, r)
		}
	}
	return out
}

// reportLoad notes how many requests each server answered and fails the
// test when more than allowed requests failed, or a failed one started
// after before (when set).
func reportLoad(t *testing.T, n *narrator, res []loadResult, during string, allowed int, before time.Time) {
	t.Helper()
	counts := map[string]int{}
	for _, r := range res {
		if r.err == nil {
			counts[r.server]++
		}
	}
	failed := failedOf(res)
	n.Note("%d requests during %s: answered %v, failed %d", len(res), during, counts, len(failed))
	for _, f := range failed {
		n.Note("request at %s failed: %v", f.at.Format("15:04:05.000"), f.err)
		if !before.IsZero() && f.at.After(before) {
			t.Errorf("request at %s during %s failed (%v), after the member was out of the table (%s)", f.at.Format("15:04:05.000"), during, f.err, before.Format("15:04:05.000"))
		}
	}
	if len(failed) > allowed {
		t.Errorf("%d requests failed during %s, want at most %d", len(failed), during, allowed)
	}
	if len(res) < 20 {
		t.Errorf("only %d requests during %s: the load did not run", len(res), during)
	}
}

// watchMemberGone polls the VIP's table from now on, every 50 ms, and
// returns what waits for web's destination to be out of rotation (gone,
// or at weight 0: lbd drains a member that left the registry, see
// discovery.leave_timeout) and returns when it was first seen so; the test
// fails when the member is still in rotation after two session timeouts
// and settle.
func watchMemberGone(t *testing.T, l *lbdLab, web string) func() time.Time {
	t.Helper()
	addr := l.web(web).addr + ":80"
	svc := "TCP " + seedVIP + ":80"
	start := time.Now()
	type seen struct {
		at    time.Time
		table string
		err   string
	}
	ch := make(chan seen, 1)
	go func() {
		for {
			out, err := l.director.Run(context.Background(), "ipvsadm", "-ln")
			at := time.Now()
			switch {
			case err != nil:
				ch <- seen{err: fmt.Sprintf("ipvsadm -ln: %v: %s", err, out)}
				return
			case !strings.Contains(out, "TCP  "+seedVIP+":80"):
				ch <- seen{err: "the service " + svc + " left the table:\n" + out}
				return
			case !strings.Contains(out, "-> "+addr+" ") || destWeight(out, addr) == "0":
				ch <- seen{at: at}
				return
			case time.Since(start) > 2*zkSessionTimeout+settle:
				ch <- seen{err: fmt.Sprintf("%s still in the table %v later:\n%s", addr, time.Since(start), out)}
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return func() time.Time {
		t.Helper()
		s := <-ch
		if s.err != "" {
			t.Fatal(s.err)
		}
		return s.at
	}
}

// destWeight is the weight column of the destination addr in ipvsadm
// -ln's output out ("" when absent).
func destWeight(out, addr string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && f[0] == "->" && f[1] == addr {
			return f[3]
		}
	}
	return ""
}

// removedAt returns when lbd logged that it took web's destination out of
// the VIP's rotation (the write's own log line): set to weight 0 (a member
// that left the registry drains) or removed, whichever came first.
func removedAt(d *lbdDaemon, web *lbdWeb) (time.Time, bool) {
	w0, ok0 := firstLogTime(d.logLines("op=update-destination", "-r "+web.addr+":80", " -w 0 "))
	rm, okr := firstLogTime(d.logLines("op=remove-destination", "-r "+web.addr+":80"))
	switch {
	case ok0 && (!okr || w0.Before(rm)):
		return w0, true
	case okr:
		return rm, true
	}
	return time.Time{}, false
}

// firstLogTime returns the time= of the first of lines.
func firstLogTime(lines []string) (time.Time, bool) {
	if len(lines) == 0 {
		return time.Time{}, false
	}
	return logTime(lines[:1])
}

// logTime returns the time= of the last of lines (slog's text format).
func logTime(lines []string) (time.Time, bool) {
	if len(lines) == 0 {
		return time.Time{}, false
	}
	f := strings.Fields(lines[len(lines)-1])
	if len(f) == 0 || !strings.HasPrefix(f[0], "time=") {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(f[0], "time="))
	return at, err == nil
}
