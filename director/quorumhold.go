package director

import (
	"slices"
	"time"

	"github.com/lvsd/lb/director/table"
)

// quorumHold is a service that lost quorum with a QuorumLossHold: the
// destinations it had in the table then, kept there until until.
type quorumHold struct {
	until time.Time
	dests []table.Destination
}

// hold starts, applies and ends the quorum-loss holds on d, the desired
// state just built from m.specs (m.desired is still the previous one): a
// service whose quorum went down keeps the destinations it had for its
// QuorumLossHold, then the table follows the health again. A service with
// quorum back, without a hold or with a sorry server has none. m.mu is
// held.
func (m *Manager) hold(d *Desired, now time.Time) {
	var prevUp map[table.ServiceKey]bool
	if m.built {
		prevUp = m.desired.QuorumStates()
	}
	keep := map[table.ServiceKey]bool{}
	for i := range d.Services {
		s, spec := d.Services[i], &m.specs[i]
		if s.QuorumUp || spec.QuorumLossHold <= 0 || spec.Sorry != nil {
			continue
		}
		h, ok := m.holds[s.Key]
		if !ok {
			prev, found := m.desired.Table.Find(s.Key)
			if !prevUp[s.Key] || !found || len(prev.Destinations) == 0 {
				continue
			}
			h = quorumHold{until: now.Add(spec.QuorumLossHold), dests: slices.Clone(prev.Destinations)}
			m.holds[s.Key] = h
			m.log.Warn("quorum lost: the last real servers stay in the table for the hold", "service", s.Key.String(),
				"hold", spec.QuorumLossHold, "destinations", len(h.dests))
		}
		if !now.Before(h.until) {
			continue
		}
		keep[s.Key] = true
		holdInto(&d.Table, s.Key, spec, h.dests)
	}
	for k := range m.holds {
		if !keep[k] {
			delete(m.holds, k)
		}
	}
}

// holdInto adds to key's service in t the held destinations that are
// still configured and not there already.
func holdInto(t *table.Table, key table.ServiceKey, spec *ServiceSpec, held []table.Destination) {
	i := slices.IndexFunc(t.Services, func(s table.Service) bool { return s.Key() == key })
	if i < 0 {
		return
	}
	svc := &t.Services[i]
	dests := slices.Clone(svc.Destinations)
	for _, h := range held {
		configured := slices.ContainsFunc(spec.RealServers, func(rs RealServerSpec) bool {
			return normalizeDest(spec.Service, rs.Dest).Key() == h.Key()
		})
		if configured && !slices.ContainsFunc(dests, func(x table.Destination) bool { return x.Key() == h.Key() }) {
			dests = append(dests, h)
		}
	}
	slices.SortFunc(dests, func(a, b table.Destination) int { return a.Key().Compare(b.Key()) })
	svc.Destinations = dests
}

// nextHoldEnd is when the first hold ends (zero: none). m.mu is held.
func (m *Manager) nextHoldEnd() time.Time {
	var next time.Time
	for _, h := range m.holds {
		if next.IsZero() || h.until.Before(next) {
			next = h.until
		}
	}
	return next
}
