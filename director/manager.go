package director

import (
	"context"
	"log/slog"
	"maps"
	"sync"

	"github.com/lvsd/lb/director/table"
)

// Manager ties the configured services, the real servers' health and the
// Reconciler together: every change rebuilds the desired table (Build) and
// applies it, so one health change costs one kernel write.
type Manager struct {
	rec *Reconciler
	log *slog.Logger
	// onQuorum is called (outside the lock) when a service gains or loses
	// quorum, for keepalived's quorum_up / quorum_down commands.
	onQuorum func(key table.ServiceKey, up bool)

	applyMu sync.Mutex // serializes applies, each of the latest desired table

	mu      sync.Mutex
	specs   []ServiceSpec
	health  HealthView
	desired Desired
	built   bool
}

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	Reconciler *Reconciler
	Logger     *slog.Logger
	// OnQuorumChange, if set, is called when a service's quorum state
	// changes (not for the initial state).
	OnQuorumChange func(key table.ServiceKey, up bool)
}

// NewManager returns a Manager with no services; call SetSpecs.
func NewManager(cfg ManagerConfig) *Manager {
	m := &Manager{rec: cfg.Reconciler, log: cfg.Logger, onQuorum: cfg.OnQuorumChange, health: HealthView{}}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m
}

// SetSpecs replaces the configured services (start and reload) and applies
// the result. Health of real servers that are no longer configured is
// forgotten.
func (m *Manager) SetSpecs(ctx context.Context, specs []ServiceSpec) (Result, error) {
	m.mu.Lock()
	m.specs = specs
	keep := HealthView{}
	for _, s := range specs {
		for _, rs := range s.RealServers {
			d := normalizeDest(s.Service, rs.Dest)
			id := RealServerID{Service: s.Service.Key(), Address: d.Address, Port: d.Port}
			if h, ok := m.health[id]; ok {
				keep[id] = h
			}
		}
	}
	m.health = keep
	return m.rebuildLocked(ctx)
}

// SetHealth records the health of one real server and applies the result.
func (m *Manager) SetHealth(ctx context.Context, id RealServerID, h Health) (Result, error) {
	m.mu.Lock()
	id.Service = id.Service.Normalize()
	if cur, ok := m.health[id]; ok && sameHealth(cur, h) && m.built {
		m.mu.Unlock()
		return Result{Kind: "apply"}, nil
	}
	m.health[id] = h
	return m.rebuildLocked(ctx)
}

// SetHealthView replaces the whole health view and applies the result.
func (m *Manager) SetHealthView(ctx context.Context, hv HealthView) (Result, error) {
	m.mu.Lock()
	m.health = maps.Clone(hv)
	if m.health == nil {
		m.health = HealthView{}
	}
	return m.rebuildLocked(ctx)
}

func sameHealth(a, b Health) bool {
	if a.Down != b.Down || a.Reason != b.Reason || (a.Weight == nil) != (b.Weight == nil) {
		return false
	}
	return a.Weight == nil || *a.Weight == *b.Weight
}

// rebuildLocked builds and applies; it unlocks m.mu before applying so
// that status reads are not blocked by a slow kernel.
func (m *Manager) rebuildLocked(ctx context.Context) (Result, error) {
	var prev map[table.ServiceKey]bool
	if m.built {
		prev = m.desired.QuorumStates()
	}
	d := Build(m.specs, m.health, prev)
	wasBuilt := m.built
	m.desired, m.built = d, true
	m.mu.Unlock()

	if wasBuilt && m.onQuorum != nil {
		for _, s := range d.Services {
			if old, ok := prev[s.Key]; ok && old != s.QuorumUp {
				m.log.Warn("virtual service quorum changed", "service", s.Key.String(), "up", s.QuorumUp,
					"live_weight", s.LiveWeight, "quorum", s.Quorum)
				m.onQuorum(s.Key, s.QuorumUp)
			}
		}
	}
	// Apply the latest desired table, not necessarily ours: a concurrent
	// change may have been built after ours, and must not be undone.
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	m.mu.Lock()
	latest := m.desired.Table
	m.mu.Unlock()
	return m.rec.Apply(ctx, latest)
}

// Desired returns the last built desired state.
func (m *Manager) Desired() Desired {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.desired
}

// Reconciler returns the reconciler the manager applies through.
func (m *Manager) Reconciler() *Reconciler { return m.rec }
