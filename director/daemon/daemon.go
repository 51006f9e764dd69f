// Package daemon composes lbd: it loads lbd.yaml and runs the IPVS
// reconciler and manager, the health-check scheduler, the VRRP routers, the
// control socket and the Prometheus endpoint, and applies reloads as a diff
// (only what changed is written, restarted or re-subscribed).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel"
	"github.com/lvsd/lb/director/metrics"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/internal/logging"
	"github.com/lvsd/lb/vrrp"
)

// Kernel is what the daemon needs of IPVS: the director's Kernel, and
// optionally director.SyncDaemons for ipvs.sync_daemon.
type Kernel = director.Kernel

// Options tune a Daemon; every field is optional.
type Options struct {
	// LogFormat ("text" or "json") and LogLevel override the file's.
	LogFormat, LogLevel string
	// LogOutput receives the logs; default os.Stderr.
	LogOutput io.Writer
	// Kernel replaces the real IPVS (kernel.Open); tests pass a fake.
	Kernel Kernel
	// Sysctls replaces kernel.Sysctl{} (only used with the real kernel
	// unless set).
	Sysctls director.Sysctls
	// VRRPEnv, if set, builds the seams of each VRRP router (default: the
	// Linux ones, in the namespace of the goroutine running Run).
	VRRPEnv func(log *slog.Logger) (vrrp.Env, error)
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
}

// Daemon is a running (or ready to run) lbd.
type Daemon struct {
	path  string
	opts  Options
	log   *slog.Logger
	level *slog.LevelVar

	kern      Kernel
	closeKern func() error
	rec       *director.Reconciler
	mgr       *director.Manager
	sched     *healthcheck.Scheduler
	agg       *healthAgg
	status    *StatusSource
	started   time.Time

	runCtx context.Context // set by Run

	reloadMu sync.Mutex // serializes reloads

	mu         sync.Mutex // guards what follows
	cfg        *config.Director
	lastReload time.Time
	quorum     map[table.ServiceKey][2][]string // up, down commands
	comps      map[string]*runningComp
	trans      map[transKey]uint64
	vrrpErr    map[string]string
}

type transKey struct{ instance, to string }

type runningComp struct {
	comp   Component
	router *vrrp.Router
	cancel context.CancelFunc
	done   chan struct{}
}

// New loads the configuration at cfgPath and prepares the daemon: logging,
// the IPVS handle, the reconciler, manager and health scheduler. Nothing is
// written to the kernel before Run. An invalid file gives config.Errors.
func New(cfgPath string, opts Options) (*Daemon, error) {
	cfg, err := config.LoadDirector(cfgPath)
	if err != nil {
		return nil, err
	}
	d := &Daemon{path: cfgPath, opts: opts, cfg: cfg, started: time.Now(),
		comps: map[string]*runningComp{}, trans: map[transKey]uint64{}, vrrpErr: map[string]string{}}
	format := string(cfg.Global.LogFormat)
	if opts.LogFormat != "" {
		format = opts.LogFormat
	}
	lvl := string(cfg.Global.LogLevel)
	if opts.LogLevel != "" {
		lvl = opts.LogLevel
	}
	out := opts.LogOutput
	if out == nil {
		out = os.Stderr
	}
	d.log, d.level, err = logging.New(out, format, lvl)
	if err != nil {
		return nil, err
	}
	if d.opts.Go == nil {
		d.opts.Go = func(f func()) { go f() }
	}
	if d.opts.Notify == nil {
		d.opts.Notify = func(state string) { _, _ = sddaemon.SdNotify(false, state) }
	}

	sysctls := opts.Sysctls
	if opts.Kernel != nil {
		d.kern = opts.Kernel
		d.closeKern = func() error { return nil }
	} else {
		h, err := kernel.Open()
		if err != nil {
			if kernel.IsUnavailable(err) {
				return nil, fmt.Errorf("this kernel has no IPVS (load the ip_vs module: modprobe ip_vs): %w", err)
			}
			return nil, fmt.Errorf("opening IPVS: %w", err)
		}
		d.kern = h
		d.closeKern = h.Close
		if sysctls == nil {
			sysctls = kernel.Sysctl{}
		}
	}
	g := cfg.Global
	d.rec, err = director.NewReconciler(director.ReconcilerConfig{
		Kernel: d.kern, Logger: d.log, Purge: g.PurgeUnmanaged,
		Store:   director.FileStore{Path: filepath.Join(g.StateDir, "ipvs-managed.json")},
		Sysctls: sysctls,
	})
	if err != nil {
		d.closeKern()
		return nil, fmt.Errorf("starting the reconciler: %w", err)
	}
	d.mgr = director.NewManager(director.ManagerConfig{Reconciler: d.rec, Logger: d.log, OnQuorumChange: d.onQuorum})
	d.agg = newHealthAgg(d.mgr, d.log, vrrp.ExecRunner{}.Start)
	hopts := opts.Health
	hopts.Logger = d.log
	hopts.OnTransition = func(t healthcheck.Transition) { d.agg.onTransition(d.ctx(), t) }
	d.sched = healthcheck.NewScheduler(hopts)
	sd, _ := d.kern.(director.SyncDaemons)
	d.status = &StatusSource{Kernel: d.kern, Manager: d.mgr, Daemons: sd}
	return d, nil
}

