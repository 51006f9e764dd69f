package director

import (
	"fmt"

	"github.com/lvsd/lb/director/table"
)

// The dry run of an apply (lbctl reload --dry-run, lbd plan): the same
// steps as SetSpecs and Apply, stopped before the first write. The desired
// table comes from build with the check states SetSpecs would keep; the
// writes from the same read-back and the same Diff a reconcile's first
// round makes, so the plan is what the apply then writes when nothing
// changes between the two (a check report, a hand edit).

// Preview returns the desired state SetSpecs(specs) would build, with the
// check states it would keep (a check still configured keeps its state,
// a new one counts as not reported), without changing the Manager.
func (m *Manager) Preview(specs []ServiceSpec) Desired {
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := keptStates(specs, m.checks)
	var prev map[table.ServiceKey]bool
	if m.built {
		prev = m.desired.QuorumStates()
	}
	return build(specs, func(_ RealServerID, rs *RealServerSpec) Health {
		if len(rs.Checks) == 0 {
			return Health{}
		}
		return verdict(rs.Checks, kept)
	}, m.adminAt(m.now()), prev) // the operators' overrides and the slow starts, as SetSpecs keeps them
}

// keptStates is the states of checks that specs still has.
func keptStates(specs []ServiceSpec, states map[string]CheckState) map[string]CheckState {
	kept := make(map[string]CheckState, len(states))
	for _, s := range specs {
		for _, rs := range s.RealServers {
			for _, c := range rs.Checks {
				if st, ok := states[c.ID]; ok {
					kept[c.ID] = st
				}
			}
		}
	}
	return kept
}

// Plan returns the writes Apply(desired) would make now, in order, without
// making them: it reads back what that apply would read (the whole table,
// or only the services whose spec changed since the last apply) and diffs
// it under the same rules (purge, managed services).
func (r *Reconciler) Plan(desired table.Table) ([]table.Op, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var scope []table.ServiceKey
	d := desired
	if r.desired != nil && r.synced {
		scope, d = changedServices(*r.desired, desired, true) // owned: d is only read
	}
	v := newView(r.cfg.Kernel, d, scope)
	actual, err := v.read()
	if err != nil {
		return nil, fmt.Errorf("read IPVS table: %w", err)
	}
	return table.Diff(v.desired, actual, r.diffOptions()), nil
}

// PlanSettings returns what ApplySettings(s) would change (the same lines
// it logs), without writing.
func (r *Reconciler) PlanSettings(s Settings) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settingsDiff(s, false, true)
}
