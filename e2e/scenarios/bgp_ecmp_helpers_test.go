//go:build testbed_guest

package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/e2e/ecmplab"
	"github.com/lvsd/lb/internal/netnslab"
)

// Helpers of the BGP/ECMP scenarios (issue 16): a router namespace runs
// Debian's bird2 with merge paths (one multipath route in its kernel, L4
// hash), three directors each run the real lbd on their own IPVS table and
// announce one VIP with BGP, three DR real servers run lbrs, and a client
// sits behind the router on another subnet.
//
//	client 10.20.0.2 --front-- router 10.20.0.1 | 10.9.0.254 --lan-- d1..d3 10.9.0.1-3
//	                                                                 web1..3 10.9.0.11-13

const (
	ecmpVIP    = ecmplab.VIP
	ecmpRouter = ecmplab.Router
	ecmpClient = ecmplab.Client
)

// ecmpDirector is one director: its namespace, lbd node and daemon, and
// its link to the LAN.
type ecmpDirector struct {
	id   int
	addr string
	ns   *netnslab.Namespace
	link *netnslab.Link
	node *lbdNode
	lbd  *lbdDaemon
}

type ecmpLab struct {
	lab       *netnslab.Lab
	tp        *ecmplab.Topology
	router    *netnslab.Namespace
	client    *netnslab.Namespace
	directors []*ecmpDirector
	webs      map[string]string       // address -> name
	web       map[string]*http.Server // name -> its HTTP server
	birdSock  string
}

// buildECMPLab builds the topology, starts bird2, the real servers (HTTP
// answering their name, lbrs dr) and the three lbd, and waits for the
// router's route to hold three next hops.
func buildECMPLab(t *testing.T, n *narrator, prefix string, o ecmplab.LbdOptions) *ecmpLab {
	t.Helper()
	commandPath(t, "bird")
	commandPath(t, "lbrs")
	l := &ecmpLab{lab: netnslab.NewT(t, prefix), webs: map[string]string{}, web: map[string]*http.Server{}}
	n.Step("Topology: client %s behind router (bird2, ECMP, fib_multipath_hash_policy=1); 3 directors and 3 DR real servers on 10.9.0.0/24", ecmpClient)
	tp, err := ecmplab.Build(l.lab)
	must(t, err)
	l.tp, l.client, l.router = tp, tp.Client, tp.Router
	l.startBird(t, n, o.BFD)
	for _, w := range tp.Webs {
		l.web[w.Name] = serveName(t, w.NS, "0.0.0.0:80", w.Name)
		l.webs[w.Addr] = w.Name
		startECMPLbrs(t, w.NS, w.Name)
	}
	for _, td := range tp.Directors {
		d := &ecmpDirector{id: td.ID, addr: td.Addr, ns: td.NS, link: td.Link}
		if o.CheckFrom {
			must(t, td.AddCheckAddr())
		}
		d.node = newLbdNode(t, fmt.Sprintf("d%d", td.ID), d.ns)
		d.node.writeConfig(t, "", ecmplab.LbdBody(td.ID, o))
		l.directors = append(l.directors, d)
	}
	n.Note("d1's lbd.yaml:")
	n.Block(l.directors[0].node.yaml)
	l.directors[0].check(t, n, !o.Sloppy)
	for _, d := range l.directors {
		d.lbd = d.node.start(t)
	}
	for _, d := range l.directors {
		_, took := d.lbd.waitReady(t)
		n.Note("d%d ready after %v", d.id, took.Round(time.Millisecond))
	}
	up := l.waitHops(t, []int{1, 2, 3}, 60*time.Second)
	n.Note("the router has one route to %s with 3 next hops %v after the directors were ready:", ecmpVIP, up.Round(time.Millisecond))
	n.Block(run(t, l.router, "ip", "route", "show", ecmpVIP+"/32"))
	return l
}

// check runs "lbd check" on the director's config: valid, and a warning
// about sloppy_tcp only when wantWarn (the rest of the config is what an
// announced service should be: mh with mh-fallback).
func (d *ecmpDirector) check(t *testing.T, n *narrator, wantWarn bool) {
	t.Helper()
	out, err := d.ns.Run(t.Context(), commandPath(t, "lbd"), "check", "-c", d.node.config)
	n.Note("lbd check on d%d: %s", d.id, strings.TrimSpace(out))
	warns := strings.Count(out, "warning:")
	if err != nil || (!wantWarn && warns > 0) || (wantWarn && (warns != 1 || !strings.Contains(out, "sloppy_tcp"))) {
		t.Errorf("lbd check of d%d's config: %v, want valid with %d warning (sloppy_tcp)\n%s", d.id, err, map[bool]int{true: 1}[wantWarn], out)
	}
}