func (d *Daemon) ctx() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.runCtx == nil {
		return context.Background()
	}
	return d.runCtx
}

// Logger returns the daemon's logger.
func (d *Daemon) Logger() *slog.Logger { return d.log }

// Manager returns the IPVS manager (status, tests).
func (d *Daemon) Manager() *director.Manager { return d.mgr }

// Config returns the configuration in force.
func (d *Daemon) Config() *config.Director {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Run applies the configuration (adopting a matching IPVS table with zero
// writes), starts every part and runs until ctx ends; then it stops VRRP
// (a master sends priority 0 and releases its VIPs), the checks and the
// servers, and leaves the IPVS table in place unless flush_on_stop.
func (d *Daemon) Run(ctx context.Context) (err error) {
	defer d.closeKern()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.mu.Lock()
	d.runCtx = ctx
	cfg := d.cfg
	d.mu.Unlock()

	if err := d.applyIPVS(ctx, cfg, true); err != nil {
		return err
	}
	d.setQuorumCommands(cfg)
	subs := Checks(cfg.VirtualServers)
	d.agg.setSubs(subs, notifyMap(cfg))
	for _, s := range subs {
		if err := d.sched.Add(s.ID, s.Spec, s.Timing); err != nil {
			return fmt.Errorf("adding check %s of %s: %w", s.Name, netipAddrPort(s.Server), err)
		}
	}
	d.ensureSyncDaemon(cfg, "")

	var wg sync.WaitGroup
	goFn := func(f func()) {
		wg.Add(1)
		d.opts.Go(func() { defer wg.Done(); f() })
	}
	schedCtx, stopSched := context.WithCancel(context.Background())
	defer stopSched()
	goFn(func() { _ = d.sched.Run(schedCtx) })
	goFn(func() { d.rec.Run(ctx, cfg.Global.ResyncInterval, nil) })

	for _, c := range Components(&cfg.VRRP) {
		d.startComponent(c)
	}

	srv := control.NewServer(control.ServerConfig{
		Path: cfg.Global.ControlSocket, Group: cfg.Global.ControlGroup,
		Daemon: control.DaemonInfo{PID: os.Getpid(), Version: d.opts.Version, RouterID: cfg.Global.RouterID,
			ConfigFile: d.path, Started: d.started, LastReload: d.started},
		IPVS: d.status, Health: d.status, Checks: checkSource{d}, VRRP: vrrpSource{d},
		Actions: ControlActions{Reconciler: d.rec, ReloadFunc: d.Reload},
		Logger:  d.log,
	})
	ln, err := srv.Listen()
	if err != nil {
		d.stopAll()
		return fmt.Errorf("control socket: %w", err)
	}
	ctlCtx, stopCtl := context.WithCancel(context.Background())
	defer stopCtl()
	goFn(func() {
		if err := srv.Serve(ctlCtx, ln); err != nil && ctlCtx.Err() == nil {
			d.log.Error("control socket stopped", "err", err)
		}
		_ = os.Remove(cfg.Global.ControlSocket)
	})

	var msrv *http.Server
	if addr := cfg.Global.MetricsAddress; addr != "" {
		ml, err := net.Listen("tcp", addr)
		if err != nil {
			d.stopAll()
			stopCtl()
			return fmt.Errorf("metrics listener on %s: %w", addr, err)
		}
		msrv = &http.Server{Handler: metrics.Handler(d.metricsSources()), ReadHeaderTimeout: 10 * time.Second}
		goFn(func() { _ = msrv.Serve(ml) })
		d.log.Info("metrics listening", "address", ml.Addr().String())
	}

	d.log.Info("lbd started", "config", d.path, "services", len(cfg.VirtualServers),
		"checks", len(subs), "vrrp_instances", len(cfg.VRRP.Instances), "control_socket", cfg.Global.ControlSocket)
	d.opts.Notify(sddaemon.SdNotifyReady)

	<-ctx.Done()
	d.opts.Notify(sddaemon.SdNotifyStopping)
	d.log.Info("lbd stopping")
	d.reloadMu.Lock() // no reload during shutdown
	defer d.reloadMu.Unlock()
	d.stopAll()
	stopSched()
	stopCtl()
	if msrv != nil {
		_ = msrv.Close()
	}
	wg.Wait()
	d.mu.Lock()
	flush := d.cfg.Global.FlushOnStop
	d.mu.Unlock()
	if flush {
		res, err := d.rec.Clear(context.Background())
		if err != nil {
			d.log.Error("flush on stop", "err", err)
		} else {
			d.log.Info("flushed managed services on stop", "writes", res.Writes)
		}
	} else {
		d.log.Info("IPVS table left in place")
	}
	d.log.Info("lbd stopped")
	return nil
}

// applyIPVS applies the ipvs settings and the services.
func (d *Daemon) applyIPVS(ctx context.Context, cfg *config.Director, start bool) error {
	// The reconciler logs each setting it changes.
	if _, err := d.rec.ApplySettings(SettingsFromConfig(cfg.IPVS)); err != nil {
		return fmt.Errorf("applying IPVS settings: %w", err)
	}
	specs, err := SpecsFromConfig(cfg.VirtualServers)
	if err != nil {
		return fmt.Errorf("translating virtual servers: %w", err)
	}
	res, err := d.mgr.SetSpecs(ctx, specs)
	if err != nil {
		return fmt.Errorf("applying the IPVS table: %w", err)
	}
	what := "reload"
	if start {
		what = "start"
	}
	d.log.Info("ipvs table applied", "on", what, "writes", res.Writes, "ops", len(res.Ops))
	return nil
}

func notifyMap(cfg *config.Director) map[director.RealServerID]serverNotify {
	m := map[director.RealServerID]serverNotify{}
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		k := ServiceKeyOf(vs)
		for _, rs := range vs.RealServers {
			m[director.RealServerID{Service: k, Address: rs.Address, Port: rs.Port}] = serverNotify{up: rs.NotifyUp, down: rs.NotifyDown}
		}
	}
	return m
}

func (d *Daemon) setQuorumCommands(cfg *config.Director) {
	q := map[table.ServiceKey][2][]string{}
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		q[ServiceKeyOf(vs)] = [2][]string{vs.QuorumUp, vs.QuorumDown}
	}
	d.mu.Lock()
	d.quorum = q
	d.mu.Unlock()
}

