package table_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/lvsd/lb/director/table"
)

// base is a desired table covering every kind of service and destination.
func base() table.Table {
	web := svc("192.168.56.90:80")
	web.Scheduler = "rr"
	web.Destinations = []table.Destination{dest("192.168.56.200:80", table.ForwardRoute, 1), dest("192.168.56.201:80", table.ForwardRoute, 2)}

	nat := svc("192.168.1.100:443")
	nat.Flags, nat.Timeout, nat.Netmask = table.FlagPersistent, 300, 0xffffff00
	d := dest("10.0.0.11:8443", table.ForwardMasq, 3)
	d.UpperThreshold, d.LowerThreshold = 100, 10
	nat.Destinations = []table.Destination{d}

	dns := svc("10.1.1.1:53")
	dns.Protocol, dns.Scheduler, dns.Flags = table.ProtoUDP, "sh", table.FlagSHFallback|table.FlagSHPort|table.FlagOnePacket
	dns.Destinations = []table.Destination{dest("10.0.0.5:53", table.ForwardMasq, 1)}

	tun := svc("10.2.2.2:80")
	gue := dest("10.0.1.2:80", table.ForwardTunnel, 1)
	gue.TunnelType, gue.TunnelPort, gue.TunnelFlags = table.TunnelGUE, 6080, table.TunnelCsum
	tun.Destinations = []table.Destination{dest("10.0.1.1:80", table.ForwardTunnel, 1), gue}

	fw := table.Service{ServiceKey: table.ServiceKey{FWMark: 5, Family: table.FamilyIPv4}, Scheduler: "wrr", Netmask: 0xffffffff}
	fw.Destinations = []table.Destination{dest("10.0.0.7:0", table.ForwardRoute, 1)}

	v6 := svc("[2001:db8::90]:80")
	v6.Protocol = table.ProtoSCTP
	v6.Destinations = []table.Destination{dest("[2001:db8::200]:80", table.ForwardMasq, 5)}

	return table.Table{Services: []table.Service{web, nat, dns, tun, fw, v6}}
}

// asKernel returns t as the kernel reports it: hashed flag, destinations in
// another order, no protocol on fwmark services.
func asKernel(t table.Table) table.Table {
	k := t.Clone()
	for i := range k.Services {
		s := &k.Services[i]
		s.Flags |= table.FlagHashed
		if s.FWMark != 0 {
			s.Protocol = 0
		}
		for l, r := 0, len(s.Destinations)-1; l < r; l, r = l+1, r-1 {
			s.Destinations[l], s.Destinations[r] = s.Destinations[r], s.Destinations[l]
		}
		for j := range s.Destinations {
			s.Destinations[j].ActiveConns = 7
			s.Destinations[j].Stats.Conns = 99
		}
		s.Stats.InPkts = 1234
	}
	// and services in another order
	for l, r := 0, len(k.Services)-1; l < r; l, r = l+1, r-1 {
		k.Services[l], k.Services[r] = k.Services[r], k.Services[l]
	}
	return k
}

func kinds(ops []table.Op) []string {
	var out []string
	for _, op := range ops {
		out = append(out, op.Kind.String()+" "+op.String())
	}
	return out
}

func TestDiffMatchingTableIsZeroOps(t *testing.T) {
	want := base()
	if ops := table.Diff(want, asKernel(want), table.DiffOptions{Purge: true}); len(ops) != 0 {
		t.Fatalf("matching table: %v", kinds(ops))
	}
}

func TestDiffKernelNormalization(t *testing.T) {
	tests := []struct {
		name string
		edit func(k *table.Table)
	}{
		{"timeout and netmask of a non-persistent service", func(k *table.Table) {
			k.Services[len(k.Services)-1].Timeout = 300
			k.Services[len(k.Services)-1].Netmask = 0
		}},
		{"tunnel fields of a non-tunnel destination", func(k *table.Table) {
			s := findSvc(k, "TCP 192.168.56.90:80")
			s.Destinations[0].TunnelType, s.Destinations[0].TunnelPort, s.Destinations[0].TunnelFlags = table.TunnelGUE, 9, 1
		}},
		{"destination reported Local", func(k *table.Table) {
			findSvc(k, "TCP 192.168.56.90:80").Destinations[0].Forward = table.ForwardLocal
		}},
		{"unknown flag bits", func(k *table.Table) { k.Services[0].Flags |= 0x100 }},
		{"counters", func(k *table.Table) { k.Services[0].Stats.Conns = 5; k.Services[0].Destinations[0].InactConns = 3 }},
		{"fwmark service with a protocol", func(k *table.Table) {
			findSvc(k, "FWM 5").Protocol = table.ProtoTCP
			findSvc(k, "FWM 5").Address = netip.MustParseAddr("1.2.3.4")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := asKernel(base())
			tc.edit(&k)
			if ops := table.Diff(base(), k, table.DiffOptions{}); len(ops) != 0 {
				t.Errorf("got %v, want none", kinds(ops))
			}
		})
	}
}

