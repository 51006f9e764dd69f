package vrrp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Router.
type Options struct {
	Instances  []Config
	Scripts    []ScriptConfig
	SyncGroups []SyncGroupConfig
	// Tracked processes and files the instances may follow by name.
	TrackProcesses []ProcessConfig
	TrackFiles     []FileConfig
	Logger         *slog.Logger // default slog.Default()
	// OnStateChange, if set, is called on every instance transition, in
	// order, from the router's goroutine (after its lock is released): it
	// must not block for long.
	OnStateChange func(StateChange)
	// OnNotice, if set, gets every event of keepalived's notify FIFO, in
	// order, from the router's goroutine (after its lock is released): it
	// must not block.
	OnNotice func(Notice)
	// Env holds the system seams; nil fields are filled from LinuxEnv.
	Env Env
	// HandoffWait bounds how long a stopping master keeps its virtual
	// addresses after its priority 0 advert, serving them until another
	// router advertises as master (see Run). Zero means the default,
	// handoffWait of the instance's advert interval; negative releases
	// them right after the advert, keepalived's order.
	HandoffWait time.Duration
	// Serves, if set, says whether this host can serve an instance's
	// addresses now (lbd: its IPVS table has a real server for them). While
	// it says no, a master skips its later gratuitous ARP bursts
	// (garp_master_delay, garp_master_refresh), never the one on taking
	// over nor one asserting itself against a lower priority master. A
	// backup cut off from the master (no carrier lost) takes over, its
	// checks failing too; the heal can come just before its delayed burst,
	// which would point the clients at a director with nothing behind the
	// address until the master's next advert made it step down. It is
	// called from the router's goroutine and must not block.
	Serves func(instance string) bool
	// PeerMonitor runs the BFD sessions of the instances with a bfd
	// section (router_bfd.go); without it they run on VRRP's timers alone.
	PeerMonitor PeerMonitor
}

// StateChange is one instance transition.
type StateChange struct {
	Instance  string
	Group     string
	Interface string
	VRID      uint8
	From, To  State
	Priority  uint8
	VIPs      []netip.Prefix
	At        time.Time
}

// Router runs a set of VRRP instances (keepalived's VRRP process).
type Router struct {
	log     *slog.Logger
	opts    Options
	scripts map[string]ScriptConfig
	set     Set // the checked configuration

	mu     sync.Mutex // guards everything below against Stats
	insts  []*instance
	groups []*group
	socks  []*socket

	env Env
	// ownAnnouncer: the router made env's Announcer (not given in
	// Options.Env), so it closes it when Run returns.
	ownAnnouncer bool
	running      atomic.Bool
	inbox        chan any
	stop         chan struct{} // closed when the loop ends
	scriptS      map[string]*riseFall
	notes        *notifier
	publish      []StateChange // collected under mu, delivered after
	notices      []Notice      // collected under mu, delivered after
	vmacs        []VMACSpec    // created by open, removed when Run returns
	drained      bool          // drain.go: priorities capped at DrainPriority
	loopThread   bool          // Run's goroutine is locked to its thread (the loop runs)
}

type instance struct {
	cfg     Config
	m       Machine
	chk     checker
	sock    *socket
	src     netip.Addr
	dsts    []netip.Addr
	group   *group
	gi      int
	timers  [numTimers]loopTimer
	track   []trackRef
	started bool
	stats   InstanceStats
	logged  bool // address list mismatch already logged
	bfd     map[netip.Addr]*bfdWatch
}

type trackRef struct {
	script  string // or
	iface   string // or
	process string // or
	file    string // a tracked file's path
	weight  int
	reverse bool
	status  trackStatus
	value   int64 // a file's number
}

type loopTimer struct {
	t   *time.Timer
	gen uint64
}

type socket struct {
	cfg    TransportConfig
	tr     Transport
	byVRID map[uint8]*instance
	stats  SocketStats
}

type group struct {
	cfg     SyncGroupConfig
	members []*instance
	state   State
}

// Loop messages.
type (
	pktMsg struct {
		s *socket
		d Datagram
	}
	timerMsg struct {
		in  *instance
		t   Timer
		gen uint64
		at  time.Time
		// fired is when the Go timer ran the callback, woke when the
		// precise sleep ended and the message was posted: where a late
		// expiry lost its time (see lateTimer).
		fired, woke time.Time
	}
	scriptMsg struct {
		name string
		ok   bool
	}
	linkMsg LinkEvent
	addrMsg AddrEvent
)

