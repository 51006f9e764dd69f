package vrrp

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvsd/lb/internal/runas"
)

// fakeLAN connects fake transports: a multicast reaches every other
// transport, a unicast the one owning the destination.
type fakeLAN struct {
	mu    sync.Mutex
	ports []*fakeTransport
	cut   map[netip.Addr]bool // hosts whose cable is pulled
}

func newFakeLAN() *fakeLAN { return &fakeLAN{cut: map[netip.Addr]bool{}} }

func (l *fakeLAN) setCut(a netip.Addr, cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut[a] = cut
}

// inject delivers a raw datagram to every port (as a third host would).
func (l *fakeLAN) inject(d Datagram) {
	l.mu.Lock()
	ports := slices.Clone(l.ports)
	l.mu.Unlock()
	for _, p := range ports {
		p.deliver(d)
	}
}

type fakeTransport struct {
	lan    *fakeLAN
	addr   netip.Addr
	in     chan Datagram
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	heard []heardDatagram // what Recv returned, in order
}

// heardDatagram is a datagram Recv handed to the router's reader.
type heardDatagram struct {
	src  netip.Addr
	sent time.Time // Datagram.At: when the sender sent it
	// queued is when the reader came back to Recv for the next one: the
	// router had the datagram in its queue by then (zero: not yet known).
	queued time.Time
}

// port returns the newest transport of the host with address a.
func (l *fakeLAN) port(a netip.Addr) *fakeTransport {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.ports) - 1; i >= 0; i-- {
		if l.ports[i].addr == a {
			return l.ports[i]
		}
	}
	return nil
}

// heardFrom returns what the reader got from src.
func (t *fakeTransport) heardFrom(src netip.Addr) []heardDatagram {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []heardDatagram
	for _, h := range t.heard {
		if h.src == src {
			out = append(out, h)
		}
	}
	return out
}

func (l *fakeLAN) listen(addr netip.Addr) func(TransportConfig) (Transport, error) {
	return func(TransportConfig) (Transport, error) {
		t := &fakeTransport{lan: l, addr: addr, in: make(chan Datagram, 1024), closed: make(chan struct{})}
		l.mu.Lock()
		l.ports = append(l.ports, t)
		l.mu.Unlock()
		return t, nil
	}
}

func (t *fakeTransport) deliver(d Datagram) {
	d.At = time.Now()
	select {
	case t.in <- d:
	case <-t.closed:
	}
}

func (t *fakeTransport) Recv() (Datagram, error) {
	t.mu.Lock()
	if n := len(t.heard); n > 0 && t.heard[n-1].queued.IsZero() {
		t.heard[n-1].queued = time.Now()
	}
	t.mu.Unlock()
	select {
	case d := <-t.in:
		t.mu.Lock()
		t.heard = append(t.heard, heardDatagram{src: d.Src, sent: d.At})
		t.mu.Unlock()
		return d, nil
	case <-t.closed:
		return Datagram{}, errors.New("closed")
	}
}

func (t *fakeTransport) Send(msg []byte, src, dst netip.Addr) error {
	t.lan.mu.Lock()
	cut := t.lan.cut[t.addr]
	ports := slices.Clone(t.lan.ports)
	t.lan.mu.Unlock()
	if cut {
		return errors.New("network is down")
	}
	for _, p := range ports {
		if p == t || t.lan.isCut(p.addr) {
			continue
		}
		if !dst.IsMulticast() && p.addr != dst {
			continue
		}
		select {
		case <-p.closed:
			continue
		default:
		}
		p.deliver(Datagram{Payload: slices.Clone(msg), Src: src, Dst: dst, TTL: 255})
	}
	return nil
}

func (l *fakeLAN) isCut(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cut[a]
}

func (t *fakeTransport) Primary([]netip.Addr) (netip.Addr, error) { return t.addr, nil }

