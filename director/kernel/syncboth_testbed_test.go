//go:build testbed_guest

package kernel_test

import (
	"testing"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/table"
)

// Role both (issue 16: N active directors): the real kernel runs a master
// and a backup sync daemon at once, on one interface and sync id, and a
// second ensure changes nothing.
func TestTestbedSyncDaemonBoth(t *testing.T) {
	h := open(t)
	veth(t, "lbsyncb0", "lbsyncb1")
	want := []table.Daemon{
		{State: table.DaemonBackup, Interface: "lbsyncb0", SyncID: 9},
		{State: table.DaemonMaster, Interface: "lbsyncb0", SyncID: 9},
	}
	ch, err := director.EnsureSyncDaemons(h, want)
	if err != nil || len(ch) != 2 {
		t.Fatalf("start both: %v %v", ch, err)
	}
	ds, err := h.Daemons()
	if err != nil || len(ds) != 2 || ds[0].State == ds[1].State {
		t.Fatalf("daemons %+v %v: want a master and a backup", ds, err)
	}
	t.Logf("ipvsadm -L --daemon:\n%s", ipvsadm(t, "-L", "--daemon"))
	if ch, err := director.EnsureSyncDaemons(h, want); err != nil || len(ch) != 0 {
		t.Errorf("second ensure: %v %v", ch, err)
	}
	if _, err := director.EnsureSyncDaemons(h, nil); err != nil {
		t.Fatal(err)
	}
	if ds, _ := h.Daemons(); len(ds) != 0 {
		t.Errorf("daemons left: %+v", ds)
	}
}