// New validates the configuration and returns a Router; nothing is opened
// before Run.
func New(opts Options) (*Router, error) {
	set, err := opts.checked()
	if err != nil {
		return nil, err
	}
	cfgs := set.Instances
	scripts := make(map[string]ScriptConfig, len(set.Scripts))
	for _, sc := range set.Scripts {
		scripts[sc.Name] = sc
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Router{
		log:     log,
		opts:    opts,
		scripts: scripts,
		set:     set,
		inbox:   make(chan any, 256),
		stop:    make(chan struct{}),
		scriptS: map[string]*riseFall{},
	}
	byName := map[string]*instance{}
	for _, c := range cfgs {
		in := &instance{cfg: c, chk: newChecker(&c)}
		in.stats = InstanceStats{
			Name: c.Name, Interface: c.Interface, VRID: c.vrid(), Version: c.Version, IPv6: c.ipv6(),
			BasePriority: c.basePriority(), Priority: c.basePriority(), State: StateInit,
			Drops: map[DropReason]uint64{},
		}
		for _, v := range c.VIPs {
			in.stats.VIPs = append(in.stats.VIPs, v.Prefix)
		}
		// The instance's own interface is tracked (down = FAULT) unless
		// dont_track_primary.
		if !c.DontTrackPrimary {
			in.track = append(in.track, trackRef{iface: c.Interface, status: trackUp})
		}
		for _, t := range c.TrackInterfaces {
			in.track = append(in.track, trackRef{iface: t.Name, weight: t.Weight, reverse: t.Reverse, status: trackUp})
		}
		for _, t := range c.TrackScripts {
			w := scripts[t.Name].Weight
			if t.Weight != nil {
				w = *t.Weight
			}
			in.track = append(in.track, trackRef{script: t.Name, weight: w})
			if _, ok := r.scriptS[t.Name]; !ok {
				s := scripts[t.Name]
				r.scriptS[t.Name] = &riseFall{rise: s.Rise, fall: s.Fall}
			}
		}
		r.trackedObjects(in, set)
		r.insts = append(r.insts, in)
		byName[c.Name] = in
	}
	for _, gc := range opts.SyncGroups {
		g := &group{cfg: gc, state: StateInit}
		for i, n := range gc.Instances {
			in := byName[n]
			in.group, in.gi = g, i
			in.stats.Group = gc.Name
			g.members = append(g.members, in)
		}
		r.groups = append(r.groups, g)
	}
	return r, nil
}

// Stats returns a snapshot of every instance, group and socket.
func (r *Router) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s Stats
	for _, in := range r.insts {
		is := in.stats.clone()
		is.State = in.m.State()
		is.Priority = in.m.Priority()
		is.Master = in.m.MasterAddr()
		is.Source = in.src
		s.Instances = append(s.Instances, is)
	}
	for _, g := range r.groups {
		gs := GroupStatus{Name: g.cfg.Name, State: g.state}
		for _, in := range g.members {
			gs.Instances = append(gs.Instances, in.cfg.Name)
		}
		s.Groups = append(s.Groups, gs)
	}
	for _, k := range r.socks {
		ks := k.stats
		ks.Drops = make(map[DropReason]uint64, len(k.stats.Drops))
		for rr, n := range k.stats.Drops {
			ks.Drops[rr] = n
		}
		s.Sockets = append(s.Sockets, ks)
	}
	return s
}

