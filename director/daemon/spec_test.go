package daemon

import (
	"context"
	"reflect"
	"testing"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/director/table/tabletest"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/internal/sysctl"
)

const lbdYAML = `
ipvs:
  timeouts: {tcp: 1s, tcpfin: 1, udp: 1}
  sysctls: {ip_forward: true, expire_nodest_conn: true, conntrack: false, conn_reuse_mode: 2}
virtual_servers:
  - address: 192.168.56.90
    port: 80
    scheduler: rr
    real_servers:
      - address: 192.168.56.200
      - {address: 192.168.56.201, weight: 3}
  - address: 192.168.56.91
    port: 443
    scheduler: sh
    scheduler_flags: [sh-fallback, sh-port]
    persistence_timeout: 300
    persistence_netmask: 255.255.255.0
    forwarding: NAT
    quorum: 2
    hysteresis: 1
    sorry_server: {address: 10.0.0.9, port: 8080, inhibit: true}
    real_servers:
      - {address: 10.0.0.11, port: 8443, upper_threshold: 100, lower_threshold: 10, inhibit_on_failure: true}
      - {address: 10.0.0.12, forwarding: TUN, tunnel: {type: gue, port: 6080, checksum: remcsum}}
  - fwmark: 5
    family: ipv6
    scheduler: mh
    persistence_timeout: 60
    persistence_netmask: 64
    real_servers:
      - {address: "2001:db8::7", weight: 0}
  - address: 10.1.1.1
    port: 53
    protocol: UDP
    one_packet: true
    real_servers:
      - {address: 10.0.0.5, forwarding: TUN, tunnel: {type: gre, checksum: csum}}
  - address: "2001:db8::90"
    port: 3868
    protocol: SCTP
    real_servers:
      - {address: "2001:db8::200"}
`

