package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/discovery"
	"github.com/lvsd/lb/internal/config"
)

// Discovery (issue 15): a virtual server with a discovery section takes
// real servers from a ZooKeeper path. One connection per distinct ensemble
// (servers and session timeout), one discovery.Watcher per service. The
// configuration in force is the file's plus each service's last applied
// members (merge), and a discovery update reaches the kernel through the
// one apply path (apply.go, mode applyDiscovery), under applyMu, coalesced:
// the applier takes the newest members when its turn comes.
//
// The registry lost: the members stay, their checks keep running, nothing
// is flushed; the state is "stale since T" until a full re-list.

// DiscoveryDialer connects to a ZooKeeper ensemble: the connection, a
// channel kicked on every session event, and what closes it.
type DiscoveryDialer func(servers []string, timeout time.Duration) (discovery.Conn, <-chan struct{}, io.Closer, error)

// zkDialer is the real dialer (go-zookeeper/zk), logging to log.
func zkDialer(log *slog.Logger) DiscoveryDialer {
	return func(servers []string, timeout time.Duration) (discovery.Conn, <-chan struct{}, io.Closer, error) {
		c, kick, err := discovery.Dial(servers, timeout, log)
		if err != nil {
			return nil, nil, nil, err
		}
		return c, kick, closerFunc(c.Close), nil
	}
}

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// discoveryState is the daemon's discovery: connections, watches and the
// members last applied per service. Its mutex is never held while applying.
type discoveryState struct {
	mu      sync.Mutex
	conns   map[string]*zkConn
	watches map[table.ServiceKey]*discWatch
	members map[table.ServiceKey]discovery.Set
	// leaving is the members gone from the registry whose destinations
	// stay, at weight 0, until their connections end (discovery_leave.go).
	leaving map[table.ServiceKey]map[netip.AddrPort]*leaver
	events  map[discEventKey]uint64
	kick    chan struct{} // an apply is wanted (buffered 1: coalesced)
	// trusted is the members found serving in the kernel at start
	// (seedFromKernel), until the start's apply is done.
	trusted map[director.RealServerID]bool
}

type discEventKey struct{ Service, Event string }

func newDiscoveryState() *discoveryState {
	return &discoveryState{conns: map[string]*zkConn{}, watches: map[table.ServiceKey]*discWatch{},
		members: map[table.ServiceKey]discovery.Set{}, leaving: map[table.ServiceKey]map[netip.AddrPort]*leaver{}, events: map[discEventKey]uint64{}, kick: make(chan struct{}, 1)}
}

// zkConn is one ensemble's connection, shared by its watches: its session
// kicks are fanned out to each watch.
type zkConn struct {
	key    string
	conn   discovery.Conn
	closer io.Closer
	subs   map[*discWatch]chan struct{}
	stop   context.CancelFunc
	done   chan struct{}
}

// discWatch is one service's watch.
type discWatch struct {
	service table.ServiceKey
	ident   string // what a reload compares: a change re-subscribes
	path    string
	conn    *zkConn
	w       *discovery.Watcher
	cancel  context.CancelFunc
	done    chan struct{}
	started time.Time
	// Guarded by discoveryState.mu: the registry is lost; when the update
	// last logged as held began to be held.
	stale     bool
	heldSince time.Time
	listed    bool // a first list came
}

// watchIdent is what makes a service's watch: the ensemble, the path and
// the member format and defaults, the hold rule. The check templates and
// trust_new are not in it: they apply at merge time, keeping the watch.
func watchIdent(vs *config.VirtualServer) string {
	dc := vs.Discovery
	return fmt.Sprintf("%s|%s|%s|%d|%d|%s|%v|%d", dc.Ensemble(), dc.Path, dc.Format, dc.Port, dc.Weight,
		dc.Forwarding, dc.MaxRemovalShare, len(vs.RealServers))
}

