package config

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// bgpFile is a service at 192.168.56.90:80 (announce as given) and a bgp
// section (indented by 2).
func bgpFile(announce, section string) string {
	return `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    announce: ` + announce + `
bgp:
` + section
}

func TestBGPErrors(t *testing.T) {
	tests := []struct {
		name, announce, section string
		want                    []string
	}{
		{name: "minimal", announce: "true", section: `
  asn: 65001
  peers: [{address: 10.0.0.1, asn: 65000}]
`},
		{name: "every key", announce: "false", section: `
  asn: 4200000001
  router_id: 10.0.0.2
  listen_port: 1790
  peers:
    - address: 10.0.0.1
      asn: 65000
      port: 1179
      password: secret
      hold_time: 3s
      keepalive: 1s
      multihop_ttl: 2
    - address: "fd00::1"
      asn: 65000
      hold_time: 0s
      bfd: {enabled: true, min_rx: 50ms, min_tx: 300ms, multiplier: 5}
  announce: [192.168.56.90]
  communities: ["65000:100", "0:65535"]
  med: 10
  drain_period: 0s
  vip_device: lbvip0
`},
		{name: "required keys", announce: "true", section: `
  peers: [{port: 179}]
`, want: []string{
			`t.yaml:5: bgp: missing required field "asn"`,
			`t.yaml:7: bgp.peers[0]: missing required field "address"`,
			`t.yaml:7: bgp.peers[0]: missing required field "asn"`,
		}},
		{name: "bad values", announce: "true", section: `
  asn: 0
  router_id: "::1"
  peers:
    - address: 0.0.0.0
      asn: 1
      port: 0
      hold_time: 2s
      multihop_ttl: 256
    - address: 10.0.0.1
      asn: 1
      hold_time: 9s
      keepalive: 9s
    - address: 10.0.0.1
      asn: 1
      hold_time: 3500ms
  announce: [192.168.56.91]
  communities: ["65000", "70000:1", "a:b"]
  drain_period: -1s
  vip_device: "a b"
  other: 1
`, want: []string{
			`t.yaml:7: bgp.asn: must be 1-4294967295`,
			`t.yaml:8: bgp.router_id: must be a non-zero IPv4 address, got ::1`,
			`t.yaml:10: bgp.peers[0].address: not a router's address: 0.0.0.0`,
			`t.yaml:12: bgp.peers[0].port: must be 1-65535`,
			`t.yaml:13: bgp.peers[0].hold_time: must be 0 or at least 3s, got 2s`,
			`t.yaml:14: bgp.peers[0].multihop_ttl: must be between 0 and 255, got 256`,
			`t.yaml:18: bgp.peers[1].keepalive: must be at least 1s and less than hold_time (9s), got 9s`,
			`t.yaml:19: bgp.peers[2].address: duplicate peer 10.0.0.1 (first is peers[1])`,
			`t.yaml:21: bgp.peers[2].hold_time: must be whole seconds, at most 65535s, got 3.5s`,
			`t.yaml:22: bgp.announce[0]: 192.168.56.91 is no virtual server's address`,
			`t.yaml:23: bgp.communities[0]: community "65000" is not ASN:value (each 0-65535)`,
			`t.yaml:23: bgp.communities[1]: community "70000:1" is not ASN:value (each 0-65535)`,
			`t.yaml:23: bgp.communities[2]: community "a:b" is not ASN:value (each 0-65535)`,
			`t.yaml:24: bgp.drain_period: invalid duration "-1s": must not be negative`,
			`t.yaml:25: bgp.vip_device: not a network device name: "a b"`,
			`t.yaml:26: bgp: unknown field "other"`,
		}},
		{name: "bad bfd", announce: "true", section: `
  asn: 1
  peers:
    - address: 10.0.0.1
      asn: 2
      bfd: {min_rx: 5ms, min_tx: 61s, multiplier: 0}
    - address: 10.0.0.2
      asn: 2
      multihop_ttl: 2
      bfd: {}
    - address: 10.0.0.3
      asn: 2
      multihop_ttl: 2
      bfd: {enabled: false, min_tx: 1500ns}
`, want: []string{
			`t.yaml:11: bgp.peers[0].bfd.min_rx: must be 10ms-1m0s in whole microseconds, got 5ms`,
			`t.yaml:11: bgp.peers[0].bfd.min_tx: must be 10ms-1m0s in whole microseconds, got 1m1s`,
			`t.yaml:11: bgp.peers[0].bfd.multiplier: must be between 1 and 255, got 0`,
			`t.yaml:15: bgp.peers[1].bfd: BFD here is single hop (RFC 5881, TTL 255): not with multihop_ttl 2`,
			`t.yaml:19: bgp.peers[2].bfd.min_tx: must be 10ms-1m0s in whole microseconds, got 1.5µs`,
		}},
		{name: "no peers", announce: "true", section: `
  asn: 1
  peers: []
`, want: []string{`t.yaml:8: bgp.peers: at least one peer required`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDirector("t.yaml", src(bgpFile(tt.announce, tt.section)))
			diffLines(t, errLines(t, err), tt.want)
			if (err == nil) != (d != nil) {
				t.Errorf("ParseDirector returned config %v and error %v: want exactly one", d != nil, err)
			}
		})
	}
}

func TestBGPAnnounceWithoutSection(t *testing.T) {
	_, err := ParseDirector("t.yaml", src(`
virtual_servers:
  - address: 192.168.56.90
    port: 80
    announce: true
`))
	diffLines(t, errLines(t, err), []string{`t.yaml:4: virtual_servers[0].announce: needs a bgp section (the speaker that announces it)`})
}

