package director_test

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/director/table/tabletest"
)

func spec(quorum, hysteresis int, sorry *director.SorrySpec, inhibit bool) director.ServiceSpec {
	s := director.ServiceSpec{Service: tabletest.Service(table.ProtoTCP, "192.168.56.90:80", "wrr"), Quorum: quorum, Hysteresis: hysteresis, Sorry: sorry}
	for i, a := range []string{"192.168.56.200:80", "192.168.56.201:80", "192.168.56.202:80"} {
		s.RealServers = append(s.RealServers, director.RealServerSpec{Dest: tabletest.Dest(a, table.ForwardRoute, uint32(i+1)), InhibitOnFailure: inhibit})
	}
	return s
}

func rsID(s director.ServiceSpec, addr string) director.RealServerID {
	a := ap(addr)
	return director.RealServerID{Service: s.Service.Key(), Address: a.Addr(), Port: a.Port()}
}

type destView struct {
	addr   string
	weight uint32
}

func destsOf(d director.Desired) []destView {
	var out []destView
	for _, s := range d.Table.Services {
		for _, x := range s.Destinations {
			out = append(out, destView{netipString(x), x.Weight})
		}
	}
	return out
}

func netipString(d table.Destination) string { return d.Key().String() }

func u32(v uint32) *uint32 { return &v }

func TestBuildHealth(t *testing.T) {
	s := spec(1, 0, nil, false)
	tests := []struct {
		name    string
		spec    director.ServiceSpec
		health  director.HealthView
		want    []destView
		reasons map[string]string
	}{
		{"all up", s, nil,
			[]destView{{"192.168.56.200:80", 1}, {"192.168.56.201:80", 2}, {"192.168.56.202:80", 3}}, nil},
		{"one down is removed", s, director.HealthView{rsID(s, "192.168.56.201:80"): {Down: true, Reason: "HTTP 503"}},
			[]destView{{"192.168.56.200:80", 1}, {"192.168.56.202:80", 3}},
			map[string]string{"192.168.56.201:80": "health down: HTTP 503"}},
		{"inhibit_on_failure keeps it at weight 0", spec(1, 0, nil, true),
			director.HealthView{rsID(s, "192.168.56.201:80"): {Down: true, Reason: "timeout"}},
			[]destView{{"192.168.56.200:80", 1}, {"192.168.56.201:80", 0}, {"192.168.56.202:80", 3}},
			map[string]string{"192.168.56.201:80": "inhibited: health down: timeout"}},
		{"dynamic weight", s, director.HealthView{rsID(s, "192.168.56.200:80"): {Weight: u32(7), Reason: "script said 9"}},
			[]destView{{"192.168.56.200:80", 7}, {"192.168.56.201:80", 2}, {"192.168.56.202:80", 3}},
			map[string]string{"192.168.56.200:80": "weight set by check: script said 9"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := director.Build([]director.ServiceSpec{tc.spec}, tc.health, nil)
			if got := destsOf(d); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("dests %v, want %v", got, tc.want)
			}
			for _, rs := range d.RealServers {
				key := table.DestKey{Address: rs.ID.Address, Port: rs.ID.Port}.String()
				if want := tc.reasons[key]; rs.Reason != want {
					t.Errorf("%s reason %q, want %q", key, rs.Reason, want)
				}
			}
		})
	}
}

