package director

import (
	"fmt"
	"slices"

	"github.com/lvsd/lb/director/table"
)

// Removals is what applying a table of the services desired would remove
// from the kernel: the services there that this reconciler manages (every
// service there with Purge) and that desired lacks, sorted, and how many
// services it manages there now. It writes nothing. It reads the kernel's
// service list (no destinations) only when the answer may be non-empty:
// without Purge, when a managed service is missing from desired. Managed
// is exact when removed is not empty.
//
// At start the managed services are those the store remembers (the state
// directory's ipvs-managed.json), so that a start never removes a service
// lbd did not put there, and a service lbd put there but that the kernel no
// longer holds (after a reboot) is not counted.
func (r *Reconciler) Removals(desired []table.ServiceKey) (removed []table.ServiceKey, managed int, err error) {
	want := make(map[table.ServiceKey]bool, len(desired))
	for _, k := range desired {
		want[k.Normalize()] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.cfg.Purge && !r.managedMissing(want) {
		return nil, len(r.managed), nil
	}
	svcs, err := r.cfg.Kernel.Services()
	if err != nil {
		return nil, 0, fmt.Errorf("list IPVS services: %w", err)
	}
	for _, s := range svcs {
		k := s.Key()
		if !r.cfg.Purge && !r.managed[k] {
			continue
		}
		managed++
		if !want[k] {
			removed = append(removed, k)
		}
	}
	slices.SortFunc(removed, table.ServiceKey.Compare)
	return removed, managed, nil
}

// managedMissing reports whether a managed service is not in want. r.mu
// is held.
func (r *Reconciler) managedMissing(want map[table.ServiceKey]bool) bool {
	for k := range r.managed {
		if !want[k] {
			return true
		}
	}
	return false
}
