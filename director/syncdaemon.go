package director

import (
	"errors"
	"fmt"

	"github.com/lvsd/lb/director/table"
)

// EnsureSyncDaemon makes want the only running sync daemon (nil: none),
// stopping and starting daemons only where they differ. lbd calls it at start
// and on each VRRP transition of the instance driving the role (keepalived
// runs the master daemon on the VRRP master, the backup one elsewhere).
// It returns what it changed.
func EnsureSyncDaemon(k SyncDaemons, want *table.Daemon) ([]string, error) {
	running, err := k.Daemons()
	if err != nil {
		return nil, err
	}
	var changed []string
	var errs []error
	keep := false
	for _, d := range running {
		if want != nil && d.State == want.State && d.Interface == want.Interface && d.SyncID == want.SyncID {
			keep = true
			continue
		}
		if err := k.StopDaemon(d.State); err != nil {
			errs = append(errs, err)
			continue
		}
		changed = append(changed, fmt.Sprintf("stopped %s sync daemon (mcast=%s, syncid=%d)", d.State, d.Interface, d.SyncID))
	}
	if want != nil && !keep {
		if err := k.StartDaemon(*want); err != nil {
			errs = append(errs, err)
		} else {
			changed = append(changed, fmt.Sprintf("started %s sync daemon (mcast=%s, syncid=%d)", want.State, want.Interface, want.SyncID))
		}
	}
	return changed, errors.Join(errs...)
}
