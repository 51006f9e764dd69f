package daemon

import (
	"github.com/lvsd/lb/director/metrics"
	"github.com/lvsd/lb/director/table"
)

// metricsSources wires the collector to the daemon's parts; everything is
// read at scrape time.
func (d *Daemon) metricsSources() metrics.Sources {
	return metrics.Sources{
		VRRP:        d.VRRPStats,
		Transitions: d.Transitions,
		IPVS:        func() (table.Table, error) { return table.Read(d.kern) },
		Checks:      d.checkMetrics,
		CheckTotals: func() (uint64, uint64) { s := d.sched.Stats(); return s.Checks, s.Failures },
		Reconciler:  d.rec.Counters,
		Reloads:     d.Reloads,
		Notify:      d.NotifyCounters,
	}
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
