package daemon

import (
	"context"
	"testing"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
)

// ipvs.sync_daemon role both (issue 16): a reload that sets it starts a
// master and a backup daemon, one that changes it to backup stops the
// master only.
func TestDaemonSyncDaemonRoleBoth(t *testing.T) {
	f := start(t, false)
	cl := control.NewClient(f.sock)
	states := func() map[table.DaemonState]bool {
		ds, err := f.k.Daemons()
		if err != nil {
			t.Fatal(err)
		}
		m := map[table.DaemonState]bool{}
		for _, d := range ds {
			if d.Interface == "eth1" && d.SyncID == 7 {
				m[d.State] = true
			}
		}
		return m
	}
	for _, c := range []struct {
		role   string
		master bool
	}{{"both", true}, {"backup", false}} {
		writeConfig(t, f.cfg, f.dir, 3, false, "ipvs:\n  sync_daemon: {interface: eth1, sync_id: 7, role: "+c.role+"}\n")
		if _, err := cl.Reload(context.Background(), control.ReloadRequest{}); err != nil {
			t.Fatalf("reload (role %s): %v", c.role, err)
		}
		if got := states(); len(got) != map[bool]int{true: 2, false: 1}[c.master] || !got[table.DaemonBackup] || got[table.DaemonMaster] != c.master {
			t.Errorf("role %s: daemons %v", c.role, got)
		}
	}
}
