package daemon

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/discovery"
	"github.com/lvsd/lb/internal/config"
)

// alphaYAML has one service whose real servers set alpha at each level
// (the most specific wins) and a discovered member; .5 is at weight 0.
const alphaYAML = `
virtual_servers:
  - address: 192.0.2.10
    port: 80
    alpha: %s
    real_servers:
      - address: 198.51.100.1
        checks: [{type: tcp}]
      - address: 198.51.100.2
        alpha: true
        checks: [{type: tcp}, {type: tcp, connect_port: 8080, alpha: false}]
      - address: 198.51.100.3
        checks: [{type: tcp, alpha: true}]
      - address: 198.51.100.4
`

// TestSpecsFromConfigAlpha: each check's effective alpha becomes
// DownUntilReport, for every real server, except on a trusted one; the
// Manager's verdict before any report follows (down only on an untrusted
// server with an alpha check), so does the desired table.
func TestSpecsFromConfigAlpha(t *testing.T) {
	rid := func(a string) director.RealServerID {
		return director.RealServerID{Service: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP,
			Address: netip.MustParseAddr("192.0.2.10"), Port: 80}, Address: netip.MustParseAddr(a), Port: 80}
	}
	for _, tt := range []struct {
		name     string
		vsAlpha  string
		trusted  []string
		discover bool // .6 is a discovered member not trusted yet (alpha from trust_new: false)
		// want: each server's DownUntilReport per check, and the servers the
		// desired table holds before any check reports.
		want     map[string][]bool
		inTable  []string
		wantDown []string
	}{
		{
			name: "no alpha on the service", vsAlpha: "false",
			want:    map[string][]bool{"198.51.100.1": {false}, "198.51.100.2": {true, false}, "198.51.100.3": {true}},
			inTable: []string{"198.51.100.1", "198.51.100.4"}, wantDown: []string{"198.51.100.2", "198.51.100.3"},
		},
		{
			name: "alpha on the service: inherited unless a level below says false", vsAlpha: "true",
			want:    map[string][]bool{"198.51.100.1": {true}, "198.51.100.2": {true, false}, "198.51.100.3": {true}},
			inTable: []string{"198.51.100.4"}, wantDown: []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"},
		},
		{
			name: "trusted servers (up now, or in the kernel at start): alpha waits for a report", vsAlpha: "true",
			trusted: []string{"198.51.100.1", "198.51.100.3"},
			want:    map[string][]bool{"198.51.100.1": {false}, "198.51.100.2": {true, false}, "198.51.100.3": {false}},
			inTable: []string{"198.51.100.1", "198.51.100.3", "198.51.100.4"}, wantDown: []string{"198.51.100.2"},
		},
		{
			name: "a discovered member not trusted: down until its check passes", vsAlpha: "false", discover: true,
			want: map[string][]bool{"198.51.100.1": {false}, "198.51.100.2": {true, false}, "198.51.100.3": {true},
				"198.51.100.6": {true}},
			inTable: []string{"198.51.100.1", "198.51.100.4"}, wantDown: []string{"198.51.100.2", "198.51.100.3", "198.51.100.6"},
		},
		{
			name: "a discovered member trusted", vsAlpha: "false", discover: true, trusted: []string{"198.51.100.6"},
			want: map[string][]bool{"198.51.100.1": {false}, "198.51.100.2": {true, false}, "198.51.100.3": {true},
				"198.51.100.6": {false}},
			inTable: []string{"198.51.100.1", "198.51.100.4", "198.51.100.6"}, wantDown: []string{"198.51.100.2", "198.51.100.3"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.ParseDirector("lbd.yaml", []byte(fmt.Sprintf(alphaYAML, tt.vsAlpha)))
			if err != nil {
				t.Fatal(err)
			}
			trusted := map[director.RealServerID]bool{}
			for _, a := range tt.trusted {
				trusted[rid(a)] = true
			}
			if tt.discover {
				vs := &cfg.VirtualServers[0]
				vs.Discovery = &config.Discovery{Path: "/sgroup", Forwarding: config.DR, Checks: []config.Check{{Type: config.CheckTCP}}}
				m := discovery.Member{Znode: "sub0000000006", Addr: netip.MustParseAddrPort("198.51.100.6:80"), Weight: 1}
				rs, why := memberServer(vs, m, trusted[rid("198.51.100.6")])
				if why != "" {
					t.Fatal(why)
				}
				vs.RealServers = append(vs.RealServers, rs)
			}
			specs, err := SpecsFromConfig(cfg.VirtualServers, Checks(cfg.VirtualServers), trusted)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]bool{}
			for _, rs := range specs[0].RealServers {
				for _, c := range rs.Checks {
					a := rs.Dest.Address.String()
					got[a] = append(got[a], c.DownUntilReport)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DownUntilReport by server %v, want %v", got, tt.want)
			}
			rec, err := director.NewReconciler(director.ReconcilerConfig{Kernel: fake.New()})
			if err != nil {
				t.Fatal(err)
			}
			d := director.NewManager(director.ManagerConfig{Reconciler: rec}).Preview(specs)
			var in, down []string
			for _, s := range d.Table.Services {
				for _, dst := range s.Destinations {
					in = append(in, dst.Address.String())
				}
			}
			for _, r := range d.RealServers {
				if !r.Up {
					down = append(down, r.ID.Address.String())
				}
			}
			if !reflect.DeepEqual(in, tt.inTable) || !reflect.DeepEqual(down, tt.wantDown) {
				t.Errorf("before any report: table %v, down %v; want %v, down %v", in, down, tt.inTable, tt.wantDown)
			}
		})
	}
}