func (l *ecmpLab) startBird(t *testing.T, n *narrator, bfd bool) {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "bird")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "bird.conf")
	text := ecmplab.RouterConf(false)
	if bfd {
		var changes []string
		text, changes, err = vipAdapt("bird-ecmp.conf", ecmpBirdExample)
		must(t, err)
		n.Note("the router runs deploy/examples/bird-ecmp.conf with: %s", strings.Join(changes, "; "))
	}
	must(t, os.WriteFile(conf, []byte(text), 0o644))
	l.birdSock = filepath.Join(dir, "bird.ctl")
	startDaemon(t, l.router, "bird on the router", commandPath(t, "bird"), "-f", "-c", conf, "-s", l.birdSock, "-P", filepath.Join(dir, "bird.pid"))
}

// ecmpBirdExample turns the operators' bird-ecmp.conf into the lab's
// router: its addresses, BFD on (the example's commented lines), and a
// session BFD ended restarted after 1 s instead of bird's 60 s.
var ecmpBirdExample = []vipSubst{
	{re: `(?m)^router id 192\.168\.56\.1;`, repl: "router id " + ecmpRouter + ";", n: 1},
	{re: `local 192\.168\.56\.1 as`, repl: "local " + ecmpRouter + " as", n: 1,
		why: "the lab's addresses (router 10.9.0.254, directors 10.9.0.1-3)"},
	{re: `neighbor 192\.168\.56\.1(\d) as`, repl: "neighbor 10.9.0.${1} as", n: 3},
	{re: `(?m)^# (protocol bfd .*)$`, repl: "$1", n: 1},
	{re: `(?m)^  # bfd on;`, repl: "  bfd on;", n: 1, why: "BFD uncommented"},
	{re: `(?m)^(  hold time 3;.*)$`, repl: "$1\n  error wait time 1, 5;", n: 1,
		why: "error wait time 1, 5 (bird: 60 s before it takes a session BFD ended again; the scenario thaws the director)"},
}

// startECMPLbrs runs "lbrs run" in dr mode for the VIP on a real server.
func startECMPLbrs(t *testing.T, ns *netnslab.Namespace, name string) {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "lbrs")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	nd := &lbrsNode{name: name, ns: ns, config: filepath.Join(dir, "lbrs.yaml"), state: filepath.Join(dir, "state.json")}
	nd.yaml = fmt.Sprintf("mode: dr\nvips:\n  - %s\nsysctls:\n  arp_ignore: 1\n  arp_announce: 2\nstate_file: %s\nlog_level: info\n", ecmpVIP, nd.state)
	must(t, os.WriteFile(nd.config, []byte(nd.yaml), 0o644))
	d := startLbrs(t, nd)
	d.waitApplied(t)
}

// nextHops is the router's next hops for the VIP, as director ids.
func (l *ecmpLab) nextHops(t *testing.T) []int {
	t.Helper()
	return ecmplab.ParseNextHops(run(t, l.router, "ip", "route", "show", ecmpVIP+"/32"))
}

