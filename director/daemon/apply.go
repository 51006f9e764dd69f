package daemon

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/internal/logging"
)

// errStopping refuses a reload that comes while lbd is stopping.
var errStopping = errors.New("lbd is stopping")

// apply moves the daemon from the configuration in force to next, in one
// order: the IPVS settings; the table (each real server with its checks);
// the check subscriptions; the VRRP components; the sync daemon; the log
// level. Only what differs is written, restarted or re-subscribed.
//
// First the removal guard (guard.go): a configuration that would remove
// every managed service or VRRP instance, or too many, is refused before
// anything is written, unless force.
//
// At start the configuration in force is the empty one, and a failure to
// program IPVS or to add a check stops the start (lbd exits, systemd
// restarts it). On a reload such a failure is logged and returned, and the
// rest is still applied. d.applyMu is held.
//
// IPVS is opened for the first configuration that needs it and closed
// after the one that no longer does (ipvs.go): without it, the settings
// and the table are left out (VRRP-only mode).
//
// A discovery update (discovery.go) comes through here too, as mode
// applyDiscovery: its next is the file in force with the services' last
// discovered members; it changes real servers only, so the removal guard
// (which counts services and VRRP instances) has nothing to say about it:
// the discovery hold rule (max_removal_share) guards it instead.
func (d *Daemon) apply(ctx context.Context, next *config.Director, mode applyMode, force bool) (res control.ReloadResult, err error) {
	start := mode == applyStart
	res = control.ReloadResult{ConfigFile: d.path}
	old := d.Config()
	p, opened, err := d.ipvsFor(next)
	if err != nil {
		d.log.Error("reload refused", "err", err)
		return res, err
	}
	if opened {
		defer func() {
			if d.Config() != next { // refused: nothing changed
				d.closeIPVS(p)
			}
		}()
	}
	if mode != applyDiscovery {
		if err := d.guard(p, old, next, start, force); err != nil {
			return res, err
		}
	}
	plan := PlanApply(old, next)
	if start {
		plan.Changes = nil // a reload's answer and log; at 1,000 x 10 a start's are 11,000 lines of "add"
	}
	specs, err := SpecsFromConfig(next.VirtualServers, plan.Checks, d.trustedServers(p, next, plan.Checks, start))
	if err != nil {
		return res, fmt.Errorf("translating virtual servers: %w", err)
	}
	holdAnnounced(specs, next)
	if !start {
		res.Changes = plan.Changes
	}
	fail := func(what string, err error) error {
		err = fmt.Errorf("%s: %w", what, err)
		if !start {
			d.log.Error(what, "err", err)
		}
		return err
	}
	var errs []error

	if p != nil && NeedsIPVS(next) {
		if _, err := p.rec.ApplySettings(SettingsFromConfig(next.IPVS)); err != nil {
			if start {
				return res, fail("applying IPVS settings", err)
			}
			errs = append(errs, fail("applying IPVS settings", err))
		}
	} else {
		d.warnIgnoredSettings(next)
	}
	d.commit(next, plan.Checks, mode)
	d.scripts.Set(scriptPolicy(next)) // before the FIFO scripts, checks and VRRP scripts run
	d.setNotifier(next)               // before the VRRP components: their first notices
	if opened {
		d.mu.Lock()
		d.ipvs = p
		d.mu.Unlock()
		d.runResync(d.ctx(), p)
	}

	var ar director.Result
	if p != nil {
		if ar, err = d.applyTable(ctx, p, specs, &res, mode); err != nil {
			if start {
				return res, fail("applying the IPVS table", err)
			}
			errs = append(errs, fail("applying the IPVS table", err))
		}
	}

	if err := d.subscribe(plan, start); err != nil {
		return res, err
	}
	for _, n := range plan.StopComponents {
		d.log.Info("vrrp component stopping for reload", "component", n)
		d.stopComponent(n)
	}
	d.applyStatic(oldVRRP(old), &next.VRRP)
	for _, c := range plan.StartComponents {
		d.startComponent(c)
	}
	d.ensureSyncDaemon(next)
	if err := d.applyBGP(ctx, next, start); err != nil { // bgp.go: last, once the table is programmed
		if start {
			return res, fail("starting BGP", err)
		}
		errs = append(errs, fail("applying BGP", err))
	}
	if p != nil && !NeedsIPVS(next) && len(errs) == 0 {
		// The managed services are gone: back to VRRP only.
		d.closeIPVS(p)
		d.log.Info("no virtual servers: IPVS closed, lbd runs VRRP only")
	}
	d.setLevel(next)
	d.report(plan, next, ar, mode)
	return res, errors.Join(errs...)
}