// onQuorum runs quorum_up / quorum_down (the Manager's callback).
func (d *Daemon) onQuorum(key table.ServiceKey, up bool) {
	d.mu.Lock()
	cmds := d.quorum[key]
	d.mu.Unlock()
	argv, what := cmds[1], "quorum lost"
	if up {
		argv, what = cmds[0], "quorum up"
	}
	d.log.Warn(what, "service", key.String())
	if len(argv) > 0 {
		if err := (vrrp.ExecRunner{}).Start(argv); err != nil {
			d.log.Error("quorum command failed to start", "service", key.String(), "command", argv, "err", err)
		}
	}
}

// ensureSyncDaemon sets the IPVS sync daemon for the configuration;
// state is the state of the driving instance ("" at start: BACKUP).
func (d *Daemon) ensureSyncDaemon(cfg *config.Director, state string) {
	sdk, ok := d.kern.(director.SyncDaemons)
	if !ok {
		return
	}
	sd := cfg.IPVS.SyncDaemon
	var want *table.Daemon
	if sd != nil {
		role := table.DaemonBackup
		switch {
		case sd.Role == config.SyncMaster:
			role = table.DaemonMaster
		case sd.Role == config.SyncAuto && state == vrrp.StateMaster.String():
			role = table.DaemonMaster
		}
		want = &table.Daemon{State: role, Interface: sd.Interface, SyncID: uint32(sd.SyncID)}
	}
	changes, err := director.EnsureSyncDaemon(sdk, want)
	for _, c := range changes {
		d.log.Info("ipvs sync daemon", "change", c)
	}
	if err != nil {
		d.log.Error("ipvs sync daemon", "err", err)
	}
}

