package director

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"
)

// An operator's override of a real server (lbctl drain, maintenance) sits
// next to the health verdicts in the Manager: the verdict says what the
// checks think, the override what the operator wants, and the desired
// weight follows from both. A drained server stays in the table with
// weight 0 (no new connections, the existing ones finish); a server in
// maintenance leaves the table whatever its checks say.

// AdminState is an operator's override of a real server.
type AdminState string

// The overrides; the zero value is none.
const (
	AdminNone        AdminState = ""
	AdminDrain       AdminState = "drain"
	AdminMaintenance AdminState = "maintenance"
)

// Valid reports whether s is a known state (AdminNone included).
func (s AdminState) Valid() bool {
	return s == AdminNone || s == AdminDrain || s == AdminMaintenance
}

// Override is a real server's override and since when.
type Override struct {
	State AdminState `json:"state"`
	Since time.Time  `json:"since"`
}

// Admin is what Build needs of a real server beyond its health: the
// operator's override and, while the server slow-starts, the step of its
// ramp (the weight is its weight x Step / Steps, at least 1).
type Admin struct {
	State AdminState
	Ramp  *RampStep
}

// The states a real server shows (status, metrics).
const (
	StateUp           = "up"
	StateDown         = "down"
	StateDraining     = "draining"
	StateMaintenance  = "maintenance"
	StateSlowStarting = "slow-starting"
)

// SetOverride sets the override of the real server id (AdminNone clears
// it) and applies the result: one write for a drain (the weight to 0) or
// a maintenance (the server out). Clearing an override starts the
// server's slow start, if it has one. An unknown server is an error and
// changes nothing. It returns whether the override changed.
func (m *Manager) SetOverride(ctx context.Context, id RealServerID, st AdminState) (bool, Result, error) {
	if !st.Valid() {
		return false, Result{}, fmt.Errorf("unknown override %q (want drain, maintenance or none)", st)
	}
	m.mu.Lock()
	if !m.hasServer(id) {
		m.mu.Unlock()
		return false, Result{}, fmt.Errorf("%s has no real server %s: %w", id.Service, serverText(id), ErrUnknownServer)
	}
	old := m.overrides[id]
	if old.State == st {
		m.mu.Unlock()
		return false, Result{Kind: "apply"}, nil
	}
	now := m.now()
	if st == AdminNone {
		delete(m.overrides, id)
		m.startRamp(id, now)
	} else {
		m.overrides[id] = Override{State: st, Since: now}
		delete(m.ramps, id)
	}
	quorum := m.rebuild()
	m.mu.Unlock()
	m.quorumChanged(quorum)
	m.scheduleRamp()
	res, err := m.rec.ApplyLatest(ctx, m.latest)
	return true, res, err
}

// ErrUnknownServer: the real server is not configured.
var ErrUnknownServer = errors.New("unknown real server")

// Overrides returns a copy of the overrides in force.
func (m *Manager) Overrides() map[RealServerID]Override {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.overrides)
}

// RestoreOverrides sets the overrides read back from the state directory,
// before the first SetSpecs (which drops those of servers not
// configured); nothing is applied.
func (m *Manager) RestoreOverrides(o map[RealServerID]Override) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.overrides = maps.Clone(o)
	if m.overrides == nil {
		m.overrides = map[RealServerID]Override{}
	}
}

// hasServer reports whether id is a configured real server (not a sorry
// server). m.mu is held.
func (m *Manager) hasServer(id RealServerID) bool {
	for _, s := range m.specs {
		if s.Service.Key() != id.Service {
			continue
		}
		return slices.ContainsFunc(s.RealServers, func(rs RealServerSpec) bool { return realServerID(s.Service, rs.Dest) == id })
	}
	return false
}

// dropGoneRamps forgets the ramps of servers no longer configured. m.mu
// is held.
func (m *Manager) dropGoneRamps() {
	known := m.configured()
	for id := range m.ramps {
		if !known[id] {
			delete(m.ramps, id)
		}
	}
}

// configured is the set of configured real servers. m.mu is held.
func (m *Manager) configured() map[RealServerID]bool {
	known := map[RealServerID]bool{}
	for _, s := range m.specs {
		for _, rs := range s.RealServers {
			known[realServerID(s.Service, rs.Dest)] = true
		}
	}
	return known
}

// DropGoneOverrides forgets the overrides of real servers no longer
// configured (a reload removed them), except those keep (if set) keeps:
// the daemon keeps, at start and on discovery updates, those of services
// with discovery, whose members come and go. It returns the servers
// whose override it dropped; an override of a server not configured has
// no effect on the table.
func (m *Manager) DropGoneOverrides(keep func(RealServerID) bool) []RealServerID {
	m.mu.Lock()
	defer m.mu.Unlock()
	known := m.configured()
	var dropped []RealServerID
	for id, o := range m.overrides {
		if known[id] || (keep != nil && keep(id)) {
			continue
		}
		m.log.Info("override dropped: the real server is no longer configured", "service", id.Service.String(),
			"server", serverText(id), "override", string(o.State))
		delete(m.overrides, id)
		dropped = append(dropped, id)
	}
	slices.SortFunc(dropped, RealServerID.Compare)
	return dropped
}

func serverText(id RealServerID) string {
	return netip.AddrPortFrom(id.Address, id.Port).String()
}
