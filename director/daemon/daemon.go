// Package daemon composes lbd: it loads lbd.yaml and runs the IPVS
// reconciler and manager, the health-check scheduler, the VRRP routers, the
// control socket and the Prometheus endpoint.
//
// There is one way to reach a running state: apply moves the daemon from
// the configuration in force to another, in one order (IPVS settings, the
// table, the checks, VRRP, the sync daemon), writing, restarting and
// re-subscribing only what changed. Run is apply from the empty
// configuration plus the listeners; Reload is apply from the running one.
// The daemon is the control socket's one source of status (status.go).
package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/lvsd/lb/bfd"
	"github.com/lvsd/lb/bgp"
	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/alert"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/director/metrics"
	"github.com/lvsd/lb/director/statuspage"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/buildinfo"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/internal/httplimit"
	"github.com/lvsd/lb/internal/runas"
	"github.com/lvsd/lb/vrrp"
)

// Kernel is what the daemon needs of IPVS: the director's Kernel, and
// optionally director.SyncDaemons for ipvs.sync_daemon.
type Kernel = director.Kernel

// Options tune a Daemon; every field is optional.
type Options struct {
	// LogFormat ("text" or "json") and LogLevel override the file's.
	LogFormat, LogLevel string
	// EventHistory is how many events lbd keeps for lbctl events and the
	// status page (default events.DefaultCapacity).
	EventHistory int
	// LogOutput receives the logs; default os.Stderr.
	LogOutput io.Writer
	// Kernel replaces the real IPVS (kernel.Open); tests pass a fake.
	// Like the real one, it is used only while the configuration needs
	// IPVS (NeedsIPVS): in VRRP-only mode the daemon does not touch it.
	Kernel Kernel
	// OpenKernel, if set and Kernel is nil, opens IPVS instead of
	// kernel.Open, each time the daemon needs it (a Kernel that is an
	// io.Closer is closed when it no longer does); an error satisfying
	// kernel.IsUnavailable means the kernel has no IPVS.
	OpenKernel func() (Kernel, error)
	// Sysctls replaces sysctl.Proc{} (only used with the real kernel
	// unless set).
	Sysctls director.Sysctls
	// VRRPEnv, if set, builds the seams of each VRRP router (default: the
	// Linux ones, in the namespace of the goroutine running Run).
	VRRPEnv func(log *slog.Logger) (vrrp.Env, error)
	// BFDConn opens the BFD sockets (default bfd.ListenUDP, in the
	// namespace of the goroutines Go starts).
	BFDConn func() (bfd.Conn, error)
	// Go starts the daemon's long-running goroutines; default the go
	// statement. Tests use it to run them in a network namespace.
	Go func(f func())
	// Notify sends a systemd notification; default sd_notify (a no-op
	// without NOTIFY_SOCKET).
	Notify func(state string)
	// Health tunes the scheduler (Clock, NewChecker...); OnTransition and
	// Logger are set by the daemon.
	Health healthcheck.Options
	// Version is reported on the control socket.
	Version string
	// Build is lbd's build information (lbd run: buildinfo.Read): on the
	// control socket, as lbd_build_info and in the first log line.
	Build buildinfo.Info
	// ForceStart lets the start remove what the removal guard would refuse
	// (lbd run --force); reloads stay guarded.
	ForceStart bool
	// Discovery dials a ZooKeeper ensemble for the virtual servers with a
	// discovery section; default go-zookeeper/zk (discovery.Dial). Tests
	// pass discoverytest's fake.
	Discovery DiscoveryDialer
	// MemoryPolicy sets lbd's soft memory limit, which follows the live
	// heap (memory.go), unless GOMEMLIMIT or GOGC is set; lbd run sets it.
	// It is the process's: tests leave it off.
	MemoryPolicy bool
	// BGPSpeaker makes the BGP speaker when the file has a bgp section
	// (bgp.go); default GoBGP embedded. Tests pass bgptest's fake.
	BGPSpeaker func(log *slog.Logger) bgp.Speaker
	// BGPAddrs puts the announced VIPs on bgp.vip_device; default netlink
	// (vipaddr.go).
	BGPAddrs VIPAddrs
}