// merge is the configuration in force for the file: each service with
// discovery gets its last applied members after its static real servers
// (a static one at the same address and port wins). file is not changed.
func (d *Daemon) merge(file *config.Director) *config.Director {
	d.disc.mu.Lock()
	members := make(map[table.ServiceKey]discovery.Set, len(d.disc.members))
	for k, s := range d.disc.members {
		members[k] = d.withLeaving(k, s)
	}
	for k := range d.disc.leaving {
		if _, ok := members[k]; !ok {
			members[k] = d.withLeaving(k, nil)
		}
	}
	kernel := d.disc.trusted
	d.disc.mu.Unlock()
	if len(members) == 0 {
		return file
	}
	up := d.upServers()
	next := *file
	next.VirtualServers = slices.Clone(file.VirtualServers)
	for i := range next.VirtualServers {
		vs := &next.VirtualServers[i]
		set, ok := members[ServiceKeyOf(vs)]
		if vs.Discovery == nil || !ok || len(set) == 0 {
			continue
		}
		rss := make([]config.RealServer, 0, len(vs.RealServers)+len(set))
		rss = append(rss, vs.RealServers...)
		key := ServiceKeyOf(vs)
		for _, m := range set {
			rid := director.RealServerID{Service: key, Address: m.Addr.Addr(), Port: m.Addr.Port()}
			trusted := up[rid] || kernel[rid]
			if rs, why := memberServer(vs, m, trusted); why == "" {
				rss = append(rss, rs)
			}
		}
		vs.RealServers = rss
	}
	return &next
}

// upServers is the real servers the health verdict has up now.
func (d *Daemon) upServers() map[director.RealServerID]bool {
	p := d.ipvsNow()
	if p == nil {
		return nil
	}
	out := map[director.RealServerID]bool{}
	for _, r := range p.mgr.Desired().RealServers {
		if r.Up && !r.Sorry {
			out[r.ID] = true
		}
	}
	return out
}

// memberServer makes member m a real server of vs, or says why it cannot
// be one (the static one wins; an address the service cannot have).
// Unless the service trusts new members, a member not yet trusted (not up
// now) gets alpha checks: down, with no write, until its first check
// passes. A member up is trusted: a reload that changes the check
// templates re-checks it without taking it out first.
func memberServer(vs *config.VirtualServer, m discovery.Member, trusted bool) (config.RealServer, string) {
	dc := vs.Discovery
	a, port := m.Addr.Addr(), m.Addr.Port()
	for i := range vs.RealServers {
		if s := &vs.RealServers[i]; s.Address == a && s.Port == port {
			return config.RealServer{}, "a static real server has the same address and port: the static one wins"
		}
	}
	fwd := dc.Forwarding
	if m.Forwarding != "" {
		fwd = config.Forwarding(m.Forwarding)
	}
	switch {
	case config.FamilyOf(a) != vs.Family:
		return config.RealServer{}, fmt.Sprintf("%s member in an %s service", config.FamilyOf(a), vs.Family)
	case config.RealServerAddressProblem(a) != "":
		return config.RealServer{}, "not a real server's address: " + config.RealServerAddressProblem(a)
	case a == vs.Address:
		return config.RealServer{}, "the service's own address"
	case vs.FWMark == 0 && fwd != config.NAT && port != vs.Port:
		return config.RealServer{}, fmt.Sprintf("%s port %d differs from the service port %d (only NAT can change the port)", fwd, port, vs.Port)
	}
	rs := config.RealServer{Address: a, Port: port, Weight: m.Weight, Forwarding: fwd,
		InhibitOnFailure: vs.InhibitOnFailure, SlowStart: vs.SlowStart, Timing: dc.Timing, Checks: dc.Checks,
		Source: path.Join(dc.Path, m.Znode)}
	if fwd == config.TUN {
		rs.Tunnel = &config.Tunnel{Type: config.TunnelIPIP, Checksum: config.ChecksumNone}
	}
	if !dc.TrustNew && !trusted {
		alpha := true
		rs.Alpha = &alpha // down until its first check passes
	}
	return rs, ""
}

