package daemon

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/vrrp"
)

// The event history (director/events): what the daemon did and saw, in
// order, for lbctl events and the status page. Each emitter here is called
// next to the log line of the same thing; none waits for a reader.

// Events returns the daemon's event history (control.EventSource).
func (d *Daemon) Events() *events.Log { return d.ev }

// Emit records an event: the hook for what lands later (drains, slow
// start, BGP) as for the daemon's own.
func (d *Daemon) Emit(e events.Event) { d.ev.Emit(e) }

// emitVRRP records a VRRP transition with its reason.
func (d *Daemon) emitVRRP(sc vrrp.StateChange, vips []string) {
	reason := vrrpReason(sc.From, sc.To, d.vrrpStatusReason(sc.Instance))
	f := map[string]string{"from": sc.From.String(), "to": sc.To.String(), "priority": strconv.Itoa(int(sc.Priority)),
		"interface": sc.Interface, "vrid": strconv.Itoa(int(sc.VRID)), "vips": strings.Join(vips, ","), "reason": reason}
	if sc.Group != "" {
		f["group"] = sc.Group
	}
	d.ev.Emit(events.Event{Time: sc.At, Kind: events.KindVRRP, Subject: sc.Instance, Fields: f,
		Message: fmt.Sprintf("%s -> %s: %s", sc.From, sc.To, reason)})
}

// vrrpStatusReason is what the status says of the instance now (its
// priority lowered by tracking, its fault), or "".
func (d *Daemon) vrrpStatusReason(instance string) string {
	for _, in := range d.VRRPStats().Instances {
		if in.Name == instance {
			return vrrpInstanceStatus(in).Reason
		}
	}
	return ""
}

// vrrpReason says why an instance went from one state to another (the
// router reports the transition; the cause is the protocol's rule for it).
func vrrpReason(from, to vrrp.State, status string) string {
	var why string
	switch {
	case to == vrrp.StateFault:
		why = "fault: a tracked interface, script, process or file is down"
	case to == vrrp.StateStopped:
		why = "stopped (reload or shutdown)"
	case to == vrrp.StateMaster && from == vrrp.StateFault:
		why = "fault cleared"
	case to == vrrp.StateMaster:
		why = "no better master heard within the master down interval, or preempting a lower priority"
	case to == vrrp.StateBackup && from == vrrp.StateMaster:
		why = "a master with a higher priority (or the same, higher address) advertises"
	case to == vrrp.StateBackup && from == vrrp.StateFault:
		why = "fault cleared"
	case to == vrrp.StateBackup:
		why = "started"
	default:
		why = "transition"
	}
	if status != "" && !strings.Contains(why, status) && to != vrrp.StateFault {
		why += "; " + status
	}
	return why
}

// emitCheck records a check going up or down (not an initial up), with
// the failing detail.
func (d *Daemon) emitCheck(s subRef, t healthcheck.Transition) {
	state := "down"
	if t.Up {
		state = "up"
	}
	f := map[string]string{"service": s.Server.Service.String(), "server": serverString(s.Server), "check": s.Name,
		"target": t.Target.String(), "state": state, "result": string(t.Result.Kind)}
	msg := "check " + state
	if t.Result.Reason != "" {
		f["reason"] = t.Result.Reason
		msg += ": " + t.Result.Reason
	}
	d.ev.Emit(events.Event{Kind: events.KindCheck, Subject: s.Server.Service.String() + " " + serverString(s.Server) + " " + s.Name,
		Message: msg, Fields: f})
}

// emitHealth records a real server's new verdict.
func (d *Daemon) emitHealth(c director.HealthChange, state string) {
	f := map[string]string{"service": c.Server.Service.String(), "server": serverString(c.Server), "state": state}
	msg := "real server " + state
	if c.To.Reason != "" {
		f["reason"] = c.To.Reason
		msg += ": " + c.To.Reason
	}
	if c.To.Weight != nil {
		f["weight"] = strconv.FormatUint(uint64(*c.To.Weight), 10)
	}
	d.ev.Emit(events.Event{Kind: events.KindHealth, Subject: c.Server.Service.String() + " " + serverString(c.Server),
		Message: msg, Fields: f})
}

// emitApply records an apply that wrote the IPVS table (on: start, reload,
// discovery, health), summarized: the writes and the first few rules.
func (d *Daemon) emitApply(on string, ar director.Result, err error) {
	if ar.Writes == 0 && err == nil {
		return
	}
	const shown = 5
	rules := make([]string, 0, shown)
	for i, op := range ar.Ops {
		if i == shown {
			break
		}
		rules = append(rules, op.String())
	}
	msg := fmt.Sprintf("%d IPVS writes on %s: %s", ar.Writes, on, strings.Join(rules, "; "))
	if n := ar.OpCount() - len(rules); n > 0 {
		msg += fmt.Sprintf(" and %d more", n)
	}
	f := map[string]string{"on": on, "writes": strconv.Itoa(ar.Writes), "failed": strconv.Itoa(len(ar.Failed))}
	if err != nil {
		f["error"] = err.Error()
		msg += "; error: " + err.Error()
	}
	d.ev.Emit(events.Event{Kind: events.KindIPVS, Subject: on, Message: msg, Fields: f})
}

// emitReload records a reload's result (applied, invalid, refused, failed).
func (d *Daemon) emitReload(res control.ReloadResult, result string, err error) {
	f := map[string]string{"result": result, "file": d.path, "changes": strconv.Itoa(len(res.Changes))}
	msg := fmt.Sprintf("reload %s: %d changes", result, len(res.Changes))
	if err != nil {
		f["error"] = err.Error()
		msg = "reload " + result + ": " + err.Error()
	}
	d.ev.Emit(events.Event{Kind: events.KindReload, Subject: d.path, Message: msg, Fields: f})
}

// emitDiscovery records a discovery change of a service (what: applied,
// held, stale, fresh, confirmed).
func (d *Daemon) emitDiscovery(svc, what, msg string, f map[string]string) {
	if f == nil {
		f = map[string]string{}
	}
	f["service"], f["what"] = svc, what
	d.ev.Emit(events.Event{Kind: events.KindDiscovery, Subject: svc, Message: msg, Fields: f})
}

// reloadResult names a reload's outcome as the metrics count it.
func reloadResult(err error) string {
	var inv *invalidError
	var ref *RemovalRefused
	switch {
	case err == nil:
		return "applied"
	case errors.As(err, &inv):
		return "invalid"
	case errors.As(err, &ref):
		return "refused"
	}
	return "failed"
}