// waitHops polls the router's route until its next hops are want and
// returns how long that took.
func (l *ecmpLab) waitHops(t *testing.T, want []int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := l.nextHops(t)
		if slices.Equal(got, want) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			birdc, _ := l.router.Run(context.Background(), commandPath(t, "birdc"), "-s", l.birdSock, "show", "protocols")
			t.Fatalf("router next hops for %s: directors %v, want %v after %v\n%s\n%s", ecmpVIP, got, want, limit,
				run(t, l.router, "ip", "route"), birdc)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pin sends everything the router forwards from the front to the VIP
// through director id alone (a policy rule and table 100, which bird does
// not touch); id 0 removes the pin.
func (l *ecmpLab) pin(t *testing.T, id int) {
	t.Helper()
	l.router.Run(context.Background(), "ip", "rule", "del", "pref", "100")
	if id == 0 {
		return
	}
	run(t, l.router, "ip", "route", "replace", ecmpVIP+"/32", "via", fmt.Sprintf("10.9.0.%d", id), "table", "100")
	run(t, l.router, "ip", "rule", "add", "pref", "100", "iif", "eth0", "lookup", "100")
}

// ecmpConn is one IPVS connection entry: client source port, state, real server.
type ecmpConn = ecmplab.Conn

// conns lists the director's IPVS connections from the client.
func (d *ecmpDirector) conns(t *testing.T) map[int]ecmpConn {
	t.Helper()
	return ecmplab.ParseConns(run(t, d.ns, "ipvsadm", "-Lnc"))
}

// carrier returns the director whose IPVS holds an ESTABLISHED connection
// from the client's port, waiting for it up to settle.
func (l *ecmpLab) carrier(t *testing.T, port int, not ...*ecmpDirector) *ecmpDirector {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		for _, d := range l.directors {
			if slices.Contains(not, d) || d.lbd.exited() {
				continue
			}
			if c, ok := d.conns(t)[port]; ok && c.State == "ESTABLISHED" {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no director holds an ESTABLISHED connection from port %d", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dialFrom connects from the client's fixed source port to the VIP.
func (l *ecmpLab) dialFrom(ctx context.Context, port int) (*net.TCPConn, error) {
	return l.tp.Dial(ctx, port)
}

// openFlows opens count connections from source ports base, base+1, ...
// with one request each, and returns who answered each port and a func
// that resets them all (see openHeld).
func (l *ecmpLab) openFlows(t *testing.T, base, count int) (map[int]string, func()) {
	t.Helper()
	held, reset := l.openHeld(t, base, count)
	answers := map[int]string{}
	for p, h := range held {
		answers[p] = h.server
	}
	return answers, reset
}

// openHeld opens count connections from source ports base, base+1, ...
// with one request each, and returns them by port (each with who answered)
// and a func that resets them all (linger 0: no TIME_WAIT keeps a port, so
// the same 5-tuple can come again at once). Open, the directors' IPVS
// tables hold them ESTABLISHED while they are counted.
// A closing socket's last ACK may leave without the socket's hash (see
// buildECMPLab) and take another director, where sloppy_tcp would make a
// second entry.
func (l *ecmpLab) openHeld(t *testing.T, base, count int) (map[int]*heldConn, func()) {
	t.Helper()
	held := map[int]*heldConn{}
	var open []*net.TCPConn
	reset := func() {
		for _, c := range open {
			c.SetLinger(0)
			c.Close()
		}
		open = nil
	}
	t.Cleanup(reset)
	for p := base; p < base+count; p++ {
		ctx, cancel := context.WithTimeout(t.Context(), settle)
		c, err := l.dialFrom(ctx, p)
		cancel()
		if err != nil {
			t.Fatalf("connection from port %d: %v", p, err)
		}
		open = append(open, c)
		h := &heldConn{c: c, br: bufio.NewReader(c)}
		if h.server, err = h.get(); err != nil {
			t.Fatalf("request from port %d: %v", p, err)
		}
		held[p] = h
	}
	return held, reset
}

// throughEach opens connections from source ports base..base+count-1
// through each director in turn (the router's route pinned to it), one
// request each, and returns who answered each port through d1, d2, d3. It
// requires each answer to come from the real server the pinned director's
// IPVS entry names.
func (l *ecmpLab) throughEach(t *testing.T, base, count int) map[int][]string {
	t.Helper()
	got := map[int][]string{}
	for _, d := range l.directors {
		l.pin(t, d.id)
		open, reset := l.openFlows(t, base, count)
		conns := d.conns(t)
		reset()
		for p := base; p < base+count; p++ {
			if c, ok := conns[p]; !ok || l.webs[c.Dest] != open[p] {
				t.Errorf("port %d pinned to d%d: d%d's IPVS entry %+v (present %v), answered by %s", p, d.id, d.id, c, ok, open[p])
			}
			got[p] = append(got[p], open[p])
		}
	}
	l.pin(t, 0)
	return got
}

var ecmpDestRE = regexp.MustCompile(`(?m)^\s+->\s+(10\.9\.0\.\d+):80\s`)

// dests lists the real servers (names) of the director's VIP service.
func (d *ecmpDirector) dests(t *testing.T, l *ecmpLab) []string {
	t.Helper()
	var out []string
	for _, m := range ecmpDestRE.FindAllStringSubmatch(run(t, d.ns, "ipvsadm", "-Ln", "-t", ecmpVIP+":80"), -1) {
		out = append(out, l.webs[m[1]])
	}
	slices.Sort(out)
	return out
}

// waitDests waits until every director's service lists exactly want.
func (l *ecmpLab) waitDests(t *testing.T, want []string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		done := true
		var got [][]string
		for _, d := range l.directors {
			ds := d.dests(t, l)
			got = append(got, ds)
			done = done && slices.Equal(ds, want)
		}
		if done {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("the directors' real servers after %v: %v, want %v each", limit, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// flow is a long download over one connection: a request every 20 ms on a
// keep-alive connection, each answer the real server's name; every answer
// time is kept.
type flow struct {
	h    *heldConn
	port int
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	at   []time.Time
	errs []error
	srv  map[string]int
}

func (l *ecmpLab) startFlow(t *testing.T, port int) *flow {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), settle)
	defer cancel()
	c, err := l.dialFrom(ctx, port)
	must(t, err)
	t.Cleanup(func() { c.Close() })
	f := &flow{h: &heldConn{c: c, br: bufio.NewReader(c)}, port: port, stop: make(chan struct{}), srv: map[string]int{}}
	if f.h.server, err = f.h.get(); err != nil {
		t.Fatalf("first request of the flow: %v", err)
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			select {
			case <-f.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			got, err := f.h.get()
			f.mu.Lock()
			if err != nil {
				f.errs = append(f.errs, err)
				f.mu.Unlock()
				return
			}
			f.at = append(f.at, time.Now())
			f.srv[got]++
			f.mu.Unlock()
		}
	}()
	t.Cleanup(f.end)
	return f
}

func (f *flow) end() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
}

// answeredAfter waits until the flow has answered n requests after since
// (failing on an error) and returns the time of the first of them.
func (f *flow) answeredAfter(t *testing.T, since time.Time, n int) time.Time {
	t.Helper()
	deadline := time.Now().Add(3 * settle)
	for {
		f.mu.Lock()
		var after []time.Time
		for _, a := range f.at {
			if a.After(since) {
				after = append(after, a)
			}
		}
		errs := slices.Clone(f.errs)
		f.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("the flow from port %d broke: %v", f.port, errs)
		}
		if len(after) >= n {
			return after[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the flow from port %d answered %d requests in %v after the fault, want %d", f.port, len(after), 3*settle, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitBroken waits for the flow's request to fail and returns the error.
func (f *flow) waitBroken(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		errs := slices.Clone(f.errs)
		f.mu.Unlock()
		if len(errs) > 0 {
			return errs[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// gapAround returns the longest time the flow went without an answer,
// from its last answer before since to its latest answer, and the time of
// the answer that ended it.
func (f *flow) gapAround(since time.Time) (time.Duration, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var gap time.Duration
	var end time.Time
	for i := 1; i < len(f.at); i++ {
		if f.at[i].After(since) && f.at[i].Sub(f.at[i-1]) > gap {
			gap, end = f.at[i].Sub(f.at[i-1]), f.at[i]
		}
	}
	return gap, end
}

// reqLoad is a client making requests continuously: each worker opens a new
// connection (a fresh source port, so the router spreads them over the
// directors) for one request, then the next after 10 ms.
type reqLoad struct {
	stop  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	at    []time.Time // answers
	fails []failedReq
}

// failedReq is a request of reqLoad that failed.
type failedReq struct {
	start, at time.Time
	err       error
}

func (f failedReq) String() string {
	return fmt.Sprintf("started %s, failed %s: %v", f.start.Format("15:04:05.000"), f.at.Format("15:04:05.000"), f.err)
}

func (l *ecmpLab) startLoad(t *testing.T, workers int) *reqLoad {
	t.Helper()
	ld := &reqLoad{stop: make(chan struct{})}
	for range workers {
		c := newHTTPClient(l.client, settle)
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			for {
				select {
				case <-ld.stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				start := time.Now()
				_, err := get(c, "http://"+ecmpVIP+"/")
				ld.mu.Lock()
				now := time.Now() // under the lock: at stays in order
				if err != nil {
					ld.fails = append(ld.fails, failedReq{start: start, at: now, err: err})
				} else {
					ld.at = append(ld.at, now)
				}
				ld.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() { ld.end() })
	return ld
}

// waitAnswers waits until the client has had n answers after since.
func (ld *reqLoad) waitAnswers(t *testing.T, since time.Time, n int) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		ld.mu.Lock()
		i, _ := slices.BinarySearchFunc(ld.at, since, func(a, b time.Time) int { return a.Compare(b) })
		got := len(ld.at) - i
		ld.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client had %d answers in %v, want %d", got, settle, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// end stops the client and returns the number of answers and the failed
// requests.
func (ld *reqLoad) end() (int, []failedReq) {
	select {
	case <-ld.stop:
	default:
		close(ld.stop)
	}
	ld.wg.Wait()
	ld.mu.Lock()
	defer ld.mu.Unlock()
	return len(ld.at), slices.Clone(ld.fails)
}
