package daemon

import (
	"context"
	"errors"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
)

// StatusSource answers the IPVS and health parts of the control API
// (control.IPVSSource and control.HealthSource) from the kernel, the
// Reconciler and the Manager.
type StatusSource struct {
	Kernel  director.Kernel
	Manager *director.Manager
	// Daemons, if set, lists the sync daemons.
	Daemons director.SyncDaemons
}

// IPVSStatus implements control.IPVSSource: the kernel's table read now.
func (s *StatusSource) IPVSStatus(ctx context.Context) control.IPVS {
	var st control.IPVS
	var errs []error
	info, err := s.Kernel.Info()
	errs = append(errs, err)
	st.Info = info
	t, err := table.Read(s.Kernel)
	errs = append(errs, err)
	st.Table = t
	to, err := s.Kernel.Timeouts()
	errs = append(errs, err)
	st.Timeouts = to
	if s.Daemons != nil {
		ds, err := s.Daemons.Daemons()
		errs = append(errs, err)
		st.Daemons = ds
	}
	if err := errors.Join(errs...); err != nil {
		st.Error = err.Error()
	}
	if s.Manager != nil {
		rec := s.Manager.Reconciler()
		st.Managed = rec.Managed()
		st.Writes, st.Repairs = rec.Counters()
		last := rec.Last()
		if !last.Start.IsZero() {
			ar := ControlResult(last)
			st.LastApply = &ar
		}
		if want, ok := rec.Desired(); ok && st.Error == "" {
			ops := rec.Drift(want, t)
			st.InSync = len(ops) == 0
			for _, op := range ops {
				st.Pending = append(st.Pending, op.String())
			}
		}
	}
	return st
}

// HealthStatus implements control.HealthSource: configured, desired and
// kernel weight of every real server, with the reason they differ.
func (s *StatusSource) HealthStatus(ctx context.Context) ([]control.ServiceQuorum, []control.RealServer) {
	if s.Manager == nil {
		return nil, nil
	}
	d := s.Manager.Desired()
	kt, kerr := table.Read(s.Kernel)
	var qs []control.ServiceQuorum
	for _, sv := range d.Services {
		qs = append(qs, control.ServiceQuorum{Service: sv.Key, LiveWeight: sv.LiveWeight, Quorum: sv.Quorum,
			QuorumUp: sv.QuorumUp, SorryActive: sv.SorryActive})
	}
	var rss []control.RealServer
	for _, r := range d.RealServers {
		rs := control.RealServer{
			Service: r.ID.Service, Address: r.ID.Address, Port: r.ID.Port, Sorry: r.Sorry, Up: r.Up,
			ConfiguredWeight: r.ConfiguredWeight, Reason: r.Reason,
		}
		if r.InTable {
			w := r.DesiredWeight
			rs.DesiredWeight = &w
		}
		if kerr == nil {
			if svc, ok := kt.Find(r.ID.Service); ok {
				for _, kd := range svc.Destinations {
					if kd.Key() == (table.DestKey{Address: r.ID.Address, Port: r.ID.Port}) {
						w := kd.Weight
						rs.KernelWeight = &w
					}
				}
			}
		}
		rss = append(rss, rs)
	}
	return qs, rss
}

// ControlResult converts a director.Result for the control API.
func ControlResult(r director.Result) control.ApplyResult {
	out := control.ApplyResult{Kind: r.Kind, Start: r.Start, Took: r.Took, Writes: r.Writes, Rounds: r.Rounds, Error: r.Error}
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

// ControlActions implements control.Actions for lbd: Resync repairs the
// table now through the director.Reconciler; Reload calls ReloadFunc (lbd re-reads
// its configuration and calls director.Manager.SetSpecs and director.Reconciler.ApplySettings).
type ControlActions struct {
	Reconciler *director.Reconciler
	ReloadFunc func(ctx context.Context) (control.ReloadResult, error)
}

// Reload implements control.Actions.
func (a ControlActions) Reload(ctx context.Context) (control.ReloadResult, error) {
	if a.ReloadFunc == nil {
		return control.ReloadResult{}, errors.New("reload is not wired")
	}
	return a.ReloadFunc(ctx)
}

// Resync implements control.Actions.
func (a ControlActions) Resync(ctx context.Context) (control.ApplyResult, error) {
	res, err := a.Reconciler.Resync(ctx)
	return ControlResult(res), err
}