func findSvc(t *table.Table, key string) *table.Service {
	for i := range t.Services {
		if t.Services[i].Key().String() == key {
			return &t.Services[i]
		}
	}
	panic("no service " + key)
}

func TestDiffSingleChanges(t *testing.T) {
	tests := []struct {
		name string
		// desired is edited from base; the kernel holds base.
		edit func(d *table.Table)
		want []string
	}{
		{"one weight", func(d *table.Table) { findSvc(d, "TCP 192.168.56.90:80").Destinations[1].Weight = 0 },
			[]string{"update-destination -e -t 192.168.56.90:80 -r 192.168.56.201:80 -g -w 0 (weight 2 -> 0)"}},
		{"upper threshold", func(d *table.Table) { findSvc(d, "TCP 192.168.1.100:443").Destinations[0].UpperThreshold = 200 },
			[]string{"update-destination -e -t 192.168.1.100:443 -r 10.0.0.11:8443 -m -w 3 (upper threshold 100 -> 200)"}},
		{"lower threshold", func(d *table.Table) { findSvc(d, "TCP 192.168.1.100:443").Destinations[0].LowerThreshold = 0 },
			[]string{"update-destination -e -t 192.168.1.100:443 -r 10.0.0.11:8443 -m -w 3 (lower threshold 10 -> 0)"}},
		{"forwarding", func(d *table.Table) { findSvc(d, "TCP 192.168.56.90:80").Destinations[0].Forward = table.ForwardTunnel },
			[]string{"update-destination -e -t 192.168.56.90:80 -r 192.168.56.200:80 -i -w 1 --tun-type ipip (forward Route -> Tunnel)"}},
		{"tunnel type", func(d *table.Table) {
			x := &findSvc(d, "TCP 10.2.2.2:80").Destinations[0]
			x.TunnelType, x.TunnelFlags = table.TunnelGRE, table.TunnelCsum
		}, []string{"update-destination -e -t 10.2.2.2:80 -r 10.0.1.1:80 -i -w 1 --tun-type gre --tun-csum (tunnel type ipip -> gre, tunnel flags nocsum -> csum)"}},
		{"gue port", func(d *table.Table) { findSvc(d, "TCP 10.2.2.2:80").Destinations[1].TunnelPort = 6081 },
			[]string{"update-destination -e -t 10.2.2.2:80 -r 10.0.1.2:80 -i -w 1 --tun-type gue --tun-port 6081 --tun-csum (tunnel port 6080 -> 6081)"}},
		{"scheduler", func(d *table.Table) { findSvc(d, "TCP 192.168.56.90:80").Scheduler = "wlc" },
			[]string{"update-service -E -t 192.168.56.90:80 -s wlc (scheduler rr -> wlc)"}},
		{"scheduler flag", func(d *table.Table) { findSvc(d, "UDP 10.1.1.1:53").Flags &^= table.FlagSHPort },
			[]string{"update-service -E -u 10.1.1.1:53 -s sh -o -b sh-fallback (flags ops|sched1|sched2 -> ops|sched1)"}},
		{"one-packet off", func(d *table.Table) { findSvc(d, "UDP 10.1.1.1:53").Flags &^= table.FlagOnePacket },
			[]string{"update-service -E -u 10.1.1.1:53 -s sh -b sh-fallback,sh-port (flags ops|sched1|sched2 -> sched1|sched2)"}},
		{"persistence timeout", func(d *table.Table) { findSvc(d, "TCP 192.168.1.100:443").Timeout = 600 },
			[]string{"update-service -E -t 192.168.1.100:443 -s wlc -p 600 -M 255.255.255.0 (persistent 300 -> 600)"}},
		{"persistence netmask", func(d *table.Table) { findSvc(d, "TCP 192.168.1.100:443").Netmask = 0xffff0000 },
			[]string{"update-service -E -t 192.168.1.100:443 -s wlc -p 300 -M 255.255.0.0 (mask 255.255.255.0 -> 255.255.0.0)"}},
		{"persistence on", func(d *table.Table) {
			s := findSvc(d, "TCP 192.168.56.90:80")
			s.Flags, s.Timeout = table.FlagPersistent, 360
		}, []string{"update-service -E -t 192.168.56.90:80 -s rr -p 360 (flags none -> persistent, persistent 360 mask 255.255.255.255)"}},
		{"destination added", func(d *table.Table) {
			s := findSvc(d, "FWM 5")
			s.Destinations = append(s.Destinations, dest("10.0.0.8:0", table.ForwardRoute, 1))
		}, []string{"create-destination -a -f 5 -r 10.0.0.8:0 -g -w 1"}},
		{"destination removed", func(d *table.Table) { findSvc(d, "SCTP [2001:db8::90]:80").Destinations = nil },
			[]string{"remove-destination -d --sctp-service [2001:db8::90]:80 -r [2001:db8::200]:80"}},
		{"destination port changed: replace, new one first", func(d *table.Table) {
			findSvc(d, "TCP 192.168.1.100:443").Destinations[0].Port = 9443
		}, []string{
			"create-destination -a -t 192.168.1.100:443 -r 10.0.0.11:9443 -m -w 3",
			"remove-destination -d -t 192.168.1.100:443 -r 10.0.0.11:8443",
		}},
		{"service added", func(d *table.Table) {
			s := svc("10.9.9.9:8080")
			s.Destinations = []table.Destination{dest("10.0.9.2:8080", table.ForwardMasq, 1), dest("10.0.9.1:8080", table.ForwardMasq, 1)}
			d.Services = append(d.Services, s)
		}, []string{
			"create-service -A -t 10.9.9.9:8080 -s wlc",
			"create-destination -a -t 10.9.9.9:8080 -r 10.0.9.1:8080 -m -w 1",
			"create-destination -a -t 10.9.9.9:8080 -r 10.0.9.2:8080 -m -w 1",
		}},
		{"managed service removed in one write", func(d *table.Table) { d.Services = d.Services[1:] },
			[]string{"remove-service -D -t 192.168.56.90:80"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			desired := base()
			tc.edit(&desired)
			managed := func(k table.ServiceKey) bool { return true }
			got := kinds(table.Diff(desired, asKernel(base()), table.DiffOptions{Managed: managed}))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestDiffUnmanagedServices(t *testing.T) {
	kernel := asKernel(base())
	foreign := svc("203.0.113.1:80")
	foreign.Destinations = []table.Destination{dest("10.7.7.7:80", table.ForwardMasq, 1)}
	kernel.Services = append(kernel.Services, foreign)
	desired := base()

	if ops := table.Diff(desired, kernel, table.DiffOptions{}); len(ops) != 0 {
		t.Errorf("unmanaged service touched: %v", kinds(ops))
	}
	managedOther := func(k table.ServiceKey) bool { return k.Port == 9999 }
	if ops := table.Diff(desired, kernel, table.DiffOptions{Managed: managedOther}); len(ops) != 0 {
		t.Errorf("unmanaged service touched: %v", kinds(ops))
	}
	ops := table.Diff(desired, kernel, table.DiffOptions{Purge: true})
	if got := kinds(ops); !reflect.DeepEqual(got, []string{"remove-service -D -t 203.0.113.1:80"}) {
		t.Errorf("purge: %v", got)
	}
	managed := func(k table.ServiceKey) bool { return k == foreign.Key() }
	if got := kinds(table.Diff(desired, kernel, table.DiffOptions{Managed: managed})); len(got) != 1 {
		t.Errorf("managed: %v", got)
	}
}

func TestDiffHandEdits(t *testing.T) {
	desired := base()
	kernel := asKernel(base())
	web := findSvc(&kernel, "TCP 192.168.56.90:80")
	// ipvsadm -d of one server, ipvsadm -a of a stranger, ipvsadm -e of a weight
	web.Destinations = web.Destinations[:1]
	web.Destinations[0].Weight = 50
	web.Destinations = append(web.Destinations, dest("192.168.56.250:80", table.ForwardRoute, 1))
	got := kinds(table.Diff(desired, kernel, table.DiffOptions{}))
	want := []string{
		"update-destination -e -t 192.168.56.90:80 -r 192.168.56.201:80 -g -w 2 (weight 50 -> 2)",
		"create-destination -a -t 192.168.56.90:80 -r 192.168.56.200:80 -g -w 1",
		"remove-destination -d -t 192.168.56.90:80 -r 192.168.56.250:80",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestDiffFromEmptyOrdersServicesBeforeTheirDestinations(t *testing.T) {
	ops := table.Diff(base(), table.Table{}, table.DiffOptions{})
	created := map[table.ServiceKey]bool{}
	n := 0
	for _, op := range ops {
		switch op.Kind {
		case table.OpCreateService:
			created[op.Service.Key()] = true
		case table.OpCreateDest:
			if !created[op.Service.Key()] {
				t.Errorf("destination before its service: %s", op)
			}
		default:
			t.Errorf("unexpected %s", op)
		}
		n++
	}
	want := 0
	for _, s := range base().Services {
		want += 1 + len(s.Destinations)
	}
	if n != want {
		t.Errorf("%d ops, want %d", n, want)
	}
	// From the whole table to nothing: one removal per managed service.
	all := func(table.ServiceKey) bool { return true }
	rm := table.Diff(table.Table{}, base(), table.DiffOptions{Managed: all})
	if len(rm) != len(base().Services) {
		t.Errorf("removal: %v", kinds(rm))
	}
	for _, op := range rm {
		if op.Kind != table.OpRemoveService {
			t.Errorf("removal op %s", op)
		}
	}
}

func TestDiffDuplicatesInDesired(t *testing.T) {
	d := base()
	web := findSvc(&d, "TCP 192.168.56.90:80")
	web.Destinations = append(web.Destinations, dest("192.168.56.200:80", table.ForwardRoute, 9))
	ops := table.Diff(d, asKernel(base()), table.DiffOptions{})
	if len(ops) != 0 {
		t.Errorf("duplicate destination (the first wins) gave %v", kinds(ops))
	}
}

func TestDiffIPv4MappedIsDistinct(t *testing.T) {
	s := svc("[2001:db8::1]:80")
	s.Destinations = []table.Destination{dest("10.0.0.1:80", table.ForwardTunnel, 1)}
	k := s.Clone()
	k.Destinations = []table.Destination{dest("[::ffff:10.0.0.1]:80", table.ForwardTunnel, 1)}
	ops := table.Diff(table.Table{Services: []table.Service{s}}, table.Table{Services: []table.Service{k}}, table.DiffOptions{})
	if len(ops) != 2 {
		t.Errorf("IPv4 and IPv4-mapped destinations conflated: %v", kinds(ops))
	}
}

// BenchmarkDiffInSync1000x10 is the diff of a resync or an adopt: 1,000
// services of 10 destinations, the kernel listing them newest first.
func BenchmarkDiffInSync1000x10(b *testing.B) {
	var want, got table.Table
	for i := 0; i < 1000; i++ {
		s := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP,
			Address: netip.AddrFrom4([4]byte{10, 100, byte(i / 250), byte(i%250 + 1)}), Port: 80}, Scheduler: "wrr", Netmask: 0xffffffff}
		k := s
		for j := 0; j < 10; j++ {
			d := table.Destination{Address: netip.AddrFrom4([4]byte{10, 200, byte(j), byte(i%250 + 1)}), Port: 80,
				Family: table.FamilyIPv4, Forward: table.ForwardRoute, Weight: uint32(j + 1)}
			s.Destinations = append(s.Destinations, d)
			k.Destinations = append([]table.Destination{d}, k.Destinations...)
		}
		want.Services, got.Services = append(want.Services, s), append(got.Services, k)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ops := table.Diff(want, got, table.DiffOptions{}); len(ops) != 0 {
			b.Fatal(ops)
		}
	}
}