// Run opens the sockets, starts the instances and runs until ctx is done;
// then it stops them (a master sends a priority 0 advert and releases its
// addresses once the backup has taken over, see handoff; STOP notify
// scripts get up to a second), closes everything and returns. Sockets are
// opened in the calling goroutine's network namespace.
func (r *Router) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("vrrp: Run called twice")
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		close(r.stop) // from now on nothing waits on the loop
		cancel()
		r.closeSockets()
		wg.Wait()
		r.removeVMACs()
		if c, ok := r.env.Announcer.(io.Closer); ok && r.ownAnnouncer {
			c.Close()
		}
		if r.notes != nil {
			r.notes.close()
		}
	}()
	if err := r.fillEnv(); err != nil {
		return err
	}
	r.fillVMACs()
	r.notes = newNotifier(r.env.Runner, r.log)
	if err := r.open(); err != nil {
		return err
	}
	r.prepareAnnouncer()
	for _, k := range r.socks {
		wg.Add(1)
		go func() { defer wg.Done(); r.read(wctx, k) }()
	}

	// Watch before reading the initial link states so that no change is lost.
	links, err := r.env.Links.Watch(wctx)
	if err != nil {
		return fmt.Errorf("vrrp: watching links: %w", err)
	}
	addrs, err := r.env.Addresses.Watch(wctx)
	if err != nil {
		return fmt.Errorf("vrrp: watching addresses: %w", err)
	}
	wg.Add(2)
	go func() { defer wg.Done(); forward(wctx, r, links, func(e LinkEvent) any { return linkMsg(e) }) }()
	go func() { defer wg.Done(); forward(wctx, r, addrs, func(e AddrEvent) any { return addrMsg(e) }) }()

	r.mu.Lock()
	for _, in := range r.insts {
		for i := range in.track {
			t := &in.track[i]
			if t.iface == "" {
				continue
			}
			up, err := r.env.Links.Up(t.iface)
			if err != nil {
				r.log.Warn("vrrp: tracked interface state unknown, taking it as down", "instance", in.cfg.Name, "interface", t.iface, "err", err)
			}
			t.status = trackDown
			if up {
				t.status = trackUp
			}
		}
	}
	now := time.Now()
	for _, in := range r.insts {
		r.retrack(in, now)
		r.startBFD(in)
	}
	r.mu.Unlock()
	r.deliver()
	defer r.stopBFD()

	for name := range r.scriptS {
		s := r.scripts[name]
		wg.Add(1)
		go func() { defer wg.Done(); r.runScript(wctx, s) }()
	}
	if err := r.startTrackers(wctx, &wg); err != nil {
		return err
	}

	restore, err := raiseLoopPriority()
	if err != nil {
		r.log.Debug("vrrp: event loop priority unchanged", "err", err)
	}
	defer restore()
	// From here on the loop runs locked to this thread (see execute).
	r.loopThread = true
	r.loop(ctx)
	return nil
}

// loop handles the inbox until ctx is done, then shuts the instances down.
func (r *Router) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			r.shutdown()
			return
		case m := <-r.inbox:
			start := time.Now()
			r.handle(m)
			// A message that holds the loop delays every timer and advert
			// behind it.
			if d := time.Since(start); d > slowAction {
				r.log.Warn("vrrp: event loop busy", "message", fmt.Sprintf("%T", m), "took", d)
			}
		}
	}
}

func (r *Router) fillEnv() error {
	r.env = r.opts.Env
	needRoutes := false
	for _, in := range r.insts {
		needRoutes = needRoutes || in.cfg.hasRoutes()
	}
	if r.env.Listen != nil && r.env.Addresses != nil && r.env.Links != nil && r.env.Announcer != nil && r.env.Runner != nil &&
		(r.env.Routes != nil || !needRoutes) {
		return nil
	}
	lx, err := LinuxEnv(r.log)
	if err != nil {
		return err
	}
	if r.env.Listen == nil {
		r.env.Listen = lx.Listen
	}
	if r.env.Addresses == nil {
		r.env.Addresses = lx.Addresses
	}
	if r.env.Links == nil {
		r.env.Links = lx.Links
	}
	if r.env.Announcer == nil {
		r.env.Announcer = lx.Announcer
		r.ownAnnouncer = true
	}
	if r.env.Runner == nil {
		r.env.Runner = lx.Runner
	}
	if r.env.Routes == nil {
		r.env.Routes = lx.Routes
	}
	return nil
}

// fillVMACs fills the VMACs seam when an instance needs it.
func (r *Router) fillVMACs() {
	if r.env.VMACs != nil {
		return
	}
	for _, in := range r.insts {
		if in.cfg.VMAC.Enabled {
			r.env.VMACs = LinuxVMACs{}
			return
		}
	}
}