// applyMode is why apply runs: the start, a reload, a discovery update.
type applyMode int

const (
	applyStart applyMode = iota
	applyReload
	applyDiscovery
)

func (m applyMode) String() string {
	return [...]string{"start", "reload", "discovery"}[m]
}

// applyTable applies the table of specs (a reload's answer gets the
// result) and logs what the health of the real servers became.
func (d *Daemon) applyTable(ctx context.Context, p *ipvsPart, specs []director.ServiceSpec, res *control.ReloadResult, mode applyMode) (director.Result, error) {
	changes, ar, err := p.mgr.SetSpecs(ctx, specs)
	if mode != applyStart { // lbctl's answer; a start has none
		cr := ControlResult(ar)
		res.Apply = &cr
	}
	d.logHealthChanges(changes, nil)
	d.dropGoneOverrides(p, mode)
	d.log.Info("ipvs table applied", "on", mode.String(), "writes", ar.Writes, "ops", ar.OpCount())
	d.emitApply(mode.String(), ar, err)
	return ar, err
}

// commit makes next the configuration in force, with its subscriptions
// (a discovery update is not a reload: the last reload's time stays).
func (d *Daemon) commit(next *config.Director, subs []CheckSub, mode applyMode) {
	byID := make(map[healthcheck.ID]subRef, len(subs))
	for _, s := range subs {
		byID[s.ID] = subRef{Server: s.Server, Name: s.Name, Index: s.Index}
	}
	d.mu.Lock()
	d.cfg, d.checks = next, byID
	if mode != applyDiscovery {
		d.lastReload = time.Now()
	}
	d.mu.Unlock()
}

// subscribe removes the checks the plan drops and adds the new ones; a
// check that cannot be added fails a start and is logged on a reload.
func (d *Daemon) subscribe(plan Plan, start bool) error {
	for _, id := range plan.RemoveChecks {
		d.sched.Remove(id)
	}
	for _, s := range plan.AddChecks {
		if err := d.sched.Add(s.ID, s.Spec, s.Timing); err != nil {
			if start {
				return fmt.Errorf("adding check %s of %s: %w", s.Name, serverString(s.Server), err)
			}
			d.log.Error("adding check", "service", s.Server.Service.String(), "server", serverString(s.Server),
				"check", s.Name, "err", err)
		}
	}
	return nil
}

// setLevel follows the file's log level unless the command line set one.
func (d *Daemon) setLevel(cfg *config.Director) {
	if d.opts.LogLevel != "" {
		return
	}
	if l, err := logging.ParseLevel(string(cfg.Global.LogLevel)); err == nil {
		d.level.Set(l)
	}
}

