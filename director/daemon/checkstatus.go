package daemon

import (
	"context"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/healthcheck"
)

// checkSource is the control socket's view of the health checks.
type checkSource struct{ d *Daemon }

// CheckStatus implements control.CheckSource.
func (c checkSource) CheckStatus(context.Context) []control.CheckStatus {
	return checkStatuses(c.d.sched.Snapshot(), c.d.agg.subsByID())
}

// checkStatuses maps the scheduler's checks back to the subscriptions
// they serve: one row per (service, real server, check), sorted by
// service, real server and the check's position. A shared check gives a
// row to each subscriber; checks of no known subscription are left out.
func checkStatuses(snap []healthcheck.Status, subs map[healthcheck.ID]CheckSub) []control.CheckStatus {
	type row struct {
		cs    control.CheckStatus
		index int
	}
	var rows []row
	for _, st := range snap {
		for _, id := range st.IDs {
			sub, ok := subs[id]
			if !ok {
				continue
			}
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
			rows = append(rows, row{cs, sub.Index})
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

// checkLabel is a check's short label: its name ("http#0"), what it asks
// and, when it connects elsewhere than the real server, where.
func checkLabel(s CheckSub) string {
	parts := []string{s.Name}
	sp := s.Spec
	switch sp.Type {
	case healthcheck.TypeHTTP, healthcheck.TypeHTTPS:
		paths := make([]string, len(sp.URLs))
		for i, u := range sp.URLs {
			paths[i] = u.Path
		}
		if len(paths) > 0 {
			parts = append(parts, "GET "+strings.Join(paths, ","))
		}
	case healthcheck.TypeScript:
		if len(sp.Command) > 0 {
			parts = append(parts, filepath.Base(sp.Command[0]))
		}
	case healthcheck.TypeDNS:
		typ, name := sp.DNSType, sp.DNSName
		if typ == "" {
			typ = "SOA"
		}
		if name == "" {
			name = "."
		}
		parts = append(parts, typ+" "+name)
	}
	if sp.Target.IsValid() && sp.Target != netip.AddrPortFrom(s.Server.Address, s.Server.Port) {
		parts = append(parts, "at "+sp.Target.String())
	}
	return strings.Join(parts, " ")
}