// onVRRP is every router's OnStateChange.
func (d *Daemon) onVRRP(sc vrrp.StateChange) {
	vips := make([]string, len(sc.VIPs))
	for i, v := range sc.VIPs {
		vips[i] = v.String()
	}
	attrs := []any{"instance", sc.Instance, "from", sc.From.String(), "to", sc.To.String(),
		"priority", sc.Priority, "interface", sc.Interface, "vrid", sc.VRID, "vip", strings.Join(vips, ",")}
	if sc.Group != "" {
		attrs = append(attrs, "group", sc.Group)
	}
	d.log.Info("vrrp transition", attrs...)
	d.mu.Lock()
	d.trans[transKey{sc.Instance, sc.To.String()}]++
	cfg := d.cfg
	d.mu.Unlock()
	// Any state but MASTER, STOP included, makes this director a sync
	// backup: like the IPVS table, the daemon outlives lbd, and a director
	// that stopped keeps receiving the master's connections, so that a
	// restarted lbd that takes over carries them on.
	if sd := cfg.IPVS.SyncDaemon; sd != nil && sd.Role == config.SyncAuto && sd.Instance == sc.Instance {
		d.ensureSyncDaemon(cfg, sc.To.String())
	}
}

// Transitions returns the VRRP transitions seen so far, by instance and
// target state.
func (d *Daemon) Transitions() map[string]map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]map[string]uint64{}
	for k, n := range d.trans {
		if out[k.instance] == nil {
			out[k.instance] = map[string]uint64{}
		}
		out[k.instance][k.to] = n
	}
	return out
}