func TestSpecsFromConfig(t *testing.T) {
	cfg, err := config.ParseDirector("lbd.yaml", []byte(lbdYAML))
	if err != nil {
		t.Fatal(err)
	}
	specs, err := SpecsFromConfig(cfg.VirtualServers, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := director.Build(specs, nil, nil)

	web := tabletest.Service(table.ProtoTCP, "192.168.56.90:80", "rr")
	web.Destinations = []table.Destination{tabletest.Dest("192.168.56.200:80", table.ForwardRoute, 1), tabletest.Dest("192.168.56.201:80", table.ForwardRoute, 3)}

	nat := tabletest.Service(table.ProtoTCP, "192.168.56.91:443", "sh")
	nat.Flags = table.FlagPersistent | table.FlagSHFallback | table.FlagSHPort
	nat.Timeout, nat.Netmask = 300, 0xffffff00
	th := tabletest.Dest("10.0.0.11:8443", table.ForwardMasq, 1)
	th.UpperThreshold, th.LowerThreshold = 100, 10
	gue := tabletest.Dest("10.0.0.12:443", table.ForwardTunnel, 1)
	gue.TunnelType, gue.TunnelPort, gue.TunnelFlags = table.TunnelGUE, 6080, table.TunnelRemCsum
	nat.Destinations = []table.Destination{th, gue, tabletest.Dest("10.0.0.9:8080", table.ForwardMasq, 0)} // idle inhibited sorry server

	fw := table.Service{ServiceKey: table.ServiceKey{FWMark: 5, Family: table.FamilyIPv6}, Scheduler: "mh",
		Flags: table.FlagPersistent, Timeout: 60, Netmask: 64}
	fw.Destinations = []table.Destination{tabletest.Dest("[2001:db8::7]:0", table.ForwardRoute, 0)}

	dns := tabletest.Service(table.ProtoUDP, "10.1.1.1:53", "wlc")
	dns.Flags = table.FlagOnePacket
	gre := tabletest.Dest("10.0.0.5:53", table.ForwardTunnel, 1)
	gre.TunnelType, gre.TunnelFlags = table.TunnelGRE, table.TunnelCsum
	dns.Destinations = []table.Destination{gre}

	sctp := tabletest.Service(table.ProtoSCTP, "[2001:db8::90]:3868", "wlc")
	sctp.Destinations = []table.Destination{tabletest.Dest("[2001:db8::200]:3868", table.ForwardRoute, 1)}

	want := table.Table{Services: []table.Service{web, nat, fw, dns, sctp}}
	if ops := table.Diff(want, d.Table, table.DiffOptions{Purge: true}); len(ops) != 0 {
		t.Errorf("desired table differs from the configuration: %v", ops)
	}
	if ops := table.Diff(d.Table, want, table.DiffOptions{Purge: true}); len(ops) != 0 {
		t.Errorf("desired table has more than the configuration: %v", ops)
	}

	// And it programs: through the fake, every kind of service.
	k := fake.New()
	r := newRec(t, k)
	if _, err := r.Apply(context.Background(), d.Table); err != nil {
		t.Fatal(err)
	}
	assertKernel(t, k, want)
}

func TestSettingsFromConfig(t *testing.T) {
	cfg, err := config.ParseDirector("lbd.yaml", []byte(lbdYAML))
	if err != nil {
		t.Fatal(err)
	}
	s := SettingsFromConfig(cfg.IPVS)
	if s.Timeouts != (table.Timeouts{TCP: 1, TCPFin: 1, UDP: 1}) {
		t.Errorf("timeouts %+v", s.Timeouts)
	}
	want := []director.SysctlSetting{
		{Name: "net.ipv4.ip_forward", Value: "1"},
		{Name: "net.ipv4.vs.expire_nodest_conn", Value: "1"},
		{Name: "net.ipv4.vs.conntrack", Value: "0"},
		{Name: "net.ipv4.vs.conn_reuse_mode", Value: "2"},
	}
	if !reflect.DeepEqual(s.Sysctls, want) {
		t.Errorf("sysctls %v", s.Sysctls)
	}
}

// conn_reuse_mode goes from lbd.yaml to the kernel: written only when the
// kernel's value differs, and not touched at all when absent.
func TestConnReuseModeFromConfigToKernel(t *testing.T) {
	tests := []struct {
		name       string
		sysctls    string
		kernel     string // the kernel's value before
		want       string // after
		writes     int    // on the first apply; the second must write nothing
		wantChange string
	}{
		{name: "differs: written", sysctls: "{conn_reuse_mode: 2}", kernel: "1", want: "2", writes: 1,
			wantChange: "net.ipv4.vs.conn_reuse_mode 1 -> 2"},
		{name: "explicit 0 written", sysctls: "{conn_reuse_mode: 0}", kernel: "1", want: "0", writes: 1,
			wantChange: "net.ipv4.vs.conn_reuse_mode 1 -> 0"},
		{name: "same: not written", sysctls: "{conn_reuse_mode: 3}", kernel: "3", want: "3"},
		{name: "absent: left alone", sysctls: "{expire_nodest_conn: true}", kernel: "1", want: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.ParseDirector("lbd.yaml", []byte("ipvs:\n  sysctls: "+tt.sysctls+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			sys := sysctl.NewMap(map[string]string{"net.ipv4.vs.conn_reuse_mode": tt.kernel, "net.ipv4.vs.expire_nodest_conn": "1"})
			r := newRec(t, fake.New(), sys)
			s := SettingsFromConfig(cfg.IPVS)
			ch, err := r.ApplySettings(s)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := sys.Get("net.ipv4.vs.conn_reuse_mode")
			if sets := sys.TakeSets(); got != tt.want || len(sets) != tt.writes {
				t.Errorf("kernel value %q after writes %v, want %q after %d", got, sets, tt.want, tt.writes)
			}
			if tt.wantChange != "" && (len(ch) != 1 || ch[0] != tt.wantChange) {
				t.Errorf("changes %q, want [%q]", ch, tt.wantChange)
			}
			if tt.wantChange == "" && len(ch) != 0 {
				t.Errorf("changes %q, want none", ch)
			}
			if ch, err := r.ApplySettings(s); err != nil || len(ch) != 0 || len(sys.TakeSets()) != 0 {
				t.Errorf("second apply: changes %q, error %v", ch, err)
			}
		})
	}
}