// syncDiscovery makes the watches follow file (the file in force): a
// service whose watch is unchanged keeps it (and its connection); a changed
// or removed one is stopped, a new one started; a connection no watch uses
// is closed. d.applyMu is held.
func (d *Daemon) syncDiscovery(ctx context.Context, file *config.Director) {
	want := map[table.ServiceKey]*config.VirtualServer{}
	for i := range file.VirtualServers {
		if vs := &file.VirtualServers[i]; vs.Discovery != nil {
			want[ServiceKeyOf(vs)] = vs
		}
	}
	d.disc.mu.Lock()
	var stop []*discWatch
	for k, w := range d.disc.watches {
		vs, ok := want[k]
		if ok && watchIdent(vs) == w.ident {
			delete(want, k)
			continue
		}
		stop = append(stop, w)
		delete(d.disc.watches, k)
		if !ok {
			delete(d.disc.members, k)
			delete(d.disc.leaving, k)
		}
	}
	d.disc.mu.Unlock()
	// The new watches first: an ensemble that stays keeps its connection.
	keys := make([]table.ServiceKey, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b table.ServiceKey) int { return compareStrings(a.String(), b.String()) })
	for _, k := range keys {
		if err := d.startWatch(ctx, want[k]); err != nil {
			d.log.Error("discovery: cannot subscribe", "service", k.String(), "err", err)
		}
	}
	for _, w := range stop {
		d.log.Info("discovery: unsubscribing", "service", w.service.String(), "path", w.path)
		d.stopWatch(w)
	}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// startWatch subscribes vs to its path, dialing its ensemble if no watch
// uses it yet.
func (d *Daemon) startWatch(ctx context.Context, vs *config.VirtualServer) error {
	dc := vs.Discovery
	key := ServiceKeyOf(vs)
	c, err := d.conn(ctx, dc)
	if err != nil {
		return err
	}
	format, err := discovery.ParseFormat(string(dc.Format))
	if err != nil {
		return err
	}
	dw := &discWatch{service: key, ident: watchIdent(vs), path: dc.Path, conn: c, done: make(chan struct{}),
		started: time.Now()}
	kick := make(chan struct{}, 1)
	w, err := discovery.NewWatcher(c.conn, kick, discovery.WatchConfig{
		Path: dc.Path, Format: format,
		Defaults: discovery.Defaults{Port: dc.Port, Weight: dc.Weight, Forwarding: string(dc.Forwarding)},
		Policy:   discovery.Policy{HoldShare: dc.MaxRemovalShare, Static: len(vs.RealServers)},
		Log:      d.log,
		OnUpdate: func(u discovery.Update) { d.onDiscoveryUpdate(dw, u) },
		OnStale:  func(st discovery.Status) { d.onDiscoveryStale(dw, st) },
	})
	if err != nil {
		d.releaseConn(c, nil)
		return fmt.Errorf("watching %s: %w", dc.Path, err)
	}
	dw.w = w
	wctx, cancel := context.WithCancel(ctx)
	dw.cancel = cancel
	d.disc.mu.Lock()
	c.subs[dw] = kick
	d.disc.watches[key] = dw
	d.disc.mu.Unlock()
	d.log.Info("discovery: subscribing", "service", key.String(), "zookeeper", dc.ZooKeeper, "path", dc.Path,
		"format", string(dc.Format))
	d.opts.Go(func() { defer close(dw.done); w.Run(wctx) })
	return nil
}

// conn returns the connection to dc's ensemble, dialing it if none is open.
func (d *Daemon) conn(ctx context.Context, dc *config.Discovery) (*zkConn, error) {
	key := dc.Ensemble()
	d.disc.mu.Lock()
	c, ok := d.disc.conns[key]
	d.disc.mu.Unlock()
	if ok {
		return c, nil
	}
	conn, kick, closer, err := d.opts.Discovery(dc.ZooKeeper, dc.SessionTimeout)
	if err != nil {
		return nil, fmt.Errorf("connecting to ZooKeeper %v: %w", dc.ZooKeeper, err)
	}
	cctx, stop := context.WithCancel(ctx)
	c = &zkConn{key: key, conn: conn, closer: closer, subs: map[*discWatch]chan struct{}{}, stop: stop,
		done: make(chan struct{})}
	d.disc.mu.Lock()
	d.disc.conns[key] = c
	d.disc.mu.Unlock()
	d.log.Info("discovery: connecting", "zookeeper", dc.ZooKeeper, "session_timeout", dc.SessionTimeout)
	d.opts.Go(func() { defer close(c.done); d.fanOut(cctx, c, kick) })
	return c, nil
}

// fanOut hands each session event to every watch of the connection (never
// blocking: a watch reads the state when it gets to it).
func (d *Daemon) fanOut(ctx context.Context, c *zkConn, kick <-chan struct{}) {
	last := zk.StateUnknown
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		if st := c.conn.State(); st != last {
			d.log.Debug("discovery: session", "zookeeper", c.key, "state", st.String())
			last = st
		}
		d.disc.mu.Lock()
		for _, ch := range c.subs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
		d.disc.mu.Unlock()
	}
}