func (t *fakeTransport) Close() error {
	t.once.Do(func() {
		close(t.closed)
		t.lan.mu.Lock()
		t.lan.ports = slices.DeleteFunc(t.lan.ports, func(p *fakeTransport) bool { return p == t })
		t.lan.mu.Unlock()
	})
	return nil
}

// fakeAddrs is a host's address table.
type fakeAddrs struct {
	mu      sync.Mutex
	held    map[netip.Prefix]string // prefix -> label
	adds    int
	removed map[netip.Prefix]time.Time // when each prefix was last removed
	events  chan AddrEvent
	jr      *journal // nil: not journalled
}

func newFakeAddrs() *fakeAddrs {
	return &fakeAddrs{held: map[netip.Prefix]string{}, removed: map[netip.Prefix]time.Time{}, events: make(chan AddrEvent, 16)}
}

func (a *fakeAddrs) Add(v VIP) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.held[v.Prefix] = v.Label
	a.adds++
	a.jr.add("add addr " + v.Prefix.String() + " dev " + v.Device)
	return nil
}

func (a *fakeAddrs) Remove(v VIP) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.held, v.Prefix)
	a.jr.add("del addr " + v.Prefix.String() + " dev " + v.Device)
	a.removed[v.Prefix] = time.Now()
	return nil
}

// removedAt returns when p was last removed (zero: never).
func (a *fakeAddrs) removedAt(p string) time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.removed[netip.MustParsePrefix(p)]
}

func (a *fakeAddrs) Has(v VIP) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.held[v.Prefix]
	return ok, nil
}

func (a *fakeAddrs) has(p string) bool {
	ok, _ := a.Has(VIP{Prefix: netip.MustParsePrefix(p)})
	return ok
}

// removeBehindBack deletes an address as an operator would.
func (a *fakeAddrs) removeBehindBack(p string) {
	pp := netip.MustParsePrefix(p)
	a.mu.Lock()
	delete(a.held, pp)
	a.mu.Unlock()
	a.events <- AddrEvent{Addr: pp.Addr()}
}

func (a *fakeAddrs) addCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.adds
}

func (a *fakeAddrs) Watch(ctx context.Context) (<-chan AddrEvent, error) { return a.events, nil }

// fakeLinks is a host's links.
type fakeLinks struct {
	mu     sync.Mutex
	up     map[string]bool
	events chan LinkEvent
}

func newFakeLinks(names ...string) *fakeLinks {
	l := &fakeLinks{up: map[string]bool{}, events: make(chan LinkEvent, 16)}
	for _, n := range names {
		l.up[n] = true
	}
	return l
}

func (l *fakeLinks) Up(name string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	up, ok := l.up[name]
	if !ok {
		return false, errors.New("no such link")
	}
	return up, nil
}

func (l *fakeLinks) set(name string, up bool) {
	l.mu.Lock()
	l.up[name] = up
	l.mu.Unlock()
	l.events <- LinkEvent{Name: name, Up: up}
}

func (l *fakeLinks) Watch(ctx context.Context) (<-chan LinkEvent, error) { return l.events, nil }

// fakeAnnouncer records announcements.
type fakeAnnouncer struct {
	mu       sync.Mutex
	calls    []string
	prepared []string // Prepare calls, and "announce" at the first Announce
}

func (a *fakeAnnouncer) Prepare(device string, addrs []netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s []string
	for _, ad := range addrs {
		s = append(s, ad.String())
	}
	a.prepared = append(a.prepared, device+" "+strings.Join(s, ","))
	return nil
}

func (a *fakeAnnouncer) preparedCalls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.prepared)
}

func (a *fakeAnnouncer) Announce(device string, addrs []netip.Addr, repeat int, interval time.Duration) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s []string
	for _, ad := range addrs {
		s = append(s, ad.String())
	}
	a.calls = append(a.calls, device+" "+strings.Join(s, ",")+" x"+itoa(repeat))
	if len(a.calls) == 1 {
		a.prepared = append(a.prepared, "announce")
	}
	return nil
}

func (a *fakeAnnouncer) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

