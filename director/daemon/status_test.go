package daemon

import (
	"context"
	"testing"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/healthcheck"
)

const statusYAML = `
global: {state_dir: %s, control_socket: %s/lbd.sock, metrics_address: "", router_id: LVS_DEVEL}
virtual_servers:
  - address: 192.168.56.90
    port: 80
    scheduler: wrr
    inhibit_on_failure: true
    real_servers:
      - {address: 192.168.56.200, weight: 1}
      - {address: 192.168.56.201, weight: 2, checks: [{type: tcp}]}
      - {address: 192.168.56.202, weight: 3}
`

// TestStatus reads the one status the control socket serves: the kernel's
// table against the desired one, each real server's weights and why, the
// daemon's identity; and Resync repairs what it shows.
func TestStatus(t *testing.T) {
	d, k := applied(t, statusYAML)
	ctx := context.Background()
	var tcp healthcheck.ID
	for id := range d.subscriptions() {
		tcp = id
	}
	d.onTransition(ctx, healthcheck.Transition{IDs: []healthcheck.ID{tcp}, Up: false, Result: healthcheck.Result{Reason: "connection refused"}})
	// Someone edits a weight behind our back, and starts a sync daemon.
	svc := k.Table().Services[0]
	var edited table.Destination
	for _, dst := range svc.Destinations {
		if dst.Address.String() == "192.168.56.202" {
			edited = dst
		}
	}
	edited.Weight = 9
	if err := k.UpdateDestination(svc, edited); err != nil {
		t.Fatal(err)
	}
	k.StartDaemon(table.Daemon{State: table.DaemonMaster, Interface: "eth1", SyncID: 1})

	st := d.Status(ctx)
	if st.Daemon.RouterID != "LVS_DEVEL" || st.Daemon.ConfigFile == "" || st.Daemon.LastReload.IsZero() || st.Daemon.PID == 0 {
		t.Errorf("daemon info %+v", st.Daemon)
	}
	ipvs := st.IPVS
	if ipvs.Error != "" || len(ipvs.Table.Services) != 1 || ipvs.Info.ConnTableSize != 4096 || ipvs.Timeouts.TCP != 900 || len(ipvs.Daemons) != 1 {
		t.Fatalf("ipvs status %+v", ipvs)
	}
	if ipvs.InSync || len(ipvs.Pending) != 1 || ipvs.Pending[0] != "-e -t 192.168.56.90:80 -r 192.168.56.202:80 -g -w 3 (weight 9 -> 3)" {
		t.Errorf("in sync %v, pending %v", ipvs.InSync, ipvs.Pending)
	}
	if ipvs.LastApply == nil || ipvs.LastApply.Kind != "apply" || ipvs.Writes == 0 || len(ipvs.Managed) != 1 {
		t.Errorf("last %+v writes %d managed %v", ipvs.LastApply, ipvs.Writes, ipvs.Managed)
	}
	if len(st.Services) != 1 || !st.Services[0].QuorumUp || st.Services[0].LiveWeight != 4 {
		t.Errorf("quorum %+v", st.Services)
	}
	byAddr := map[string]control.RealServer{}
	for _, rs := range st.RealServers {
		byAddr[rs.Address.String()] = rs
	}
	down := byAddr["192.168.56.201"]
	if down.Up || down.ConfiguredWeight != 2 || down.DesiredWeight == nil || *down.DesiredWeight != 0 ||
		down.KernelWeight == nil || *down.KernelWeight != 0 || down.Reason != "inhibited: health down: tcp#0: connection refused" {
		t.Errorf("inhibited server %+v", down)
	}
	if e := byAddr["192.168.56.202"]; *e.DesiredWeight != 3 || *e.KernelWeight != 9 {
		t.Errorf("edited server desired %d kernel %d", *e.DesiredWeight, *e.KernelWeight)
	}
	if len(st.Checks) != 1 || st.Checks[0].Check != "tcp#0" {
		t.Errorf("checks %+v", st.Checks)
	}

	// Resync repairs; the status shows it in sync again.
	res, err := d.Resync(ctx)
	if err != nil || res.Kind != "resync" || len(res.Ops) != 1 || res.Writes != 1 {
		t.Fatalf("resync %+v %v", res, err)
	}
	if st := d.Status(ctx).IPVS; !st.InSync || st.Repairs != 1 || st.LastApply.Kind != "resync" {
		t.Errorf("after resync: in sync %v repairs %d", st.InSync, st.Repairs)
	}
}