// Daemon is a running (or ready to run) lbd.
type Daemon struct {
	path    string
	opts    Options
	log     *slog.Logger
	level   *slog.LevelVar
	started time.Time

	sched *healthcheck.Scheduler
	ev    *events.Log // the event history (events.go)

	loaded *config.Director          // read by New, applied by Run
	mem    *memoryPolicy             // nil: none (Options.MemoryPolicy off, or the environment's)
	exec   func(argv []string) error // starts notify commands (no shell, no wait)
	// scripts runs every configured command: script_user and
	// enable_script_security, set by each apply (scripts.go).
	scripts *runas.Runner

	applyMu sync.Mutex // serializes applies: start, reloads, stop

	mu         sync.Mutex // guards what follows
	runCtx     context.Context
	stopping   bool
	cfg        *config.Director // in force; the empty configuration before Run
	file       *config.Director // the file in force: cfg without the discovered members
	lastReload time.Time
	checks     map[healthcheck.ID]subRef // subscriptions in force
	comps      map[string]*runningComp
	bfd        *bfdMonitor       // the BFD runner the routers share, from the first instance with bfd (bfd.go)
	vrrpErr    map[string]string // components that could not start, and why
	trans      map[transKey]uint64
	reloads    map[string]uint64 // by result, see countReload

	// notify.go: the notifier in force, and the totals of those reloads replaced
	notify    notifierState
	notifyTot alert.Counters

	// ipvs is the IPVS half, nil in VRRP-only mode (ipvs.go): set and
	// cleared under d.applyMu too. pastWrites and pastRepairs are the
	// reconciler counters of the halves closed before.
	ipvs                    *ipvsPart
	pastWrites, pastRepairs uint64

	disc *discoveryState // discovery.go: ZooKeeper connections, watches, members
	bgp  *bgpState       // bgp.go: the speaker, the VIPs on their device, the announcer

	ovr *overrideStore // overrides.go: the operators' drains and maintenances, saved in state_dir
}

// New loads the configuration at cfgPath and prepares the daemon: logging,
// the health scheduler and, if the configuration needs IPVS, the IPVS
// handle, the reconciler and the manager (ipvs.go; without them lbd runs
// VRRP only). Nothing is written to the kernel before Run. An invalid file
// gives config.Errors; a configuration that needs IPVS on a kernel without
// it, errNoIPVS's message.
func New(cfgPath string, opts Options) (*Daemon, error) {
	var mem *memoryPolicy
	if opts.MemoryPolicy {
		mem = newMemoryPolicy() // before the file's YAML tree is built
	}
	cfg, err := config.LoadDirector(cfgPath)
	if err != nil {
		return nil, err
	}
	d := &Daemon{path: cfgPath, opts: opts, loaded: cfg, mem: mem, started: time.Now(), cfg: &config.Director{},
		file: &config.Director{}, disc: newDiscoveryState(), bgp: newBGPState(), checks: map[healthcheck.ID]subRef{}, comps: map[string]*runningComp{}, vrrpErr: map[string]string{},
		trans: map[transKey]uint64{}, reloads: map[string]uint64{}, ev: events.New(opts.EventHistory, nil)}
	if d.log, d.level, err = newLogger(cfg, opts); err != nil {
		return nil, err
	}
	b := opts.Build
	d.log.Info("lbd "+b.Version, "version", b.Version, "revision", b.RevisionString(), "date", b.TimeString(),
		"go", b.GoVersion, "config", cfgPath)
	if d.ovr, err = loadOverrides(cfg.Global.StateDir); err != nil {
		return nil, err
	}
	d.bgp.draining = d.directorDrained() // lbctl drain-director, kept across restarts
	d.scripts = runas.NewRunner(scriptPolicy(cfg))
	d.exec = func(argv []string) error { return vrrp.ExecRunner{Exec: d.scripts}.Start(argv, runas.Who{}) }
	if d.opts.Go == nil {
		d.opts.Go = func(f func()) { go f() }
	}
	if d.opts.Notify == nil {
		d.opts.Notify = func(state string) { _, _ = sddaemon.SdNotify(false, state) }
	}
	if d.opts.BGPSpeaker == nil {
		d.opts.BGPSpeaker = defaultSpeaker
	}
	if d.opts.BGPAddrs == nil {
		d.opts.BGPAddrs = newNetlinkVIPs()
	}
	if d.opts.Discovery == nil {
		d.opts.Discovery = zkDialer(d.log)
	}
	if err := d.startIPVS(); err != nil {
		return nil, err
	}
	hopts := opts.Health
	hopts.Logger = d.log
	if hopts.Exec == nil {
		hopts.Exec = d.scripts
	}
	hopts.OnTransition = func(t healthcheck.Transition) { d.onTransition(d.ctx(), t) }
	d.sched = healthcheck.NewScheduler(hopts)
	return d, nil
}

