package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/lvsd/lb/discovery"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/realserver"
)

// registration is lbrs as the seed's AppServer: the node's znode on its
// own ZooKeeper session, kept by a discovery.Registrar.
type registration struct {
	cfg    config.AgentRegister
	format discovery.Format
	reg    *discovery.Registrar
	close  func()
	cancel context.CancelFunc
	done   chan struct{}
	log    *slog.Logger
}

// registrarFor maps the register section onto the registrar's
// configuration; forwarding is the agent's mode (DR or TUN).
func registrarFor(g config.AgentRegister, mode realserver.Mode, log *slog.Logger) (discovery.RegisterConfig, error) {
	f, err := discovery.ParseFormat(g.Format)
	if err != nil {
		return discovery.RegisterConfig{}, err
	}
	m := discovery.Member{Addr: netip.AddrPortFrom(g.Address, uint16(g.Port)), Weight: g.Weight,
		Forwarding: strings.ToUpper(mode.String())}
	if f == discovery.FormatSeed {
		m.Weight, m.Forwarding = 0, ""
	}
	return discovery.RegisterConfig{Path: g.Path, Name: g.Name, Prefix: g.Prefix, Format: f, Member: m, Log: log}, nil
}

// startRegistration opens the session and keeps the node registered in
// the background. An unreachable ensemble is no error: the client keeps
// trying and the registrar registers once a session is up.
func startRegistration(g config.AgentRegister, mode realserver.Mode, log *slog.Logger) (*registration, error) {
	rc, err := registrarFor(g, mode, log)
	if err != nil {
		return nil, err
	}
	conn, kick, err := discovery.Dial(g.ZooKeeper, g.SessionTimeout, log)
	if err != nil {
		return nil, err
	}
	reg, err := discovery.NewRegistrar(conn, kick, rc)
	if err != nil {
		conn.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &registration{cfg: g, format: rc.Format, reg: reg, close: conn.Close, cancel: cancel, done: make(chan struct{}), log: log}
	go func() { defer close(r.done); reg.Run(ctx) }()
	log.Info("register: started; the node is published once a ZooKeeper session is up", "zookeeper", strings.Join(g.ZooKeeper, ","),
		"path", g.Path, "format", g.Format, "address", rc.Member.Addr.String())
	return r, nil
}

// shutdown closes the session (which deletes any node left, at once, and
// fails any request still waiting for a server), then stops registering.
func (r *registration) shutdown() {
	r.close()
	r.cancel()
	<-r.done
}

// stopRegistrar is what the graceful stop needs of the registration.
type stopRegistrar interface {
	SetWeight(w int) error
	Deregister() error
	Status() discovery.RegStatus
}

// gracefulStop is the order of a graceful stop with a registration:
// json: weight 0, drain, delete the node; seed (no weight): delete the
// node (the director removes the destination; established connections go
// on since the VIPs stay), drain. Then restore removes the VIPs. Each step
// is logged with its count and time.
type gracefulStop struct {
	format  discovery.Format
	reg     stopRegistrar
	conns   func() (realserver.VIPConns, error) // the sockets to the VIPs
	timeout time.Duration                       // drain bound
	quiet   time.Duration                       // the drain ends after this long with no new connection (and none left)
	poll    time.Duration
	opWait  time.Duration // bound of one ZooKeeper step (a request waits while no server answers)
	restore func(context.Context) error
	log     *slog.Logger
	now     func() time.Time
	sleep   func(context.Context, time.Duration)
}

func (g gracefulStop) run(ctx context.Context) error {
	start := g.now()
	node := g.reg.Status().Node
	if g.format == discovery.FormatJSON {
		if err := g.bounded(func() error { return g.reg.SetWeight(0) }); err != nil {
			g.log.Warn("stop: setting weight 0 failed; draining anyway", "node", node, "err", err)
		} else {
			g.log.Info("stop: weight 0 published", "node", node, "after", g.now().Sub(start))
		}
		g.drain(ctx, start)
		g.deregister(node, start)
	} else {
		g.deregister(node, start)
		g.drain(ctx, start)
	}
	err := g.restore(ctx)
	g.log.Info("stop: VIPs removed", "after", g.now().Sub(start), "err", err)
	return err
}

func (g gracefulStop) deregister(node string, start time.Time) {
	if err := g.bounded(g.reg.Deregister); err != nil {
		g.log.Warn("stop: deleting the node failed; it goes when the session closes", "node", node, "err", err)
		return
	}
	g.log.Info("stop: node deleted", "node", node, "after", g.now().Sub(start))
}

// bounded runs a ZooKeeper step for at most opWait: a request made while
// no server answers waits for one, and the stop must go on (the session's
// close, or its expiry, takes the node then).
func (g gracefulStop) bounded(step func() error) error {
	done := make(chan error, 1)
	go func() { done <- step() }()
	t := time.NewTimer(g.opWait)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("no answer from ZooKeeper in %v", g.opWait)
	}
}