func TestBGPDefaults(t *testing.T) {
	d, err := ParseDirector("t.yaml", src(`
virtual_servers:
  - address: 192.168.56.90
    port: 80
    announce: true
  - address: 192.168.56.90
    port: 443
  - address: 192.168.56.91
    port: 80
bgp:
  asn: 65001
  announce: [192.168.56.91, 192.168.56.90]
  peers:
    - address: 10.0.0.1
      asn: 65000
    - address: 10.0.0.2
      asn: 65000
      hold_time: 3s
      bfd: {}
    - address: 10.0.0.3
      asn: 65000
      bfd: {enabled: false, multiplier: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := BGP{ASN: 65001, Announce: []netip.Addr{netip.MustParseAddr("192.168.56.91"), netip.MustParseAddr("192.168.56.90")},
		Peers: []BGPPeer{
			{Address: netip.MustParseAddr("10.0.0.1"), ASN: 65000, Port: 179, HoldTime: 90 * time.Second, Keepalive: 30 * time.Second},
			{Address: netip.MustParseAddr("10.0.0.2"), ASN: 65000, Port: 179, HoldTime: 3 * time.Second, Keepalive: time.Second,
				BFD: &BGPBFD{Enabled: true, MinRx: 100 * time.Millisecond, MinTx: 100 * time.Millisecond, Multiplier: 3}},
			{Address: netip.MustParseAddr("10.0.0.3"), ASN: 65000, Port: 179, HoldTime: 90 * time.Second, Keepalive: 30 * time.Second,
				BFD: &BGPBFD{MinRx: 100 * time.Millisecond, MinTx: 100 * time.Millisecond, Multiplier: 5}},
		}, DrainPeriod: 5 * time.Second, VIPDevice: "lo"}
	if !reflect.DeepEqual(*d.BGP, want) {
		t.Errorf("bgp defaults:\n got %+v\nwant %+v", *d.BGP, want)
	}
	vips := d.AnnouncedVIPs()
	if w := []netip.Addr{netip.MustParseAddr("192.168.56.90"), netip.MustParseAddr("192.168.56.91")}; !reflect.DeepEqual(vips, w) {
		t.Errorf("AnnouncedVIPs = %v, want %v", vips, w)
	}
}

func TestParseCommunity(t *testing.T) {
	for s, want := range map[string]uint32{"0:0": 0, "65000:100": 65000<<16 | 100, "65535:65535": 0xffffffff} {
		if got, err := ParseCommunity(s); err != nil || got != want {
			t.Errorf("ParseCommunity(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "1", "1:", ":1", "65536:0", "-1:0", "1:2:3"} {
		if _, err := ParseCommunity(s); err == nil {
			t.Errorf("ParseCommunity(%q) accepted", s)
		}
	}
}

func TestBGPWarnings(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{name: "consistent: mh with fallback, sloppy_tcp on", file: `
ipvs:
  sysctls: {sloppy_tcp: true}
virtual_servers:
  - address: 192.168.56.90
    port: 80
    scheduler: mh
    scheduler_flags: [mh-fallback]
    announce: true
bgp: {asn: 1, peers: [{address: 10.0.0.1, asn: 2}]}
`},
		{name: "sync daemon: role both, no warning", file: `
ipvs:
  sysctls: {sloppy_tcp: true}
  sync_daemon: {interface: eth1, role: both}
virtual_servers:
  - address: 192.168.56.90
    port: 80
    scheduler: mh
    scheduler_flags: [mh-fallback]
    announce: true
bgp: {asn: 1, peers: [{address: 10.0.0.1, asn: 2}]}
`},
		{name: "sync daemon: one role", file: `
ipvs:
  sysctls: {sloppy_tcp: true}
  sync_daemon: {interface: eth1, role: master}
virtual_servers:
  - address: 192.168.56.90
    port: 80
    scheduler: mh
    scheduler_flags: [mh-fallback]
    announce: true
bgp: {asn: 1, peers: [{address: 10.0.0.1, asn: 2}]}
`, want: []string{
			`t.yaml:3: ipvs.sync_daemon.role: announced with BGP: every director is active; with role master a director does not both send its connections and receive the others' (role: both)`,
		}},
		{name: "not announced: no warning", file: `
virtual_servers:
  - address: 192.168.56.90
    port: 80
bgp: {asn: 1, peers: [{address: 10.0.0.1, asn: 2}]}
`},
		{name: "every warning", file: `
ipvs:
  sysctls: {sloppy_tcp: false}
virtual_servers:
  - address: 192.168.56.90
    port: 80
    announce: true
  - address: 192.168.56.90
    port: 443
    scheduler: sh
  - address: 192.168.56.91
    port: 443
    scheduler: sh
    scheduler_flags: [sh-fallback]
bgp: {asn: 1, peers: [{address: 10.0.0.1, asn: 2}], announce: [192.168.56.91]}
`, want: []string{
			`t.yaml:4: virtual_servers[0].scheduler: announced with BGP: scheduler wlc picks a different real server on each director for a flow the routers move; use mh (or sh) with its fallback flag`,
			`t.yaml:7: virtual_servers[1].scheduler_flags: announced with BGP: add sh-fallback, or a real server at weight 0 keeps its slots and its flows fail on every director`,
			`t.yaml:2: ipvs.sysctls.sloppy_tcp: announced with BGP: set ipvs.sysctls.sloppy_tcp: true, or a director drops the flows another one started when the routers move them to it`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDirector("t.yaml", src(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range d.Warnings {
				got = append(got, w.Error())
			}
			diffLines(t, got, tt.want)
		})
	}
}