// open opens one socket per interface and family and resolves each
// instance's source and destinations.
func (r *Router) open() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	type key struct {
		iface string
		six   bool
	}
	if err := r.createVMACs(); err != nil {
		return err
	}
	socks := map[key]*socket{}
	for _, in := range r.insts {
		k := key{in.cfg.advertDevice(), in.cfg.ipv6()}
		s := socks[k]
		if s == nil {
			s = &socket{
				cfg:    TransportConfig{Interface: k.iface, IPv6: k.six, SourceInterface: in.cfg.Interface},
				byVRID: map[uint8]*instance{},
				stats:  SocketStats{Interface: k.iface, IPv6: k.six, Drops: map[DropReason]uint64{}},
			}
			socks[k] = s
			r.socks = append(r.socks, s)
		}
		if len(in.cfg.UnicastPeers) == 0 {
			s.cfg.Multicast = true
		}
		s.byVRID[in.cfg.vrid()] = in
		in.sock = s
	}
	for _, s := range r.socks {
		tr, err := r.env.Listen(s.cfg)
		if err != nil {
			return fmt.Errorf("vrrp: opening VRRP socket on %s: %w", s.cfg.Interface, err)
		}
		s.tr = tr
	}
	for _, in := range r.insts {
		in.src = in.cfg.SourceAddr
		if !in.src.IsValid() {
			var vips []netip.Addr
			for _, v := range in.cfg.heldAddrs() {
				vips = append(vips, v.Prefix.Addr())
			}
			src, err := in.sock.tr.Primary(vips)
			if err != nil {
				return fmt.Errorf("vrrp: instance %s: no source address on %s: %w", in.cfg.Name, in.cfg.Interface, err)
			}
			in.src = src
		}
		in.dsts = in.cfg.UnicastPeers
		if len(in.dsts) == 0 {
			in.dsts = []netip.Addr{MulticastGroup(in.cfg.ipv6())}
		}
		c := in.cfg
		in.m = NewMachine(Params{
			Version:        uint8(c.Version),
			Priority:       c.basePriority(),
			AdvertInterval: c.AdvertInterval,
			Preempt:        !c.NoPreempt,
			PreemptDelay:   c.PreemptDelay,
			InitialMaster:  c.InitialState == StartMaster,
			Local:          in.src,
			InGroup:        in.group != nil,
			GARP:           c.GARP,
		})
		in.stats.Source = in.src
	}
	return nil
}

// announcePreparer is an Announcer that can open its sockets before the
// first takeover needs them (keepalived opens its gratuitous ARP channel
// at start): opening a packet socket and looking the device up took tens
// of milliseconds of the first takeover, between the advert and the ARPs.
type announcePreparer interface {
	Prepare(device string, addrs []netip.Addr) error
}

// prepareAnnouncer opens the announcer's sockets for every VIP device.
func (r *Router) prepareAnnouncer() {
	p, ok := r.env.Announcer.(announcePreparer)
	if !ok {
		return
	}
	byDev := map[string][]netip.Addr{}
	var devs []string
	r.mu.Lock()
	for _, in := range r.insts {
		for _, v := range in.cfg.heldAddrs() {
			if v.Device == "lo" {
				continue // never announced
			}
			if _, ok := byDev[v.Device]; !ok {
				devs = append(devs, v.Device)
			}
			byDev[v.Device] = append(byDev[v.Device], v.Prefix.Addr())
		}
	}
	r.mu.Unlock()
	for _, d := range devs {
		if err := p.Prepare(d, byDev[d]); err != nil {
			// The first announcement opens them, or says why.
			r.log.Debug("vrrp: opening the announcement sockets ahead", "device", d, "err", err)
		}
	}
}

func (r *Router) closeSockets() {
	for _, s := range r.socks {
		if s.tr != nil {
			s.tr.Close()
		}
	}
}

// post hands a message to the loop; false once the loop has ended.
func (r *Router) post(m any) bool {
	select {
	case r.inbox <- m:
		return true
	case <-r.stop:
		return false
	}
}

func forward[E any](ctx context.Context, r *Router, ch <-chan E, wrap func(E) any) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			if !r.post(wrap(e)) {
				return
			}
		}
	}
}