// stopWatch ends a watch and releases its connection.
func (d *Daemon) stopWatch(w *discWatch) {
	w.cancel()
	<-w.done
	d.releaseConn(w.conn, w)
}

// releaseConn drops w from c and closes c when no watch uses it.
func (d *Daemon) releaseConn(c *zkConn, w *discWatch) {
	d.disc.mu.Lock()
	delete(c.subs, w)
	last := len(c.subs) == 0
	if last {
		delete(d.disc.conns, c.key)
	}
	d.disc.mu.Unlock()
	if !last {
		return
	}
	c.stop()
	<-c.done
	if err := c.closer.Close(); err != nil {
		d.log.Warn("discovery: closing the ZooKeeper connection", "zookeeper", c.key, "err", err)
	}
	d.log.Info("discovery: disconnected", "zookeeper", c.key)
}

// stopDiscovery ends every watch and connection (lbd stopping).
func (d *Daemon) stopDiscovery() {
	d.disc.mu.Lock()
	ws := make([]*discWatch, 0, len(d.disc.watches))
	for _, w := range d.disc.watches {
		ws = append(ws, w)
	}
	clear(d.disc.watches)
	d.disc.mu.Unlock()
	for _, w := range ws {
		d.stopWatch(w)
	}
}

// seedFromKernel runs at start, before any list: the destinations the
// kernel holds for a service with discovery, other than its static real
// servers and sorry server, are taken as its members, trusted (they are
// serving). A restart of lbd, even with ZooKeeper down, so removes
// nothing; the first list then replaces them, as a diff.
func (d *Daemon) seedFromKernel(file *config.Director) {
	p := d.ipvsNow()
	if p == nil || !slices.ContainsFunc(file.VirtualServers, func(vs config.VirtualServer) bool { return vs.Discovery != nil }) {
		return
	}
	kt, err := table.Read(p.kern)
	if err != nil {
		d.log.Warn("discovery: cannot read the kernel's table to keep its members until the first list", "err", err)
		return
	}
	d.disc.mu.Lock()
	defer d.disc.mu.Unlock()
	d.disc.trusted = map[director.RealServerID]bool{}
	for i := range file.VirtualServers {
		vs := &file.VirtualServers[i]
		key := ServiceKeyOf(vs)
		svc, ok := kt.Find(key)
		if vs.Discovery == nil || !ok {
			continue
		}
		set := kernelMembers(vs, svc)
		for _, m := range set {
			d.disc.trusted[director.RealServerID{Service: key, Address: m.Addr.Addr(), Port: m.Addr.Port()}] = true
		}
		if len(set) > 0 {
			d.disc.members[key] = set
			d.log.Info("discovery: the kernel's members kept until the first list", "service", key.String(), "members", len(set))
		}
	}
}

// kernelMembers is the destinations of svc (the kernel's) that are not
// vs's static real servers nor its sorry server, as members in the stable
// order.
func kernelMembers(vs *config.VirtualServer, svc table.Service) discovery.Set {
	known := map[netip.AddrPort]bool{}
	for _, rs := range vs.RealServers {
		known[netip.AddrPortFrom(rs.Address, rs.Port)] = true
	}
	if ss := vs.SorryServer; ss != nil {
		known[netip.AddrPortFrom(ss.Address, ss.Port)] = true
	}
	var set discovery.Set
	for _, kd := range svc.Destinations {
		ap := netip.AddrPortFrom(kd.Address, kd.Port)
		if known[ap] {
			continue
		}
		w := int(kd.Weight)
		if w == 0 {
			w = vs.Discovery.Weight
		}
		fwd := map[table.Forward]string{table.ForwardMasq: "NAT", table.ForwardTunnel: "TUN", table.ForwardRoute: "DR"}[kd.Forward]
		set = append(set, discovery.Member{Addr: ap, Weight: w, Forwarding: fwd})
	}
	slices.SortFunc(set, func(a, b discovery.Member) int {
		if c := a.Addr.Addr().Compare(b.Addr.Addr()); c != 0 {
			return c
		}
		return int(a.Addr.Port()) - int(b.Addr.Port())
	})
	return set
}