// startComponent builds and runs the router of a VRRP component.
func (d *Daemon) startComponent(c Component) {
	log := d.log.With("component", c.Name)
	opts := vrrp.Options{
		Instances: c.Options.Instances, Scripts: c.Options.Scripts, SyncGroups: c.Options.SyncGroups,
		Logger: log, OnStateChange: d.onVRRP,
	}
	if d.opts.VRRPEnv != nil {
		env, err := d.opts.VRRPEnv(log)
		if err != nil {
			d.setVRRPErr(c.Name, err)
			log.Error("vrrp environment", "err", err)
			return
		}
		opts.Env = env
	}
	r, err := vrrp.New(opts)
	if err != nil {
		d.setVRRPErr(c.Name, err)
		log.Error("vrrp configuration refused", "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	rc := &runningComp{comp: c, router: r, cancel: cancel, done: make(chan struct{})}
	d.mu.Lock()
	d.comps[c.Name] = rc
	delete(d.vrrpErr, c.Name)
	d.mu.Unlock()
	d.opts.Go(func() {
		defer close(rc.done)
		if err := r.Run(ctx); err != nil && ctx.Err() == nil {
			d.setVRRPErr(c.Name, err)
			log.Error("vrrp router stopped", "err", err)
		}
	})
}

func (d *Daemon) setVRRPErr(name string, err error) {
	d.mu.Lock()
	d.vrrpErr[name] = err.Error()
	d.mu.Unlock()
}

// stopComponent stops a running component and waits for its shutdown.
func (d *Daemon) stopComponent(name string) {
	d.mu.Lock()
	rc := d.comps[name]
	delete(d.comps, name)
	delete(d.vrrpErr, name)
	d.mu.Unlock()
	if rc == nil {
		return
	}
	rc.cancel()
	<-rc.done
}

func (d *Daemon) stopAll() {
	d.mu.Lock()
	var names []string
	for n := range d.comps {
		names = append(names, n)
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); d.stopComponent(n) }()
	}
	wg.Wait()
}

// routers returns the running routers sorted by component name.
func (d *Daemon) routers() []*vrrp.Router {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := make([]string, 0, len(d.comps))
	for n := range d.comps {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*vrrp.Router, 0, len(names))
	for _, n := range names {
		out = append(out, d.comps[n].router)
	}
	return out
}

// VRRPStats returns the stats of every running router, merged.
func (d *Daemon) VRRPStats() vrrp.Stats {
	var all vrrp.Stats
	for _, r := range d.routers() {
		s := r.Stats()
		all.Instances = append(all.Instances, s.Instances...)
		all.Groups = append(all.Groups, s.Groups...)
		all.Sockets = append(all.Sockets, s.Sockets...)
	}
	return all
}

// vrrpInstanceStatus is the control socket's view of a running instance.
func vrrpInstanceStatus(in vrrp.InstanceStats) control.VRRPInstance {
	ci := control.VRRPInstance{
		Name: in.Name, Interface: in.Interface, VRID: int(in.VRID), Version: in.Version,
		State: in.State.String(), Priority: int(in.BasePriority), EffectivePriority: int(in.Priority),
		Since: in.LastTransition, SyncGroup: in.Group,
		AdvertsSent: in.AdvertsSent, AdvertsReceived: in.AdvertsReceived,
	}
	for _, p := range in.VIPs {
		ci.VIPs = append(ci.VIPs, p.String())
	}
	for r, n := range in.Drops {
		if n == 0 {
			continue
		}
		if ci.Drops == nil {
			ci.Drops = map[string]uint64{}
		}
		ci.Drops[r.String()] += n
	}
	var reasons []string
	if in.Priority != in.BasePriority {
		reasons = append(reasons, fmt.Sprintf("priority %d -> %d by tracking", in.BasePriority, in.Priority))
	}
	if in.State == vrrp.StateFault {
		reasons = append(reasons, "fault: tracked interface or script down")
	}
	ci.Reason = strings.Join(reasons, "; ")
	return ci
}

// vrrpSource is the control socket's view of VRRP.
type vrrpSource struct{ d *Daemon }

