package daemon

import (
	"context"
	"testing"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
)

func TestStatusSource(t *testing.T) {
	k := fake.New()
	r := newRec(t, k)
	m := director.NewManager(director.ManagerConfig{Reconciler: r})
	s := spec(true) // inhibit_on_failure
	ctx := context.Background()
	if _, err := m.SetSpecs(ctx, []director.ServiceSpec{s}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetHealth(ctx, rsID(s, "192.168.56.201:80"), director.Health{Down: true, Reason: "connection refused"}); err != nil {
		t.Fatal(err)
	}
	// Someone edits a weight behind our back.
	d := s.RealServers[2].Dest
	d.Weight = 9
	if err := k.UpdateDestination(s.Service, d); err != nil {
		t.Fatal(err)
	}
	k.StartDaemon(table.Daemon{State: table.DaemonMaster, Interface: "eth1", SyncID: 1})

	src := &StatusSource{Kernel: k, Manager: m, Daemons: k}
	var _ control.IPVSSource = src
	var _ control.HealthSource = src

	st := src.IPVSStatus(ctx)
	if st.Error != "" || len(st.Table.Services) != 1 || st.Info.ConnTableSize != 4096 || st.Timeouts.TCP != 900 || len(st.Daemons) != 1 {
		t.Fatalf("ipvs status %+v", st)
	}
	if st.InSync || len(st.Pending) != 1 || st.Pending[0] != "-e -t 192.168.56.90:80 -r 192.168.56.202:80 -g -w 3 (weight 9 -> 3)" {
		t.Errorf("in sync %v, pending %v", st.InSync, st.Pending)
	}
	if st.LastApply == nil || st.LastApply.Kind != "apply" || st.Writes == 0 || len(st.Managed) != 1 {
		t.Errorf("last %+v writes %d managed %v", st.LastApply, st.Writes, st.Managed)
	}

	qs, rss := src.HealthStatus(ctx)
	if len(qs) != 1 || !qs[0].QuorumUp || qs[0].LiveWeight != 4 {
		t.Errorf("quorum %+v", qs)
	}
	if len(rss) != 3 {
		t.Fatalf("real servers %+v", rss)
	}
	byAddr := map[string]control.RealServer{}
	for _, rs := range rss {
		byAddr[rs.Address.String()] = rs
	}
	down := byAddr["192.168.56.201"]
	if down.Up || down.ConfiguredWeight != 2 || down.DesiredWeight == nil || *down.DesiredWeight != 0 ||
		down.KernelWeight == nil || *down.KernelWeight != 0 || down.Reason != "inhibited: health down: connection refused" {
		t.Errorf("inhibited server %+v", down)
	}
	edited := byAddr["192.168.56.202"]
	if *edited.DesiredWeight != 3 || *edited.KernelWeight != 9 {
		t.Errorf("edited server desired %d kernel %d", *edited.DesiredWeight, *edited.KernelWeight)
	}

	// Resync repairs; the status shows it in sync again.
	if _, err := r.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := src.IPVSStatus(ctx); !st.InSync || st.Repairs != 1 || st.LastApply.Kind != "resync" {
		t.Errorf("after resync: in sync %v repairs %d", st.InSync, st.Repairs)
	}
	cr := ControlResult(r.Last())
	if cr.Kind != "resync" || len(cr.Ops) != 1 || cr.Writes != 1 {
		t.Errorf("control result %+v", cr)
	}
}

func TestControlActions(t *testing.T) {
	k := fake.New()
	r := newRec(t, k)
	web := svc(table.ProtoTCP, "192.168.56.90:80", "rr")
	web.Destinations = []table.Destination{dst("192.168.56.200:80", table.ForwardRoute, 1)}
	if _, err := r.Apply(context.Background(), table.Table{Services: []table.Service{web}}); err != nil {
		t.Fatal(err)
	}
	k.RemoveDestination(web, web.Destinations[0])
	var a control.Actions = ControlActions{Reconciler: r}
	res, err := a.Resync(context.Background())
	if err != nil || res.Kind != "resync" || len(res.Ops) != 1 || res.Ops[0] != "-a -t 192.168.56.90:80 -r 192.168.56.200:80 -g -w 1" {
		t.Errorf("resync %+v %v", res, err)
	}
	if _, err := a.Reload(context.Background()); err == nil {
		t.Error("reload without ReloadFunc succeeded")
	}
}