// drain waits until no connection to the VIPs is left and none has
// arrived for the quiet period (a director that has not applied the
// weight 0, or the removal, yet still sends new ones), or the timeout. The
// quiet period counts from the drain's start, so the director has at
// least that long to apply the change.
func (g gracefulStop) drain(ctx context.Context, start time.Time) {
	t0 := g.now()
	prev, err := g.conns()
	have := err == nil
	n, arrived, lastNew := prev.Established(), 0, t0
	g.log.Info("stop: draining", "connections", n, "quiet", g.quiet, "timeout", g.timeout, "err", err)
	for {
		now := g.now()
		if err == nil && n == 0 && now.Sub(lastNew) >= g.quiet {
			g.log.Info("stop: drained", "connections", 0, "new_connections", arrived, "quiet", now.Sub(lastNew),
				"waited", now.Sub(t0), "after", now.Sub(start))
			return
		}
		if now.Sub(t0) >= g.timeout || ctx.Err() != nil {
			g.log.Warn("stop: drain ended by timeout; going on", "connections", n, "new_connections", arrived,
				"last_new_ago", now.Sub(lastNew), "waited", now.Sub(t0), "err", err)
			return
		}
		wait := min(g.poll, g.timeout-now.Sub(t0))
		if err == nil && n == 0 {
			wait = min(wait, g.quiet-now.Sub(lastNew))
		}
		g.sleep(ctx, wait)
		var cur realserver.VIPConns
		if cur, err = g.conns(); err != nil {
			continue
		}
		if a := realserver.Arrivals(prev, cur); have && a > 0 {
			arrived += a
			lastNew = g.now()
		}
		prev, have, n = cur, true, cur.Established()
	}
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// drainPoll is how often the drain reads the sockets to the VIPs: short,
// so that a short connection is still seen (as TIME_WAIT or closing) and
// counts as an arrival.
const drainPoll = 100 * time.Millisecond

// stopWith builds the graceful stop of this registration over the agent's
// VIPs.
func (r *registration) stopWith(vips []netip.Addr, restore func(context.Context) error) gracefulStop {
	return gracefulStop{format: r.format, reg: r.reg, timeout: r.cfg.DrainTimeout, quiet: r.cfg.DrainQuiet,
		poll: drainPoll, opWait: max(r.cfg.SessionTimeout, 2*time.Second),
		conns: func() (realserver.VIPConns, error) { return realserver.VIPConnsNow(vips) }, restore: restore, log: r.log,
		now: time.Now, sleep: sleepCtx}
}

// describe is the registration's state for a log line.
func describe(st discovery.RegStatus) string {
	switch {
	case st.Registered:
		return fmt.Sprintf("registered %s", st.Node)
	case st.Err != "":
		return "not registered: " + st.Err
	}
	return "not registered (no ZooKeeper session yet)"
}

// pendingRegistration is the registration of a running lbrs: started at
// once when the first apply put the VIPs and sysctls in place, else once a
// resync has (the watcher repairs; the status reads back no difference).
type pendingRegistration struct {
	mu     sync.Mutex
	r      *registration
	cancel context.CancelFunc
	done   chan struct{}
}

// readyPoll is how often a node whose first apply failed is checked.
const readyPoll = time.Second

func registerWhenReady(ctx context.Context, g config.AgentRegister, agent *realserver.Agent, applied bool, log *slog.Logger) *pendingRegistration {
	wctx, cancel := context.WithCancel(ctx)
	p := &pendingRegistration{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for !applied {
			st, err := agent.Status(wctx)
			if err == nil && st.Differs() == 0 {
				break
			}
			log.Info("register: waiting for the VIPs and sysctls to be in place", "differs", st.Differs(), "err", err)
			sleepCtx(wctx, readyPoll)
			if wctx.Err() != nil {
				return
			}
		}
		log.Info("register: VIPs and sysctls in place (READY); registering the node")
		r, err := startRegistration(g, agent.Spec().Mode, log)
		if err != nil {
			log.Error("register: not started", "err", err)
			return
		}
		p.mu.Lock()
		p.r = r
		p.mu.Unlock()
		r.follow(wctx)
	}()
	return p
}

// stop ends the wait (a registration not started yet never starts) and
// returns the registration, nil when none was started.
func (p *pendingRegistration) stop() *registration {
	if p == nil {
		return nil
	}
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.r
}

// follow logs the registration's state and tells systemd (STATUS=) on
// every change, until ctx ends.
func (r *registration) follow(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	last := ""
	for {
		if d := describe(r.reg.Status()); d != last {
			r.log.Info("register: "+d, "path", r.cfg.Path)
			notify(r.log, "STATUS="+d)
			last = d
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