func TestBuildQuorumAndSorryServer(t *testing.T) {
	sorry := &director.SorrySpec{Dest: tabletest.Dest("10.0.0.9:80", table.ForwardMasq, 1)}
	s := spec(4, 1, sorry, false) // weights 1, 2, 3: live 6
	down := func(addrs ...string) director.HealthView {
		h := director.HealthView{}
		for _, a := range addrs {
			h[rsID(s, a)] = director.Health{Down: true}
		}
		return h
	}
	all := []destView{{"192.168.56.200:80", 1}, {"192.168.56.201:80", 2}, {"192.168.56.202:80", 3}}

	d := director.Build([]director.ServiceSpec{s}, nil, nil)
	if !d.Services[0].QuorumUp || !reflect.DeepEqual(destsOf(d), all) {
		t.Fatalf("start: %+v %v", d.Services, destsOf(d))
	}
	q := d.QuorumStates()

	// live 4 (>= quorum - hysteresis = 3): still up.
	d = director.Build([]director.ServiceSpec{s}, down("192.168.56.201:80"), q)
	if !d.Services[0].QuorumUp || d.Services[0].LiveWeight != 4 {
		t.Fatalf("live 4: %+v", d.Services[0])
	}
	q = d.QuorumStates()
	// live 1 < 3: lost; the sorry server replaces the live real servers.
	d = director.Build([]director.ServiceSpec{s}, down("192.168.56.201:80", "192.168.56.202:80"), q)
	if d.Services[0].QuorumUp || !d.Services[0].SorryActive {
		t.Fatalf("live 1: %+v", d.Services[0])
	}
	if got := destsOf(d); !reflect.DeepEqual(got, []destView{{"10.0.0.9:80", 1}}) {
		t.Errorf("sorry: %v", got)
	}
	for _, rs := range d.RealServers {
		if rs.ID.Address.String() == "192.168.56.200" && rs.Reason != "quorum lost: sorry server in use" {
			t.Errorf("live server reason %q", rs.Reason)
		}
		if rs.Sorry && (!rs.InTable || rs.Reason != "quorum lost: serving") {
			t.Errorf("sorry state %+v", rs)
		}
	}
	q = d.QuorumStates()
	// live 4: below quorum + hysteresis (5): still lost.
	d = director.Build([]director.ServiceSpec{s}, down("192.168.56.201:80"), q)
	if d.Services[0].QuorumUp {
		t.Fatalf("hysteresis ignored: %+v", d.Services[0])
	}
	q = d.QuorumStates()
	// live 6 >= 5: back.
	d = director.Build([]director.ServiceSpec{s}, nil, q)
	if !d.Services[0].QuorumUp || !reflect.DeepEqual(destsOf(d), all) {
		t.Fatalf("recovered: %+v %v", d.Services[0], destsOf(d))
	}
}

func TestBuildSorryInhibitAndNoSorry(t *testing.T) {
	sorry := &director.SorrySpec{Dest: tabletest.Dest("10.0.0.9:8080", table.ForwardRoute, 1), Inhibit: true}
	s := spec(1, 0, sorry, false)
	d := director.Build([]director.ServiceSpec{s}, nil, nil)
	// Inhibited sorry server: in the table at weight 0; DR: port forced to 80.
	found := false
	for _, x := range d.Table.Services[0].Destinations {
		if x.Address.String() == "10.0.0.9" {
			found = true
			if x.Weight != 0 || x.Port != 80 {
				t.Errorf("idle sorry %+v", x)
			}
		}
	}
	if !found {
		t.Error("inhibited sorry server missing")
	}
	// Quorum lost without sorry server: keepalived keeps what is left.
	s2 := spec(5, 0, nil, false)
	d = director.Build([]director.ServiceSpec{s2}, director.HealthView{rsID(s2, "192.168.56.202:80"): {Down: true}}, nil)
	if d.Services[0].QuorumUp || len(d.Table.Services[0].Destinations) != 2 {
		t.Errorf("no sorry: %+v %v", d.Services[0], destsOf(d))
	}
	// All down: quorum lost at live weight 0 even with quorum 0.
	s3 := spec(0, 0, nil, false)
	h := director.HealthView{}
	for _, rs := range s3.RealServers {
		h[rsID(s3, rs.Dest.Key().String())] = director.Health{Down: true}
	}
	d = director.Build([]director.ServiceSpec{s3}, h, map[table.ServiceKey]bool{s3.Service.Key(): true})
	if d.Services[0].QuorumUp || len(d.Table.Services[0].Destinations) != 0 {
		t.Errorf("all down: %+v", d.Services[0])
	}
}

func TestEnsureSyncDaemon(t *testing.T) {
	k := fake.New()
	master := table.Daemon{State: table.DaemonMaster, Interface: "eth1", SyncID: 51}
	ch, err := director.EnsureSyncDaemon(k, &master)
	if err != nil || len(ch) != 1 {
		t.Fatalf("%v %v", ch, err)
	}
	k.ResetCounters()
	if ch, err := director.EnsureSyncDaemon(k, &master); err != nil || len(ch) != 0 || k.Writes() != 0 {
		t.Errorf("idempotent: %v %v %d", ch, err, k.Writes())
	}
	backup := table.Daemon{State: table.DaemonBackup, Interface: "eth1", SyncID: 51}
	if ch, err := director.EnsureSyncDaemon(k, &backup); err != nil || len(ch) != 2 {
		t.Errorf("switch: %v %v", ch, err)
	}
	ds, _ := k.Daemons()
	if len(ds) != 1 || ds[0].State != table.DaemonBackup {
		t.Errorf("daemons %+v", ds)
	}
	director.EnsureSyncDaemon(k, nil)
	if ds, _ := k.Daemons(); len(ds) != 0 {
		t.Errorf("left %+v", ds)
	}
}