// VRRPStatus implements control.VRRPSource.
func (v vrrpSource) VRRPStatus(ctx context.Context) []control.VRRPInstance {
	st := v.d.VRRPStats()
	cfg := v.d.Config()
	out := make([]control.VRRPInstance, 0, len(st.Instances))
	for _, in := range st.Instances {
		out = append(out, vrrpInstanceStatus(in))
	}
	// Instances whose router could not start still show, in INIT.
	v.d.mu.Lock()
	errs := v.d.vrrpErr
	for comp, msg := range errs {
		for _, name := range strings.Split(comp, ",") {
			in := cfg.VRRP.Instance(name)
			if in == nil {
				continue
			}
			out = append(out, control.VRRPInstance{Name: name, Interface: in.Interface, VRID: in.VirtualRouterID,
				Version: in.Version, State: "INIT", Priority: in.Priority, EffectivePriority: in.Priority,
				Reason: "not running: " + msg})
		}
	}
	v.d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Reload re-reads the configuration file and applies the difference. An
// invalid file changes nothing: every error is logged and returned.
func (d *Daemon) Reload(ctx context.Context) (control.ReloadResult, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	res := control.ReloadResult{ConfigFile: d.path}
	d.opts.Notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	defer d.opts.Notify(sddaemon.SdNotifyReady)

	d.log.Info("reloading", "config", d.path)
	newCfg, err := config.LoadDirector(d.path)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				d.log.Error("reload refused: invalid configuration", "error", e.Error())
			}
		} else {
			d.log.Error("reload refused", "err", err)
		}
		return res, fmt.Errorf("configuration not reloaded, still running the previous one: %w", err)
	}
	old := d.Config()
	plan := PlanReload(old, newCfg)
	res.Changes = plan.Changes

	rctx := d.ctx()
	// IPVS: the manager's diff writes only what changed.
	if _, err := d.rec.ApplySettings(SettingsFromConfig(newCfg.IPVS)); err != nil {
		d.log.Error("applying IPVS settings", "err", err)
	}
	specs, err := SpecsFromConfig(newCfg.VirtualServers)
	if err != nil {
		return res, fmt.Errorf("translating virtual servers: %w", err)
	}
	d.mu.Lock()
	d.cfg = newCfg
	d.lastReload = time.Now()
	d.mu.Unlock()
	d.setQuorumCommands(newCfg)
	// Health: new subscriptions first, so that a real server's verdict is
	// computed on its full set of checks.
	touched := d.agg.setSubs(Checks(newCfg.VirtualServers), notifyMap(newCfg))
	for _, id := range plan.RemoveChecks {
		d.sched.Remove(id)
	}
	for _, s := range plan.AddChecks {
		if err := d.sched.Add(s.ID, s.Spec, s.Timing); err != nil {
			d.log.Error("adding check", "service", s.Server.Service.String(), "server", netipAddrPort(s.Server),
				"check", s.Name, "err", err)
		}
	}
	ar, err := d.mgr.SetSpecs(rctx, specs)
	cr := ControlResult(ar)
	res.Apply = &cr
	if err != nil {
		d.log.Error("applying the IPVS table", "err", err)
	}
	d.agg.refresh(rctx, touched)
	// VRRP: only changed components restart.
	for _, n := range plan.StopComponents {
		d.log.Info("vrrp component stopping for reload", "component", n)
		d.stopComponent(n)
	}
	for _, c := range plan.StartComponents {
		d.startComponent(c)
	}
	if plan.Settings {
		state := ""
		if sd := newCfg.IPVS.SyncDaemon; sd != nil && sd.Role == config.SyncAuto {
			for _, in := range d.VRRPStats().Instances {
				if in.Name == sd.Instance {
					state = in.State.String()
				}
			}
		}
		d.ensureSyncDaemon(newCfg, state)
	}
	if newCfg.Global.LogLevel != old.Global.LogLevel && d.opts.LogLevel == "" {
		if l, err := logging.ParseLevel(string(newCfg.Global.LogLevel)); err == nil {
			d.level.Set(l)
		}
	}
	for _, c := range plan.Changes {
		d.log.Info("reload change", "change", c)
	}
	d.log.Info("reloaded", "config", d.path, "changes", len(plan.Changes), "ipvs_writes", ar.Writes,
		"vrrp_kept", len(plan.KeepComponents), "checks_kept", plan.KeepChecks)
	if err != nil {
		return res, fmt.Errorf("applying the IPVS table: %w", err)
	}
	return res, nil
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}
