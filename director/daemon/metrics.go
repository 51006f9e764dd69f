package daemon

import (
	"github.com/lvsd/lb/director/metrics"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/buildinfo"
)

// metricsSources wires the collector to the daemon's parts; everything is
// read at scrape time.
func (d *Daemon) metricsSources() metrics.Sources {
	return metrics.Sources{
		VRRP:        d.VRRPStats,
		Transitions: d.Transitions,
		IPVS:        d.readTable,
		Checks:      d.checkMetrics,
		CheckTotals: func() (uint64, uint64) { s := d.sched.Stats(); return s.Checks, s.Failures },
		Reconciler:  d.counters,
		Reloads:     d.Reloads,
		Notify:      d.NotifyCounters,
		Discovery:   d.discoveryMetrics,
		BGP:         d.bgpMetrics,
		Build:       func() buildinfo.Info { return d.opts.Build },
		Operator:    d.operatorMetrics,
		BFDDrops:    d.bfdDrops,
	}
}

// operatorMetrics is each real server's state and the director's drain.
func (d *Daemon) operatorMetrics() metrics.Operator {
	_, dr := d.ovr.snapshot()
	o := metrics.Operator{DirectorDrained: dr.Drained}
	if p := d.ipvsNow(); p != nil {
		for _, rs := range p.mgr.Desired().RealServers {
			if !rs.Sorry {
				o.Servers = append(o.Servers, metrics.ServerState{Service: rs.ID.Service.String(), Server: serverString(rs.ID), State: rs.State})
			}
		}
	}
	return o
}

// readTable reads the kernel's table; in VRRP-only mode it answers
// metrics.ErrNoIPVS without touching IPVS.
func (d *Daemon) readTable() (table.Table, error) {
	p := d.ipvsNow()
	if p == nil {
		return table.Table{}, metrics.ErrNoIPVS
	}
	return table.Read(p.kern)
}

// checkMetrics lists every subscription with its check's state.
func (d *Daemon) checkMetrics() []metrics.Check {
	subs := d.subscriptions()
	var out []metrics.Check
	for _, st := range d.sched.Snapshot() {
		for _, id := range st.IDs {
			s, ok := subs[id]
			if !ok {
				continue
			}
			out = append(out, metrics.Check{Service: s.Server.Service.String(), Server: serverString(s.Server), Check: s.Name,
				Up: st.Up, LastDuration: st.Last.Duration, Checks: st.Checks, Failures: st.Failures})
		}
	}
	return out
}
