package director

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/lvsd/lb/director/table"
)

// Manager owns the health of the real servers and the desired table: it
// keeps the configured services and what each of their checks last
// reported, derives every real server's verdict (keepalived's rule), builds
// the desired table (Build) and applies it through the Reconciler, so one
// health change costs one kernel write.
//
// Each change is made under the Manager's lock, which is released before
// the kernel is written; the Reconciler serializes applies and always
// applies the latest desired table, so a slow kernel never blocks status
// reads and an older table never overwrites a newer one.
type Manager struct {
	rec *Reconciler
	log *slog.Logger
	// onQuorum is called (outside the lock) when a service gains or loses
	// quorum, for keepalived's quorum_up / quorum_down commands.
	onQuorum func(key table.ServiceKey, up bool)

	mu     sync.Mutex // guards what follows
	specs  []ServiceSpec
	checks map[string]CheckState // by CheckRef.ID
	// byCheck lists, for each check ID, the real servers that have it
	// (indexes into specs): a report re-derives only their verdicts, not
	// every server's (10,000 checks each reporting at start cost 10,000 x
	// 10,000 verdicts and as many maps).
	byCheck map[string][]rsRef
	desired Desired
	built   bool

	// overrides are the operators' (override.go); ramps, when each slow
	// start began (slowstart.go), with the timer of the next step.
	overrides map[RealServerID]Override
	ramps     map[RealServerID]time.Time
	// holds are the services that lost quorum with a QuorumLossHold
	// (quorumhold.go): the destinations kept and until when.
	holds     map[table.ServiceKey]quorumHold
	timer     Stopper
	stopped   bool
	now       func() time.Time
	afterFunc func(time.Duration, func()) Stopper
}

// Stopper stops a timer (*time.Timer).
type Stopper interface{ Stop() bool }

// rsRef is a real server of the specs: specs[s].RealServers[r].
type rsRef struct{ s, r int }

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	Reconciler *Reconciler
	Logger     *slog.Logger
	// OnQuorumChange, if set, is called when a service's quorum state
	// changes (not for the initial state), by the goroutine whose change
	// caused it, outside the Manager's lock: concurrent changes may call
	// it concurrently.
	OnQuorumChange func(key table.ServiceKey, up bool)
	// Now and AfterFunc are the slow starts' clock and timer; default
	// time.Now and time.AfterFunc.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) Stopper
}

// NewManager returns a Manager with no services; call SetSpecs.
func NewManager(cfg ManagerConfig) *Manager {
	m := &Manager{rec: cfg.Reconciler, log: cfg.Logger, onQuorum: cfg.OnQuorumChange, checks: map[string]CheckState{},
		overrides: map[RealServerID]Override{}, ramps: map[RealServerID]time.Time{}, holds: map[table.ServiceKey]quorumHold{}, now: cfg.Now, afterFunc: cfg.AfterFunc}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.afterFunc == nil {
		m.afterFunc = func(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) }
	}
	return m
}

// SetSpecs replaces the configured services (start and reload) and applies
// the result; the Manager owns specs from then on. The states of checks still configured are kept (a changed
// check has a new ID and starts unknown); the others are forgotten. It
// returns the real servers whose verdict changed because their set of
// checks did.
func (m *Manager) SetSpecs(ctx context.Context, specs []ServiceSpec) ([]HealthChange, Result, error) {
	m.mu.Lock()
	before := m.verdicts()
	m.specs = specs
	m.checks = keptStates(specs, m.checks)
	m.byCheck = indexChecks(specs)
	m.dropGoneRamps()
	changes := diffVerdicts(before, m.verdicts())
	m.rampRecovered(changes)
	quorum := m.rebuild()
	m.mu.Unlock()
	m.quorumChanged(quorum)
	m.scheduleRamp()
	res, err := m.rec.ApplyLatest(ctx, m.latest)
	return changes, res, err
}

// rampRecovered starts the slow start of the servers that came up. m.mu
// is held.
func (m *Manager) rampRecovered(changes []HealthChange) {
	now := m.now()
	for _, c := range changes {
		if c.From.Down && !c.To.Down && m.overrides[c.Server].State == AdminNone {
			m.startRamp(c.Server, now)
		}
	}
}

// ReportChecks records that the checks ids (one check shared by several
// subscriptions reports for all of them) are now in state st, and applies
// the result when a real server's verdict changed. It returns those
// changes; none means nothing was written. Reports of checks no service
// has (any more) are ignored.
func (m *Manager) ReportChecks(ctx context.Context, ids []string, st CheckState) ([]HealthChange, Result, error) {
	m.mu.Lock()
	changes := m.record(ids, st)
	if len(changes) == 0 && m.built {
		m.mu.Unlock()
		return nil, Result{Kind: "apply"}, nil
	}
	m.rampRecovered(changes)
	quorum := m.rebuild()
	m.mu.Unlock()
	m.quorumChanged(quorum)
	m.scheduleRamp()
	res, err := m.rec.ApplyLatest(ctx, m.latest)
	return changes, res, err
}