func (r *Router) read(ctx context.Context, s *socket) {
	for {
		r.mu.Lock()
		tr := s.tr // replaced when a vmac is made again (router_vmac.go)
		r.mu.Unlock()
		d, err := tr.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("vrrp: receive failed", "interface", s.cfg.Interface, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if !r.post(pktMsg{s, d}) {
			return
		}
	}
}

func (r *Router) runScript(ctx context.Context, s ScriptConfig) {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		err := r.env.Runner.Run(ctx, s.Command, s.Who(), s.Timeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			r.log.Debug("vrrp: script failed", "script", s.Name, "err", err)
		}
		if !r.post(scriptMsg{s.Name, err == nil}) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Router) handle(m any) {
	r.mu.Lock()
	switch m := m.(type) {
	case pktMsg:
		r.receive(m.s, m.d)
	case timerMsg:
		if m.in.timers[m.t].gen == m.gen && m.in.timers[m.t].t != nil {
			m.in.timers[m.t].t = nil
			r.lateTimer(m, time.Now())
			r.step(m.in, TimerExpired{m.t}, m.at)
		}
	case scriptMsg:
		rf := r.scriptS[m.name]
		if rf != nil && rf.observe(m.ok) {
			r.log.Info("vrrp: script status changed", "script", m.name, "up", rf.status == trackUp)
			now := time.Now()
			for _, in := range r.insts {
				for i := range in.track {
					if in.track[i].script == m.name {
						in.track[i].status = rf.status
					}
				}
				r.retrack(in, now)
			}
		}
	case linkMsg:
		r.vmacEvent(LinkEvent(m))
		now := time.Now()
		st := trackDown
		if m.Up {
			st = trackUp
		}
		for _, in := range r.insts {
			changed := false
			for i := range in.track {
				if in.track[i].iface == m.Name && in.track[i].status != st {
					in.track[i].status = st
					changed = true
				}
			}
			if changed {
				r.log.Info("vrrp: tracked interface changed", "instance", in.cfg.Name, "interface", m.Name, "up", m.Up)
				r.retrack(in, now)
			}
		}
	case addrMsg:
		r.addrEvent(AddrEvent(m))
	case procMsg:
		r.processChanged(m)
	case fileMsg:
		r.fileChanged(m)
	case drainMsg:
		r.setDrained(m.drained)
	case bfdMsg:
		r.bfdEvent(m.in, m.ev)
	}
	r.mu.Unlock()
	r.deliver()
}

// receive dispatches a packet by VRID and runs the instance's checks.
func (r *Router) receive(s *socket, d Datagram) {
	s.stats.Received++
	if len(d.Payload) < headerLen {
		s.stats.Drops[DropLength]++
		return
	}
	in := s.byVRID[d.Payload[1]]
	if in == nil {
		s.stats.Drops[DropVRID]++
		return
	}
	p, reason, ok, mismatch := in.chk.check(d)
	if !ok {
		in.stats.Drops[reason]++
		r.log.Debug("vrrp: packet dropped", "instance", in.cfg.Name, "from", d.Src, "reason", reason)
		return
	}
	in.stats.AdvertsReceived++
	if p.Priority == 0 {
		in.stats.PriorityZeroReceived++
	}
	if mismatch {
		in.stats.AddressListMismatches++
		if !in.logged && !in.cfg.SkipCheckAdvAddr {
			r.log.Warn("vrrp: advert's address list differs from ours", "instance", in.cfg.Name, "from", d.Src, "addresses", p.Addresses)
			in.logged = true
		}
	} else {
		in.logged = false
	}
	if !in.started {
		return
	}
	if p.Priority != 0 {
		r.bfdLearn(in, d.Src)
	}
	r.step(in, AdvertReceived{Priority: p.Priority, Src: d.Src, Interval: p.Interval}, d.At)
}

// retrack recomputes an instance's priority and fault from its tracked
// objects and feeds the changes to its machine, starting it once nothing
// it waits for is pending.
func (r *Router) retrack(in *instance, now time.Time) {
	items := make([]trackItem, len(in.track))
	for i, t := range in.track {
		items[i] = trackItem{weight: t.weight, reverse: t.reverse, status: t.status,
			waitFirst: t.process != "" || t.file != "", file: t.file != "", value: t.value}
	}
	prio, fault, pending := trackResult(in.cfg.basePriority(), items)
	prio = r.drainCap(prio)
	if !in.started {
		if pending {
			return
		}
		in.started = true
		r.step(in, PriorityChanged{prio}, now)
		r.step(in, FaultChanged{fault}, now)
		r.step(in, Startup{}, now)
		return
	}
	if prio != in.m.Priority() {
		r.log.Info("vrrp: priority changed", "instance", in.cfg.Name, "from", in.m.Priority(), "to", prio)
		r.step(in, PriorityChanged{prio}, now)
		r.priorityNotice(in, now)
	}
	if fault != in.m.Fault() {
		r.step(in, FaultChanged{fault}, now)
	}
}

func (r *Router) addrEvent(e AddrEvent) {
	now := time.Now()
	for _, in := range r.insts {
		if in.m.State() != StateMaster {
			continue
		}
		missing := false
		for _, v := range in.cfg.heldAddrs() {
			if !e.Resync && v.Prefix.Addr() != e.Addr {
				continue
			}
			has, err := r.env.Addresses.Has(v)
			if err != nil {
				r.log.Warn("vrrp: checking a virtual address", "instance", in.cfg.Name, "vip", v.Prefix, "err", err)
				continue
			}
			if !has {
				missing = true
			}
		}
		if missing {
			r.log.Warn("vrrp: virtual address removed behind our back, putting it back", "instance", in.cfg.Name)
			r.step(in, AddressRemoved{}, now)
		}
	}
}

// step feeds an event to an instance, carries out the actions and lets its
// sync group react, until the group is settled.
func (r *Router) step(in *instance, ev Event, at time.Time) {
	type work struct {
		in *instance
		ev Event
	}
	queue := []work{{in, ev}}
	for len(queue) > 0 {
		w := queue[0]
		queue = queue[1:]
		next, acts := w.in.m.Step(w.ev, at)
		w.in.m = next
		r.execute(w.in, acts, at)
		g := w.in.group
		if g == nil {
			continue
		}
		ms := make([]Machine, len(g.members))
		for i, o := range g.members {
			ms[i] = o.m
		}
		for _, me := range groupReact(ms, w.in.gi, acts) {
			queue = append(queue, work{g.members[me.member], me.ev})
		}
		if s := groupState(ms); s != g.state && s != StateInit {
			r.log.Info("vrrp: sync group entering state", "group", g.cfg.Name, "state", s)
			g.state = s
			r.notify(g.cfg.Notify, "GROUP", g.cfg.Name, s, 0)
			r.notice(Notice{Group: true, Name: g.cfg.Name, Event: s.String(), At: at})
		}
	}
}

// lateTimerBound is how late a protocol timer may be handled before it is
// logged: the skew of the lowest priority is 3.9 ms, a loaded host's
// wake-ups take a few.
const lateTimerBound = 20 * time.Millisecond

// lateTimer logs a protocol timer handled lateTimerBound or more after its
// time, with where the delay sat: the Go timer's callback (the runtime),
// the precise sleep, or the wait for the event loop (a busy loop).
func (r *Router) lateTimer(m timerMsg, now time.Time) {
	late := now.Sub(m.at)
	if late < lateTimerBound {
		return
	}
	m.in.stats.LateTimers++
	r.log.Warn("vrrp: protocol timer handled late", "instance", m.in.cfg.Name, "timer", m.t, "late", late,
		"callback_late", m.fired.Sub(m.at.Add(-timerLead)), "sleep", m.woke.Sub(m.fired), "loop_wait", now.Sub(m.woke))
}

// slowAction is how long an action may take before it is logged.
const slowAction = 100 * time.Millisecond

func (r *Router) execute(in *instance, acts []Action, at time.Time) {
	for _, a := range acts {
		start := time.Now()
		var u0 threadUsage
		if r.loopThread {
			u0 = readThreadUsage()
		}
		r.do(in, a, at)
		// Netlink and packet writes block the event loop; a slow one delays
		// timers, so it is worth a line, but only past what a loaded host
		// normally takes.
		if d := time.Since(start); d > slowAction {
			attrs := []any{"instance", in.cfg.Name, "action", fmt.Sprintf("%T", a), "took", d}
			if r.loopThread {
				attrs = append(attrs, readThreadUsage().logAttrs(u0)...)
			}
			r.log.Warn("vrrp: slow action", attrs...)
		}
	}
}

func (r *Router) do(in *instance, a Action, at time.Time) {
	{
		switch a := a.(type) {
		case SendAdvert:
			r.sendAdvert(in, a.Priority)
		case SetTimer:
			r.arm(in, a.Timer, at.Add(a.After))
		case StopTimer:
			lt := &in.timers[a.Timer]
			lt.gen++
			if lt.t != nil {
				lt.t.Stop()
				lt.t = nil
			}
		case AddVIPs:
			r.addHeld(in)
		case RemoveVIPs:
			r.removeHeld(in)
		case SendGARP:
			r.garp(in, a.Repeat)
		case RefreshGARP:
			if r.opts.Serves != nil && !r.opts.Serves(in.cfg.Name) {
				r.log.Info("vrrp: later gratuitous ARP burst skipped: this host cannot serve the instance's addresses", "instance", in.cfg.Name)
				in.stats.GARPSkipped++
				break
			}
			r.garp(in, a.Repeat)
		case Transition:
			r.transition(in, a, at)
		case RequestMaster:
			r.log.Info("vrrp: waiting for the sync group to go MASTER", "instance", in.cfg.Name, "group", in.group.cfg.Name)
		case OtherMaster:
			r.otherMaster(in, a, at)
		}
	}
}

func (r *Router) arm(in *instance, t Timer, at time.Time) {
	lt := &in.timers[t]
	lt.gen++
	if lt.t != nil {
		lt.t.Stop()
	}
	gen := lt.gen
	// Go's timers wake with millisecond granularity (the netpoller sleeps
	// in whole milliseconds), and late on a loaded host (their thread has
	// the normal priority): fire timerLead early and sleep the rest in the
	// kernel on a raised thread, so that the protocol's timers are kept to
	// the sub-millisecond.
	lt.t = time.AfterFunc(time.Until(at)-timerLead, func() {
		fired := time.Now()
		preciseSleepUntil(at)
		r.post(timerMsg{in, t, gen, at, fired, time.Now()})
	})
}

func (r *Router) sendAdvert(in *instance, prio uint8) {
	c := &in.cfg
	p := Packet{
		Version:  uint8(c.Version),
		Type:     typeAdvert,
		VRID:     c.vrid(),
		Priority: prio,
		Interval: c.AdvertInterval,
	}
	if pw := c.password(); pw != "" {
		p.AuthType = AuthPass
		p.AuthData = authData(pw)
	}
	for _, v := range c.VIPs {
		p.Addresses = append(p.Addresses, v.Prefix.Addr())
	}
	for _, dst := range in.dsts {
		b, err := p.Marshal(in.src, dst)
		if err != nil {
			r.log.Error("vrrp: encoding an advert", "instance", c.Name, "err", err)
			return
		}
		if err := in.sock.tr.Send(b, in.src, dst); err != nil {
			r.log.Warn("vrrp: sending an advert", "instance", c.Name, "to", dst, "err", err)
			continue
		}
		in.stats.AdvertsSent++
		if prio == 0 {
			in.stats.PriorityZeroSent++
		}
	}
}

func (r *Router) garp(in *instance, repeat int) {
	byDev := map[string][]netip.Addr{}
	var devs []string
	for _, v := range in.cfg.heldAddrs() {
		if v.Device == "lo" {
			continue // never announce an address on lo
		}
		if _, ok := byDev[v.Device]; !ok {
			devs = append(devs, v.Device)
		}
		byDev[v.Device] = append(byDev[v.Device], v.Prefix.Addr())
	}
	interval := in.cfg.GARP.Interval
	for _, d := range devs {
		send := func() {
			if err := r.env.Announcer.Announce(d, byDev[d], repeat, interval); err != nil {
				r.log.Warn("vrrp: sending gratuitous ARP", "instance", in.cfg.Name, "device", d, "err", err)
			}
		}
		if interval > 0 && repeat > 1 {
			go send() // spaced bursts must not hold the loop
		} else {
			send()
		}
	}
}

func (r *Router) transition(in *instance, t Transition, at time.Time) {
	switch {
	case t.To == StateMaster:
		in.stats.BecameMaster++
	case t.From == StateMaster:
		in.stats.ReleasedMaster++
	}
	in.stats.LastTransition = at
	r.log.Info("vrrp: instance entering state", "instance", in.cfg.Name, "state", t.To, "from", t.From, "priority", in.m.Priority())
	if t.To != StateInit {
		r.notify(in.cfg.Notify, "INSTANCE", in.cfg.Name, t.To, in.m.Priority())
		r.notice(Notice{Name: in.cfg.Name, Event: t.To.String(), Priority: in.m.Priority(), At: at})
	}
	var group string
	if in.group != nil {
		group = in.group.cfg.Name
	}
	r.publish = append(r.publish, StateChange{
		Instance: in.cfg.Name, Group: group, Interface: in.cfg.Interface, VRID: in.cfg.vrid(),
		From: t.From, To: t.To, Priority: in.m.Priority(),
		VIPs: slices.Clone(in.stats.VIPs), At: at,
	})
}

// notify runs the state's command, then the generic one with keepalived's
// arguments: TYPE NAME STATE PRIORITY.
func (r *Router) notify(n Notify, kind, name string, s State, prio uint8) {
	var argv []string
	switch s {
	case StateMaster:
		argv = n.Master
	case StateBackup:
		argv = n.Backup
	case StateFault:
		argv = n.Fault
	case StateStopped:
		argv = n.Stop
	}
	wait := s == StateStopped
	if len(argv) > 0 {
		r.notes.add(slices.Clone(argv), n.Who(), wait)
	}
	if len(n.Any) > 0 {
		argv := append(slices.Clone(n.Any), kind, name, s.String(), strconv.Itoa(int(prio)))
		r.notes.add(argv, n.Who(), wait)
	}
}

// deliver hands the collected state changes to the callback, outside the
// lock.
func (r *Router) deliver() {
	r.mu.Lock()
	pub, notes := r.publish, r.notices
	r.publish, r.notices = nil, nil
	r.mu.Unlock()
	if r.opts.OnStateChange != nil {
		for _, c := range pub {
			r.opts.OnStateChange(c)
		}
	}
	if r.opts.OnNotice != nil {
		for _, n := range notes {
			r.opts.OnNotice(n)
		}
	}
}

func (r *Router) shutdown() {
	announced := r.handoff()
	r.mu.Lock()
	now := time.Now()
	for _, in := range r.insts {
		if in.started {
			r.step(in, Shutdown{Announced: announced[in]}, now)
		} else {
			in.m, _ = in.m.Step(Shutdown{}, now)
		}
		for i := range in.timers {
			if in.timers[i].t != nil {
				in.timers[i].t.Stop()
				in.timers[i].t = nil
			}
		}
	}
	r.mu.Unlock()
	r.deliver()
	r.notes.close() // waits for STOP scripts (at most a second each)
}

// handoffFactor times an instance's advert interval is how long a stopping
// master waits for the backup by default: the longest skew time a backup
// can have (priority 1: 255/256 of the interval in VRRPv3, under a second
// in VRRPv2, whose interval is whole seconds) and a margin for a busy host.
const handoffFactor = 1.25

// handoffWait is how long a stopping master of cfg waits for the backup.
func (r *Router) handoffWait(cfg *Config) time.Duration {
	if r.opts.HandoffWait != 0 {
		return r.opts.HandoffWait
	}
	return time.Duration(float64(cfg.AdvertInterval) * handoffFactor)
}

// handoff is the first half of a master's graceful stop (RFC 5798's
// Shutdown: the priority 0 advert). It sends the advert at once but keeps
// the virtual addresses, and so keeps serving them through the IPVS table,
// until another router advertises as master for the instance (the backup
// takes over Skew_Time after the advert) or handoffWait passes; shutdown
// then releases them. keepalived releases them right after the advert: the
// requests clients send during the backup's skew time then reach a
// director without the address, which drops them or, forwarding, holds
// them until the new master answers ARP and delivers them in one late
// burst. It returns the instances whose advert went out.
func (r *Router) handoff() map[*instance]bool {
	r.mu.Lock()
	now := time.Now()
	announced := map[*instance]bool{}
	var wait time.Duration
	for _, in := range r.insts {
		if !in.started || in.m.State() != StateMaster || r.opts.HandoffWait < 0 {
			continue
		}
		r.execute(in, []Action{StopTimer{TimerAdvert}, StopTimer{TimerGARPDelay}, StopTimer{TimerGARPRefresh}, SendAdvert{0}}, now)
		announced[in] = true
		wait = max(wait, r.handoffWait(&in.cfg))
	}
	r.mu.Unlock()
	if len(announced) == 0 {
		return announced
	}
	waiting := maps.Clone(announced)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for len(waiting) > 0 {
		select {
		case <-deadline.C:
			for in := range waiting {
				r.log.Info("vrrp: no router took over within the handoff wait, releasing the virtual addresses", "instance", in.cfg.Name, "wait", wait)
			}
			return announced
		case m := <-r.inbox:
			// Only adverts matter now: the instances are stopping.
			if pm, ok := m.(pktMsg); ok {
				r.mu.Lock()
				if in := r.newMaster(pm); in != nil && waiting[in] {
					r.log.Info("vrrp: another router took over, releasing the virtual addresses", "instance", in.cfg.Name, "master", pm.d.Src)
					delete(waiting, in)
				}
				r.mu.Unlock()
			}
		}
	}
	return announced
}

// newMaster returns the instance for which the packet is a valid advert
// from another router with a priority above 0 (a master), nil otherwise.
func (r *Router) newMaster(m pktMsg) *instance {
	if len(m.d.Payload) < headerLen {
		return nil
	}
	in := m.s.byVRID[m.d.Payload[1]]
	if in == nil {
		return nil
	}
	p, _, ok, _ := in.chk.check(m.d)
	if !ok || p.Priority == 0 || m.d.Src == in.src {
		return nil
	}
	return in
}