// ctx is Run's context (for work started by callbacks), or Background
// before Run.
func (d *Daemon) ctx() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.runCtx == nil {
		return context.Background()
	}
	return d.runCtx
}

func (d *Daemon) isStopping() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopping
}

// Logger returns the daemon's logger.
func (d *Daemon) Logger() *slog.Logger { return d.log }

// Config returns the configuration in force.
func (d *Daemon) Config() *config.Director {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Run applies the configuration New loaded (adopting a matching IPVS table
// with zero writes), serves the control socket and the metrics, and runs
// until ctx ends; then it stops VRRP (a master sends priority 0 and
// releases its VIPs), the checks and the servers, and leaves the IPVS table
// in place unless flush_on_stop.
func (d *Daemon) Run(ctx context.Context) error {
	defer func() { // last: IPVS, if open, closes after every goroutine ended
		if p := d.ipvsNow(); p != nil {
			d.closeIPVS(p)
		}
	}()
	defer d.closeBGP(context.Background()) // after the drain: sessions end, VIPs off their device
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.mu.Lock()
	d.runCtx = ctx
	d.mu.Unlock()

	var wg sync.WaitGroup
	goFn := func(f func()) {
		wg.Add(1)
		d.opts.Go(func() { defer wg.Done(); f() })
	}
	// The scheduler outlives ctx until the VRRP routers have stopped.
	schedCtx, stopSched := context.WithCancel(context.Background())
	defer func() { cancel(); stopSched(); wg.Wait() }()
	defer d.stopBFD() // first: every path out has stopped the routers
	goFn(func() { _ = d.sched.Run(schedCtx) })
	if p := d.ipvsNow(); p != nil {
		d.runResync(ctx, p)
	}
	if d.opts.MemoryPolicy {
		goFn(func() { d.mem.run(ctx, d.log) })
	}

	goFn(func() { d.runDiscoveryApplier(ctx) })
	goFn(func() { d.runBGP(ctx) })
	goFn(func() { d.runLeavePoll(ctx) })

	d.mem.settle() // the file's YAML tree is garbage: before the table is built
	d.applyMu.Lock()
	_, err := d.applyFile(ctx, d.loaded, applyStart, d.opts.ForceStart)
	d.applyMu.Unlock()
	d.mem.settle()
	if err != nil {
		d.stopAll()
		d.stopDiscovery()
		return err
	}
	stopListeners, err := d.listen(goFn)
	if err != nil {
		d.stopAll()
		d.stopDiscovery()
		return err
	}
	d.opts.Notify(sddaemon.SdNotifyReady)

	<-ctx.Done()
	d.opts.Notify(sddaemon.SdNotifyStopping)
	d.log.Info("lbd stopping")
	d.ev.Emit(events.Event{Kind: events.KindDaemon, Subject: d.path, Message: "lbd stopping"})
	d.mu.Lock()
	d.stopping = true // reloads from now on are refused
	d.mu.Unlock()
	d.applyMu.Lock() // and one under way finishes first
	defer d.applyMu.Unlock()
	d.withdrawForStop(context.Background()) // first: the routers move the flows while lbd still serves them
	d.stopAll()
	d.stopDiscovery() // the members stay in the table, like the rest
	d.applyStatic(oldVRRP(d.Config()), nil)
	d.closeNotifier() // after the routers' STOP notices
	stopSched()
	d.omega() // after the last check transition
	stopListeners()
	wg.Wait()
	d.leaveTable()
	d.log.Info("lbd stopped")
	return nil
}

// listen starts the control socket and the metrics endpoint; the returned
// function stops both.
func (d *Daemon) listen(goFn func(func())) (stop func(), err error) {
	g := d.Config().Global
	srv := control.NewServer(control.ServerConfig{Path: g.ControlSocket, Group: g.ControlGroup, Daemon: d, Logger: d.log,
		Limits: g.ControlLimits()})
	ln, err := srv.Listen()
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ctlCtx, stopCtl := context.WithCancel(context.Background())
	goFn(func() {
		if err := srv.Serve(ctlCtx, ln); err != nil && ctlCtx.Err() == nil {
			d.log.Error("control socket stopped", "err", err)
		}
		_ = os.Remove(g.ControlSocket)
	})
	if g.MetricsAddress == "" {
		return stopCtl, nil
	}
	ml, err := net.Listen("tcp", g.MetricsAddress)
	if err != nil {
		stopCtl()
		return nil, fmt.Errorf("metrics listener on %s: %w", g.MetricsAddress, err)
	}
	// The same bounds as the control socket: a scraper (or anyone who can
	// reach the port) holds at most 64 connections, idle ones closed.
	// The status page (director/statuspage: read-only unless
	// status_page_token_file enables its admin actions) shares the
	// listener: bound to localhost by default, off with it.
	page, err := d.statusPage(g.StatusPageTokenFile)
	if err != nil {
		stopCtl()
		_ = ml.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics.Handler(d.metricsSources()))
	mux.Handle("/", page)
	msrv, mll := httplimit.Server(ml, mux, httplimit.Limits{})
	goFn(func() { _ = msrv.Serve(mll) })
	d.log.Info("metrics listening", "address", ml.Addr().String())
	return func() { stopCtl(); _ = msrv.Close() }, nil
}

// statusPage is the status page, with its admin actions when tokenFile
// (global.status_page_token_file, read once at start) is set.
func (d *Daemon) statusPage(tokenFile string) (*statuspage.Handler, error) {
	page := statuspage.New(d, nil)
	if tokenFile == "" {
		return page, nil
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("global.status_page_token_file: %w", err)
	}
	if err := page.EnableAdmin(string(b), d); err != nil {
		return nil, fmt.Errorf("global.status_page_token_file %s: %w", tokenFile, err)
	}
	d.log.Info("status page admin actions enabled", "token_file", tokenFile)
	return page, nil
}

// leaveTable clears the managed services when flush_on_stop asks for it;
// by default the table stays, and the connections with it.
func (d *Daemon) leaveTable() {
	p := d.ipvsNow()
	if p == nil {
		return // VRRP only: lbd does not touch IPVS
	}
	if !d.Config().Global.FlushOnStop {
		d.log.Info("IPVS table left in place")
		return
	}
	res, err := p.rec.Clear(context.Background())
	if err != nil {
		d.log.Error("flush on stop", "err", err)
		return
	}
	d.log.Info("flushed managed services on stop", "writes", res.Writes)
}
