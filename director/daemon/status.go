package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/vrrp"
)

// The daemon is the control socket's control.Daemon: Status reads every
// part at the time of the request.

// Status implements control.Daemon.
func (d *Daemon) Status(ctx context.Context) control.Status {
	d.mu.Lock()
	b := d.opts.Build
	info := control.DaemonInfo{PID: os.Getpid(), Version: d.opts.Version, RouterID: d.cfg.Global.RouterID,
		Revision: b.RevisionString(), Date: b.TimeString(), GoVersion: b.GoVersion,
		ConfigFile: d.path, Started: d.started, LastReload: d.lastReload}
	d.mu.Unlock()
	subs := d.subscriptions()
	st := control.Status{Daemon: info, IPVS: control.IPVS{VRRPOnly: true}}
	if p := d.ipvsNow(); p != nil {
		kt, kerr := table.Read(p.kern)
		st.IPVS = d.ipvsStatus(p, kt, kerr)
		st.Services, st.RealServers = healthStatus(p, kt, kerr)
		src := sources(d.Config())
		d.leavingSources(src)
		for i := range st.RealServers {
			if rs := &st.RealServers[i]; !rs.Sorry {
				rs.Source = src[director.RealServerID{Service: rs.Service, Address: rs.Address, Port: rs.Port}]
			}
		}
	}
	st.Discovery = d.discoveryStatus()
	st.BGP = d.bgpControlStatus(ctx)
	st.Checks = checkStatuses(d.sched.Snapshot(), subs)
	st.VRRP = d.vrrpStatus()
	if st.Director = d.directorDrainStatus(); st.Director != nil {
		for i := range st.VRRP {
			st.VRRP[i].Reason = joinReason(st.VRRP[i].Reason, "drained (lbctl drain-director)")
		}
	}
	return st
}

// Resync implements control.Daemon: the table is repaired now.
func (d *Daemon) Resync(ctx context.Context) (control.ApplyResult, error) {
	p := d.ipvsNow()
	if p == nil {
		return control.ApplyResult{}, errVRRPOnly
	}
	res, err := p.rec.Resync(ctx)
	return ControlResult(res), err
}

// ipvsStatus is the kernel's table (read as kt, kerr) and how lbd keeps it.
func (d *Daemon) ipvsStatus(p *ipvsPart, kt table.Table, kerr error) control.IPVS {
	st := control.IPVS{Table: kt}
	info, err := p.kern.Info()
	st.Info = info
	errs := []error{kerr, err}
	st.Timeouts, err = p.kern.Timeouts()
	errs = append(errs, err)
	if sd, ok := p.kern.(director.SyncDaemons); ok {
		st.Daemons, err = sd.Daemons()
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		st.Error = err.Error()
	}
	st.Managed = p.rec.Managed()
	st.Writes, st.Repairs = d.counters()
	if last := p.rec.Last(); !last.Start.IsZero() {
		ar := ControlResult(last)
		st.LastApply = &ar
	}
	if want, ok := p.rec.Desired(); ok && st.Error == "" {
		ops := p.rec.Drift(want, kt)
		st.InSync = len(ops) == 0
		for _, op := range ops {
			st.Pending = append(st.Pending, op.String())
		}
	}
	return st
}

// healthStatus is each service's quorum and each real server's configured,
// desired and kernel weight, with the reason they differ.
func healthStatus(p *ipvsPart, kt table.Table, kerr error) ([]control.ServiceQuorum, []control.RealServer) {
	desired, ovr := p.mgr.Desired(), p.mgr.Overrides()
	var qs []control.ServiceQuorum
	for _, sv := range desired.Services {
		qs = append(qs, control.ServiceQuorum{Service: sv.Key, LiveWeight: sv.LiveWeight, Quorum: sv.Quorum,
			QuorumUp: sv.QuorumUp, SorryActive: sv.SorryActive})
	}
	var rss []control.RealServer
	for _, r := range desired.RealServers {
		rs := control.RealServer{Service: r.ID.Service, Address: r.ID.Address, Port: r.ID.Port, Sorry: r.Sorry, Up: r.Up,
			ConfiguredWeight: r.ConfiguredWeight, Reason: r.Reason, State: r.State, Override: string(r.Override)}
		if !r.Sorry {
			rs.OverrideSince = ovr[r.ID].Since
		}
		if r.InTable {
			w := r.DesiredWeight
			rs.DesiredWeight = &w
		}
		if kerr == nil {
			rs.KernelWeight = kernelWeight(kt, r.ID)
		}
		rss = append(rss, rs)
	}
	return qs, rss
}