// fakeRunner records started commands and answers script runs.
type fakeRunner struct {
	mu      sync.Mutex
	started [][]string
	ran     [][]string
	results map[string]bool // argv[0] -> success
}

func newFakeRunner() *fakeRunner { return &fakeRunner{results: map[string]bool{}} }

func (r *fakeRunner) Start(argv []string, _ runas.Who) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, slices.Clone(argv))
	return nil
}

func (r *fakeRunner) Run(ctx context.Context, argv []string, _ runas.Who, timeout time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ran = append(r.ran, slices.Clone(argv))
	if ok, known := r.results[argv[0]]; known && !ok {
		return errors.New("exit status 1")
	}
	return nil
}

func (r *fakeRunner) set(cmd string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results[cmd] = ok
}

func (r *fakeRunner) commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range append(slices.Clone(r.started), r.ran...) {
		out = append(out, strings.Join(a, " "))
	}
	return out
}

func (r *fakeRunner) startedLines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.started {
		out = append(out, strings.Join(a, " "))
	}
	return out
}

// journal records a host's address, route and rule changes in order.
type journal struct {
	mu  sync.Mutex
	ops []string
}

func (j *journal) add(op string) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ops = append(j.ops, op)
}

// take returns the changes so far and forgets them.
func (j *journal) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.ops
	j.ops = nil
	return out
}

// fakeRoutes is a host's routing tables and rules.
type fakeRoutes struct {
	mu     sync.Mutex
	routes map[string]bool // Route.String()
	rules  map[string]bool // Rule.String()
	jr     *journal
}

func newFakeRoutes(jr *journal) *fakeRoutes {
	return &fakeRoutes{routes: map[string]bool{}, rules: map[string]bool{}, jr: jr}
}

func (f *fakeRoutes) set(m map[string]bool, op, key string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m[key] = on
	if !on {
		delete(m, key)
	}
	f.jr.add(op + " " + key)
}

func (f *fakeRoutes) AddRoute(r Route) error {
	f.set(f.routes, "add route", r.String(), true)
	return nil
}
func (f *fakeRoutes) RemoveRoute(r Route) error {
	f.set(f.routes, "del route", r.String(), false)
	return nil
}
func (f *fakeRoutes) AddRule(r Rule) error { f.set(f.rules, "add rule", r.String(), true); return nil }
func (f *fakeRoutes) RemoveRule(r Rule) error {
	f.set(f.rules, "del rule", r.String(), false)
	return nil
}

// held returns the routes and rules in place, sorted.
func (f *fakeRoutes) held() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.routes {
		out = append(out, "route "+k)
	}
	for k := range f.rules {
		out = append(out, "rule "+k)
	}
	slices.Sort(out)
	return out
}

// fakeHost bundles one host's fakes.
type fakeHost struct {
	addr   netip.Addr
	jr     *journal
	routes *fakeRoutes
	addrs  *fakeAddrs
	links  *fakeLinks
	ann    *fakeAnnouncer
	runner *fakeRunner
	procs  Processes // nil: the router's default (Linux)
	files  Files     // nil: the router's default (Linux)
}

func newFakeHost(lan *fakeLAN, addr string, links ...string) *fakeHost {
	jr := &journal{}
	addrs := newFakeAddrs()
	addrs.jr = jr
	return &fakeHost{
		addr:   netip.MustParseAddr(addr),
		jr:     jr,
		routes: newFakeRoutes(jr),
		addrs:  addrs,
		links:  newFakeLinks(append([]string{"eth0"}, links...)...),
		ann:    &fakeAnnouncer{},
		runner: newFakeRunner(),
	}
}

func (h *fakeHost) env(lan *fakeLAN) Env {
	env := Env{Listen: lan.listen(h.addr), Addresses: h.addrs, Links: h.links, Announcer: h.ann, Runner: h.runner, Routes: h.routes}
	if h.procs != nil {
		env.Processes = h.procs
	}
	if h.files != nil {
		env.Files = h.files
	}
	return env
}
