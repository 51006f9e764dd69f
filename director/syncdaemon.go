package director

import (
	"errors"
	"fmt"
	"slices"

	"github.com/lvsd/lb/director/table"
)

// EnsureSyncDaemon makes want the only running sync daemon (nil: none),
// stopping and starting daemons only where they differ. lbd calls it at start
// and on each VRRP transition of the instance driving the role (keepalived
// runs the master daemon on the VRRP master, the backup one elsewhere).
// It returns what it changed.
func EnsureSyncDaemon(k SyncDaemons, want *table.Daemon) ([]string, error) {
	if want == nil {
		return EnsureSyncDaemons(k, nil)
	}
	return EnsureSyncDaemons(k, []table.Daemon{*want})
}

// EnsureSyncDaemons makes want the running sync daemons (at most one per
// state: a master, a backup, or both at once, as each of N active
// directors runs them), stopping and starting only those that differ.
func EnsureSyncDaemons(k SyncDaemons, want []table.Daemon) ([]string, error) {
	running, err := k.Daemons()
	if err != nil {
		return nil, err
	}
	var changed []string
	var errs []error
	keep := map[table.DaemonState]bool{}
	for _, d := range running {
		if slices.ContainsFunc(want, func(w table.Daemon) bool {
			return d.State == w.State && d.Interface == w.Interface && d.SyncID == w.SyncID
		}) {
			keep[d.State] = true
			continue
		}
		if err := k.StopDaemon(d.State); err != nil {
			errs = append(errs, err)
			continue
		}
		changed = append(changed, fmt.Sprintf("stopped %s sync daemon (mcast=%s, syncid=%d)", d.State, d.Interface, d.SyncID))
	}
	for _, w := range want {
		if keep[w.State] {
			continue
		}
		if err := k.StartDaemon(w); err != nil {
			errs = append(errs, err)
		} else {
			changed = append(changed, fmt.Sprintf("started %s sync daemon (mcast=%s, syncid=%d)", w.State, w.Interface, w.SyncID))
		}
	}
	return changed, errors.Join(errs...)
}