// report logs what an apply did.
func (d *Daemon) report(plan Plan, cfg *config.Director, ar director.Result, mode applyMode) {
	switch mode {
	case applyDiscovery:
		return // applyDiscovered logs it
	case applyStart:
		d.log.Info("lbd started", "config", d.path, "services", len(cfg.VirtualServers),
			"checks", len(plan.Checks), "vrrp_instances", len(cfg.VRRP.Instances), "control_socket", cfg.Global.ControlSocket,
			"vrrp_only", d.ipvsNow() == nil)
		d.ev.Emit(events.Event{Kind: events.KindDaemon, Subject: d.path, Message: fmt.Sprintf("lbd started: %d services, %d checks, %d VRRP instances",
			len(cfg.VirtualServers), len(plan.Checks), len(cfg.VRRP.Instances))})
		return
	}
	for _, c := range plan.Changes {
		d.log.Info("reload change", "change", c)
	}
	d.log.Info("reloaded", "config", d.path, "changes", len(plan.Changes), "ipvs_writes", ar.Writes,
		"vrrp_kept", len(plan.KeepComponents), "checks_kept", plan.KeepChecks, "summary", appliedSummary(plan, ar))
}

// Reload re-reads the configuration file and applies the difference. An
// invalid file, or one the removal guard refuses (unless req.Force),
// changes nothing: every error is logged and returned. SIGHUP reloads with
// the zero request: guarded.
func (d *Daemon) Reload(ctx context.Context, req control.ReloadRequest) (control.ReloadResult, error) {
	if req.DryRun {
		return d.dryRunReload(ctx, req) // dryrun.go: not a reload, not counted
	}
	res, err := d.reload(ctx, req)
	d.countReload(err)
	d.emitReload(res, reloadResult(err), err)
	d.opts.Notify(reloadStatus(reloadResult(err), len(res.Changes), err, time.Now()))
	return res, err
}

// reloadStatus is the STATUS= notification after a reload: systemctl
// status shows it as "Status:" until the next reload, so a refused file's
// reason (file:line) stays in view when the journal lines it also went to
// have scrolled away. One line: the result, its time, the error or the
// number of changes.
func reloadStatus(result string, changes int, err error, at time.Time) string {
	s := fmt.Sprintf("reload %s at %s: %d changes", result, at.Format(time.TimeOnly), changes)
	if err != nil {
		s = fmt.Sprintf("reload %s at %s: %s", result, at.Format(time.TimeOnly), err)
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 400 {
		s = string(r[:399]) + "…"
	}
	return "STATUS=" + s
}

func (d *Daemon) reload(ctx context.Context, req control.ReloadRequest) (control.ReloadResult, error) {
	if d.isStopping() {
		return control.ReloadResult{ConfigFile: d.path}, errStopping
	}
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	if d.isStopping() {
		return control.ReloadResult{ConfigFile: d.path}, errStopping
	}
	d.opts.Notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	defer d.opts.Notify(sddaemon.SdNotifyReady)

	d.log.Info("reloading", "config", d.path)
	next, err := config.LoadDirector(d.path)
	if err != nil {
		d.logRefused(err)
		return control.ReloadResult{ConfigFile: d.path}, fmt.Errorf("configuration not reloaded, still running the previous one: %w", &invalidError{err})
	}
	// The run's context, not the request's: a client that goes away must
	// not leave a reload half applied.
	defer d.mem.settle()
	return d.applyFile(d.ctx(), next, applyReload, req.Force)
}

// invalidError marks a reload whose file could not be read or is invalid.
type invalidError struct{ err error }

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }

// countReload counts a reload by result (metrics.ReloadResults).
func (d *Daemon) countReload(err error) {
	var inv *invalidError
	var ref *RemovalRefused
	res := "failed"
	switch {
	case err == nil:
		res = "applied"
	case errors.As(err, &inv):
		res = "invalid"
	case errors.As(err, &ref):
		res = "refused"
	}
	d.mu.Lock()
	d.reloads[res]++
	d.mu.Unlock()
}

// Reloads returns the reloads so far by result.
func (d *Daemon) Reloads() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.reloads)
}

func (d *Daemon) logRefused(err error) {
	var errs config.Errors
	if !errors.As(err, &errs) {
		d.log.Error("reload refused", "err", err)
		return
	}
	for _, e := range errs {
		d.log.Error("reload refused: invalid configuration", "error", e.Error())
	}
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}