// kernelWeight is the weight of a real server in the kernel's table, nil
// when it is absent.
func kernelWeight(kt table.Table, id director.RealServerID) *uint32 {
	svc, ok := kt.Find(id.Service)
	if !ok {
		return nil
	}
	for _, kd := range svc.Destinations {
		if kd.Key() == (table.DestKey{Address: id.Address, Port: id.Port}) {
			w := kd.Weight
			return &w
		}
	}
	return nil
}

// vrrpStatus is every instance, those of components that could not start
// included (in INIT, with the reason).
func (d *Daemon) vrrpStatus() []control.VRRPInstance {
	var out []control.VRRPInstance
	for _, in := range d.VRRPStats().Instances {
		out = append(out, vrrpInstanceStatus(in))
	}
	d.mu.Lock()
	for comp, msg := range d.vrrpErr {
		for _, name := range strings.Split(comp, ",") {
			in := d.cfg.VRRP.Instance(name)
			if in == nil {
				continue
			}
			out = append(out, control.VRRPInstance{Name: name, Interface: in.Interface, VRID: in.VRID,
				Version: in.Version, State: "INIT", Priority: in.Priority, EffectivePriority: in.Priority,
				Reason: "not running: " + msg})
		}
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
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
	if in.SplitBrains > 0 {
		ci.SplitBrains = in.SplitBrains
		ci.SplitBrain = &control.SplitBrain{Peer: in.SplitBrainPeer, PeerPriority: int(in.SplitBrainPeerPriority),
			At: in.SplitBrainAt, Winner: in.SplitBrainWinner}
	}
	for _, b := range in.BFD {
		ci.BFD = append(ci.BFD, control.BFDSession{Peer: b.Peer, State: b.State, Since: b.Since, Failures: b.Failures})
	}
	ci.BFDTakeovers = in.BFDTakeovers
	var reasons []string
	if in.Priority != in.BasePriority {
		reasons = append(reasons, fmt.Sprintf("priority %d -> %d by tracking", in.BasePriority, in.Priority))
	}
	if in.State == vrrp.StateFault {
		reasons = append(reasons, "fault: a tracked interface, script, process or file is down")
	}
	ci.Reason = strings.Join(reasons, "; ")
	return ci
}

// checkStatuses maps the scheduler's checks back to the subscriptions
// they serve: one row per (service, real server, check), sorted by
// service, real server and the check's position. A shared check gives a
// row to each subscriber; checks of no known subscription are left out.
func checkStatuses(snap []healthcheck.Status, subs map[healthcheck.ID]subRef) []control.CheckStatus {
	type row struct {
		cs    control.CheckStatus
		index int
	}
	var rows []row
	for _, st := range snap {
		for _, id := range st.IDs {
			if ref, ok := subs[id]; ok {
				rows = append(rows, row{checkStatus(st, ref.sub(id, st)), ref.Index})
			}
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if c := a.cs.Service.Compare(b.cs.Service); c != 0 {
			return c < 0
		}
		if c := a.cs.Address.Compare(b.cs.Address); c != 0 {
			return c < 0
		}
		if a.cs.Port != b.cs.Port {
			return a.cs.Port < b.cs.Port
		}
		return a.index < b.index
	})
	out := make([]control.CheckStatus, len(rows))
	for i, r := range rows {
		out[i] = r.cs
	}
	return out
}

// checkStatus is one subscription's row of a check's state.
func checkStatus(st healthcheck.Status, sub CheckSub) control.CheckStatus {
	cs := control.CheckStatus{
		Service: sub.Server.Service, Address: sub.Server.Address, Port: sub.Server.Port,
		Check: checkLabel(sub), Type: string(st.Type), Up: st.Up,
		ConsecutiveFailures: st.Fails, ConsecutiveSuccesses: st.Passes,
		Checks: st.Checks, Failures: st.Failures, Since: st.Since,
		Shared: len(st.IDs), InFlight: st.InFlight,
	}
	if st.Target.IsValid() {
		cs.Target = st.Target.String()
	}
	if !st.LastAt.IsZero() {
		cs.Result, cs.Reason = string(st.Last.Kind), st.Last.Reason
		cs.Duration, cs.LastCheck = st.Last.Duration, st.LastAt
	}
	return cs
}

// ControlResult converts a Result for the control API.
func ControlResult(r director.Result) control.ApplyResult {
	out := control.ApplyResult{Kind: r.Kind, Start: r.Start, Took: r.Took, Writes: r.Writes, Rounds: r.Rounds, Error: r.Error,
		OpsOmitted: r.OpsOmitted, FailedOmitted: r.FailedOmitted, PendingOmitted: r.PendingOmitted}
	for _, op := range r.Ops {
		out.Ops = append(out.Ops, op.String())
	}
	for _, f := range r.Failed {
		out.Failed = append(out.Failed, f.Op.String()+": "+f.Error)
	}
	for _, op := range r.Pending {
		out.Pending = append(out.Pending, op.String())
	}
	return out
}