// TestKernelServing: the real servers the kernel holds as up are trusted at
// start: with a weight above 0, or at weight 0 when drained or configured
// at 0; one at weight 0 otherwise (inhibited), one absent, and a
// destination that is no configured real server are not.
func TestKernelServing(t *testing.T) {
	cfg, err := config.ParseDirector("lbd.yaml", []byte(fmt.Sprintf(alphaYAML, "true")))
	if err != nil {
		t.Fatal(err)
	}
	key := ServiceKeyOf(&cfg.VirtualServers[0])
	dest := func(a string, w uint32) table.Destination {
		return table.Destination{Address: netip.MustParseAddr(a), Port: 80, Weight: w, Forward: table.ForwardRoute, Family: table.FamilyIPv4}
	}
	id := func(a string) director.RealServerID {
		return director.RealServerID{Service: key, Address: netip.MustParseAddr(a), Port: 80}
	}
	cfg.VirtualServers[0].RealServers[3].Weight = 0 // 198.51.100.4: up at weight 0
	for _, tt := range []struct {
		name    string
		kt      table.Table
		drained []string
		wants   []string
	}{
		{"empty kernel", table.Table{}, nil, nil},
		{"serving; at weight 0 (inhibited); unknown", table.Table{Services: []table.Service{{ServiceKey: key, Scheduler: "wlc",
			Destinations: []table.Destination{dest("198.51.100.1", 1), dest("198.51.100.2", 0), dest("198.51.100.9", 5)}}}},
			nil, []string{"198.51.100.1"}},
		{"at weight 0: drained, or configured 0", table.Table{Services: []table.Service{{ServiceKey: key, Scheduler: "wlc",
			Destinations: []table.Destination{dest("198.51.100.2", 0), dest("198.51.100.3", 0), dest("198.51.100.4", 0)}}}},
			[]string{"198.51.100.2"}, []string{"198.51.100.2", "198.51.100.4"}},
		{"another service", table.Table{Services: []table.Service{{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4,
			Protocol: table.ProtoTCP, Address: netip.MustParseAddr("192.0.2.11"), Port: 80}, Scheduler: "wlc",
			Destinations: []table.Destination{dest("198.51.100.1", 1)}}}}, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			drained := map[director.RealServerID]bool{}
			for _, a := range tt.drained {
				drained[id(a)] = true
			}
			got := kernelServing(cfg.VirtualServers, tt.kt, drained)
			want := map[director.RealServerID]bool{}
			for _, a := range tt.wants {
				want[id(a)] = true
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("kernelServing = %v, want %v", got, want)
			}
		})
	}
}
