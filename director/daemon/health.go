package daemon

import (
	"context"
	"log/slog"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/healthcheck"
)

// The Manager owns the real servers' health (director.Manager.ReportChecks);
// the daemon only tells it what the checks said, logs, and runs the notify
// commands of keepalived's notify_up, notify_down, quorum_up and
// quorum_down.

// onTransition is the scheduler's callback: one check (maybe shared by
// several subscriptions) changed state.
func (d *Daemon) onTransition(ctx context.Context, t healthcheck.Transition) {
	d.mu.Lock()
	ids := make([]string, 0, len(t.IDs))
	var subs []subRef
	for _, id := range t.IDs {
		if s, ok := d.checks[id]; ok {
			ids = append(ids, string(id))
			subs = append(subs, s)
		}
	}
	d.mu.Unlock()
	for _, s := range subs {
		d.logCheck(ctx, s, t)
	}
	p := d.ipvsNow()
	if p == nil { // a last result of a check the return to VRRP only removed
		return
	}
	if t.Pending {
		// Not a check's verdict yet, only its starting state (alpha: down):
		// the Manager counts it as not reported (CheckRef.DownUntilReport).
		return
	}
	st := director.CheckState{Up: t.Up, Weight: t.Weight, Reason: t.Result.Reason}
	changes, res, err := p.mgr.ReportChecks(ctx, ids, st)
	d.logHealthChanges(changes, d.serverNotify)
	if !t.Up && len(changes) > 0 {
		d.confirmByHealth() // a held discovery update the checks now confirm
	}
	d.emitApply("health", res, err)
	if err != nil {
		d.log.Error("applying real server health", "err", err)
		return
	}
	if len(changes) > 0 {
		d.log.Debug("health applied", "writes", res.Writes)
	}
}

// logCheck logs a check going up or down (not an initial up).
func (d *Daemon) logCheck(ctx context.Context, s subRef, t healthcheck.Transition) {
	if t.Initial && t.Up {
		return
	}
	lvl, msg := slog.LevelWarn, "check down"
	if t.Up {
		lvl, msg = slog.LevelInfo, "check up"
	}
	attrs := []any{"service", s.Server.Service.String(), "server", serverString(s.Server),
		"check", s.Name, "target", t.Target.String(), "kind", string(t.Result.Kind)}
	if t.Result.Reason != "" {
		attrs = append(attrs, "reason", t.Result.Reason)
	}
	if t.Initial {
		attrs = append(attrs, "initial", true)
	}
	d.log.Log(ctx, lvl, msg, attrs...)
	d.emitCheck(s, t)
}

// logHealthChanges logs each real server's new verdict and, when notify
// is given (changes that checks caused, not reloads), runs its notify_up
// or notify_down command.
func (d *Daemon) logHealthChanges(changes []director.HealthChange, notify func(director.RealServerID) (up, down []string)) {
	for _, c := range changes {
		attrs := []any{"service", c.Server.Service.String(), "server", serverString(c.Server)}
		if c.To.Reason != "" {
			attrs = append(attrs, "reason", c.To.Reason)
		}
		if c.To.Weight != nil {
			attrs = append(attrs, "weight", *c.To.Weight)
		}
		var argv []string
		switch {
		case c.To.Down && !c.From.Down:
			d.log.Warn("real server down", attrs...)
			d.emitHealth(c, "down")
			if notify != nil {
				_, argv = notify(c.Server)
			}
		case c.To.Down && c.From.Pending && !c.To.Pending:
			// Down before its alpha check reported, now confirmed down by
			// it: keepalived's first-run notify_down.
			d.log.Warn("real server down", attrs...)
			d.emitHealth(c, "down")
			if notify != nil {
				_, argv = notify(c.Server)
			}
		case !c.To.Down && c.From.Down:
			d.log.Info("real server up", attrs...)
			d.emitHealth(c, "up")
			if notify != nil {
				argv, _ = notify(c.Server)
			}
		default:
			d.log.Info("real server weight set by check", attrs...)
			d.emitHealth(c, "weight set by check")
		}
		d.run(argv, "notify command failed to start", "service", c.Server.Service.String(), "server", serverString(c.Server))
	}
}

// serverNotify returns a real server's notify_up and notify_down commands.
func (d *Daemon) serverNotify(id director.RealServerID) (up, down []string) {
	cfg := d.Config()
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		if ServiceKeyOf(vs) != id.Service {
			continue
		}
		for _, rs := range vs.RealServers {
			if rs.Address == id.Address && rs.Port == id.Port {
				return rs.NotifyUp, rs.NotifyDown
			}
		}
	}
	return nil, nil
}

// onQuorum runs quorum_up / quorum_down (the Manager's callback).
func (d *Daemon) onQuorum(key table.ServiceKey, up bool) {
	cfg := d.Config()
	var argv []string
	for i := range cfg.VirtualServers {
		if vs := &cfg.VirtualServers[i]; ServiceKeyOf(vs) == key {
			argv = vs.QuorumDown
			if up {
				argv = vs.QuorumUp
			}
		}
	}
	what := "quorum lost"
	if up {
		what = "quorum up"
	}
	d.log.Warn(what, "service", key.String())
	d.kickBGP() // bgp.go: a VIP whose service lost quorum is withdrawn
	d.run(argv, "quorum command failed to start", "service", key.String())
}

// run starts argv, if any, logging a failure to start with attrs.
func (d *Daemon) run(argv []string, failure string, attrs ...any) {
	if len(argv) == 0 {
		return
	}
	if err := d.exec(argv); err != nil {
		d.log.Error(failure, append(attrs, "command", argv, "err", err)...)
	}
}