func TestCanServe(t *testing.T) {
	vip := netip.MustParseAddr("192.168.56.90")
	other := netip.MustParseAddr("192.168.56.91")
	// svc is a service at addr whose real servers have weights (the desired
	// table's) and are health-checked when checked.
	type svcDef struct {
		addr    string
		checked bool
		weights []uint32
	}
	svc := func(addr string, weights ...uint32) svcDef { return svcDef{addr, true, weights} }
	unchecked := func(addr string, weights ...uint32) svcDef { return svcDef{addr, false, weights} }
	build := func(defs []svcDef) ([]director.ServiceSpec, table.Table) {
		var specs []director.ServiceSpec
		var tab table.Table
		for _, d := range defs {
			s := tabletest.Service(table.ProtoTCP, d.addr, "rr")
			spec := director.ServiceSpec{Service: s}
			for i := range 2 { // two configured real servers, checked or not
				rs := director.RealServerSpec{Dest: tabletest.Dest(fmt.Sprintf("192.168.56.%d:80", 200+i), table.ForwardRoute, 1)}
				if d.checked {
					rs.Checks = []director.CheckRef{{ID: fmt.Sprintf("c%d", i)}}
				}
				spec.RealServers = append(spec.RealServers, rs)
			}
			for i, w := range d.weights {
				s.Destinations = append(s.Destinations, tabletest.Dest(fmt.Sprintf("192.168.56.%d:80", 200+i), table.ForwardRoute, w))
			}
			specs = append(specs, spec)
			tab.Services = append(tab.Services, s)
		}
		return specs, tab
	}
	tests := []struct {
		name  string
		svcs  []svcDef
		addrs []netip.Addr
		want  bool
	}{
		{"no service on the addresses: not the table's to judge", []svcDef{svc("192.168.56.91:80")}, []netip.Addr{vip}, true},
		{"empty table", nil, []netip.Addr{vip}, true},
		{"a real server with a weight", []svcDef{svc("192.168.56.90:80", 0, 1)}, []netip.Addr{vip}, true},
		{"every real server gone", []svcDef{svc("192.168.56.90:80")}, []netip.Addr{vip}, false},
		{"every real server inhibited (weight 0)", []svcDef{svc("192.168.56.90:80", 0, 0)}, []netip.Addr{vip}, false},
		{"one of the VIP's checked services can", []svcDef{svc("192.168.56.90:80"), svc("192.168.56.90:443", 1)}, []netip.Addr{vip}, true},
		// The soak's case: VIP:80 checked and empty, VIP:8081 unchecked and full.
		{"an unchecked service says nothing", []svcDef{svc("192.168.56.90:80"), unchecked("192.168.56.90:8081", 1, 1)}, []netip.Addr{vip}, false},
		{"only unchecked services: not the table's to judge", []svcDef{unchecked("192.168.56.90:8081")}, []netip.Addr{vip}, true},
		{"another address can, ours cannot", []svcDef{svc("192.168.56.90:80"), svc("192.168.56.91:80", 1)}, []netip.Addr{vip}, false},
		{"two VIPs, the second can", []svcDef{svc("192.168.56.90:80"), svc("192.168.56.91:80", 1)}, []netip.Addr{vip, other}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			specs, tab := build(tc.svcs)
			if got := director.CanServe(specs, tab, tc.addrs); got != tc.want {
				t.Fatalf("CanServe = %v, want %v", got, tc.want)
			}
		})
	}
}

// Role both: a master and a backup daemon at once (each of N active
// directors sends its connections and receives the others'); going back to
// one role stops only the other daemon.
func TestEnsureSyncDaemonsBoth(t *testing.T) {
	k := fake.New()
	master := table.Daemon{State: table.DaemonMaster, Interface: "eth1", SyncID: 7}
	backup := table.Daemon{State: table.DaemonBackup, Interface: "eth1", SyncID: 7}
	if ch, err := director.EnsureSyncDaemons(k, []table.Daemon{backup, master}); err != nil || len(ch) != 2 {
		t.Fatalf("both: %v %v", ch, err)
	}
	if ds, _ := k.Daemons(); len(ds) != 2 {
		t.Fatalf("daemons %+v, want a master and a backup", ds)
	}
	k.ResetCounters()
	if ch, err := director.EnsureSyncDaemons(k, []table.Daemon{backup, master}); err != nil || len(ch) != 0 || k.Writes() != 0 {
		t.Errorf("idempotent: %v %v %d writes", ch, err, k.Writes())
	}
	if ch, err := director.EnsureSyncDaemons(k, []table.Daemon{backup}); err != nil || len(ch) != 1 || !strings.Contains(ch[0], "stopped master") {
		t.Errorf("back to backup: %v %v", ch, err)
	}
	if ds, _ := k.Daemons(); len(ds) != 1 || ds[0].State != table.DaemonBackup {
		t.Errorf("daemons %+v, want the backup", ds)
	}
}