// record sets the state of the known checks among ids and returns the
// real servers whose verdict changed, re-deriving only the verdicts of the
// servers that have those checks. m.mu is held.
func (m *Manager) record(ids []string, st CheckState) []HealthChange {
	var affected []rsRef
	seen := map[rsRef]bool{}
	for _, id := range ids {
		for _, ref := range m.byCheck[id] {
			if !seen[ref] {
				seen[ref] = true
				affected = append(affected, ref)
			}
		}
	}
	before := make([]Health, len(affected))
	for i, ref := range affected {
		before[i] = verdict(m.specs[ref.s].RealServers[ref.r].Checks, m.checks)
	}
	for _, id := range ids {
		if _, known := m.byCheck[id]; known {
			m.checks[id] = st
		}
	}
	var changes []HealthChange
	for i, ref := range affected {
		svc, rs := m.specs[ref.s].Service, m.specs[ref.s].RealServers[ref.r]
		if after := verdict(rs.Checks, m.checks); !before[i].Equal(after) {
			changes = append(changes, HealthChange{Server: realServerID(svc, rs.Dest), From: before[i], To: after})
		}
	}
	sortChanges(changes)
	return changes
}

// indexChecks maps each check ID to the real servers that have it.
func indexChecks(specs []ServiceSpec) map[string][]rsRef {
	idx := map[string][]rsRef{}
	for si, s := range specs {
		for ri, rs := range s.RealServers {
			for _, c := range rs.Checks {
				if refs := idx[c.ID]; len(refs) == 0 || refs[len(refs)-1] != (rsRef{si, ri}) {
					idx[c.ID] = append(refs, rsRef{si, ri})
				}
			}
		}
	}
	return idx
}

// Desired returns the last built desired state.
func (m *Manager) Desired() Desired {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.desired
}

// Reconciler returns the reconciler the manager applies through.
func (m *Manager) Reconciler() *Reconciler { return m.rec }

// latest is the table to apply: the newest desired one.
func (m *Manager) latest() table.Table {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.desired.Table
}

// verdicts derives every checked real server's health. m.mu is held.
func (m *Manager) verdicts() HealthView {
	hv := HealthView{}
	for _, s := range m.specs {
		for _, rs := range s.RealServers {
			if len(rs.Checks) > 0 {
				hv[realServerID(s.Service, rs.Dest)] = verdict(rs.Checks, m.checks)
			}
		}
	}
	return hv
}

// verdictOf is rs's verdict (for build; what verdicts holds for it, zero
// for a server without checks). m.mu is held.
func (m *Manager) verdictOf(_ RealServerID, rs *RealServerSpec) Health {
	if len(rs.Checks) == 0 {
		return Health{}
	}
	return verdict(rs.Checks, m.checks)
}

// adminAt is each real server's override and slow-start step at now, for
// build. m.mu is held while build runs.
func (m *Manager) adminAt(now time.Time) adminOf {
	return func(id RealServerID, rs *RealServerSpec) Admin {
		return Admin{State: m.overrides[id].State, Ramp: m.rampOf(id, rs, now)}
	}
}

// quorumChange is a service whose quorum state changed in a rebuild.
type quorumChange struct {
	state ServiceState
}

// rebuild builds the desired state from the specs and the verdicts and
// returns the services whose quorum changed. m.mu is held.
func (m *Manager) rebuild() []quorumChange {
	var prev map[table.ServiceKey]bool
	if m.built {
		prev = m.desired.QuorumStates()
	}
	now := m.now()
	m.pruneRamps(now)
	d := build(m.specs, m.verdictOf, m.adminAt(now), prev)
	var changed []quorumChange
	for _, s := range d.Services {
		if old, ok := prev[s.Key]; ok && old != s.QuorumUp {
			changed = append(changed, quorumChange{s})
		}
	}
	m.hold(&d, now)
	m.desired, m.built = d, true
	return changed
}

// quorumChanged logs quorum changes and calls the callback, outside the lock.
func (m *Manager) quorumChanged(qs []quorumChange) {
	for _, q := range qs {
		s := q.state
		m.log.Warn("virtual service quorum changed", "service", s.Key.String(), "up", s.QuorumUp,
			"live_weight", s.LiveWeight, "quorum", s.Quorum)
		if m.onQuorum != nil {
			m.onQuorum(s.Key, s.QuorumUp)
		}
	}
}

// diffVerdicts returns the servers of after whose verdict differs from
// before (a server new to after counts as having been up).
func diffVerdicts(before, after HealthView) []HealthChange {
	var out []HealthChange
	for id, h := range after {
		if b := before[id]; !b.Equal(h) {
			out = append(out, HealthChange{Server: id, From: b, To: h})
		}
	}
	sortChanges(out)
	return out
}

func realServerID(svc table.Service, d table.Destination) RealServerID {
	n := normalizeDest(svc, d)
	return RealServerID{Service: svc.Key(), Address: n.Address, Port: n.Port}
}

// CanServe is CanServe on the specs and the last desired table.
func (m *Manager) CanServe(addrs []netip.Addr) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return CanServe(m.specs, m.desired.Table, addrs)
}
