package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// agentErrorCase is one file for ParseAgent and the errors it must give
// (none for a valid file).
type agentErrorCase struct {
	name string
	yaml string
	want []string
}

// runAgentErrors parses each case's file: its errors must be want, and
// ParseAgent must return a config or an error, never both.
func runAgentErrors(t *testing.T, tests []agentErrorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAgent("t.yaml", src(tt.yaml))
			diffLines(t, errLines(t, err), tt.want)
			if (err == nil) != (a != nil) {
				t.Errorf("ParseAgent returned config %v and error %v: want exactly one", a != nil, err)
			}
		})
	}
}

func TestAgentErrors(t *testing.T) {
	runAgentErrors(t, []agentErrorCase{
		{
			name: "valid",
			yaml: `
vips: [192.168.56.90]
`,
		},
		{
			name: "empty file",
			yaml: "",
			want: []string{`t.yaml:1: missing required field "vips"`},
		},
		{
			name: "everything wrong",
			yaml: `
mode: nat
vips:
  - 192.168.56.90
  - 192.168.56.90/32
  - 127.0.0.1
  - 192.168.56.91
  - 192.168.56.91
sysctls:
  arp_ignore: 9
  arp_announce: 3
  rp_filter: 1
state_file: state.json
resync_interval: 0
log_level: trace
interfce: lo
`,
			want: []string{
				`t.yaml:1: mode: unknown mode "nat" (want one of dr, tun)`,
				`t.yaml:4: vips[1]: invalid IP address "192.168.56.90/32"`,
				`t.yaml:5: vips[2]: 127.0.0.1 cannot be a virtual address`,
				`t.yaml:7: vips[4]: duplicate VIP 192.168.56.91`,
				`t.yaml:9: sysctls.arp_ignore: must be between 0 and 8, got 9`,
				`t.yaml:10: sysctls.arp_announce: must be between 0 and 2, got 3`,
				`t.yaml:12: state_file: must be an absolute path, got "state.json"`,
				`t.yaml:13: resync_interval: must be at least 1s, got 0s`,
				`t.yaml:14: log_level: unknown log level "trace" (want one of debug, info, warn, error)`,
				`t.yaml:15: unknown field "interfce"`,
			},
		},
		{
			name: "rp_filter in dr mode",
			yaml: `
vips: [192.168.56.90]
sysctls: {rp_filter: 0}
`,
			want: []string{`t.yaml:2: sysctls.rp_filter: rp_filter is set in tun mode only`},
		},
		{
			name: "labels",
			yaml: `
vips: [192.168.56.90]
label_prefix: "eth0:"
`,
			want: []string{`t.yaml:2: label_prefix: label prefix "eth0:" must start with the interface name and a colon (lo:)`},
		},
		{
			name: "label too long",
			yaml: `
vips: [192.168.56.90, 192.168.56.91]
label_prefix: "lo:abcdefghijkl"
`,
			want: []string{`t.yaml:2: label_prefix: label "lo:abcdefghijkl1" would be longer than 15 bytes`},
		},
		{
			name: "labels in tun mode",
			yaml: `
mode: tun
vips: [192.168.56.90]
label_prefix: "tunl0:"
sysctls: {rp_filter: 3}
`,
			want: []string{
				`t.yaml:3: label_prefix: labels are used in dr mode only`,
				`t.yaml:4: sysctls.rp_filter: must be between 0 and 2, got 3`,
			},
		},
		{
			name: "empty vips and not a list",
			yaml: `
vips: []
interface: ""
`,
			want: []string{
				`t.yaml:1: vips: at least one VIP required`,
				`t.yaml:2: interface: must not be empty`,
			},
		},
		{
			name: "vips not a list",
			yaml: `
vips: 192.168.56.90
`,
			want: []string{`t.yaml:1: vips: expected a list, got "192.168.56.90"`},
		},
	})
}

func TestAgentDefaults(t *testing.T) {
	zero := 0
	tests := []struct {
		name string
		yaml string
		want Agent
	}{
		{
			name: "dr",
			yaml: `vips: [192.168.56.90, "2001:db8::90", 192.168.56.91]`,
			want: Agent{
				Mode:           ModeDR,
				VIPs:           []netip.Addr{netip.MustParseAddr("192.168.56.90"), netip.MustParseAddr("2001:db8::90"), netip.MustParseAddr("192.168.56.91")},
				Interface:      "lo",
				Interface6:     "lo",
				LabelPrefix:    "lo:",
				Sysctls:        AgentSysctls{ArpIgnore: 1, ArpAnnounce: 2},
				StateFile:      "/var/lib/lbrs/state.json",
				ResyncInterval: 30 * time.Second,
				LogFormat:      "text",
				LogLevel:       "info",
			},
		},
		{
			name: "tun",
			yaml: "mode: tun\nvips: [192.168.56.90]\nsysctls: {arp_ignore: 0, arp_announce: 0}\nresync_interval: 5",
			want: Agent{
				Mode:           ModeTUN,
				VIPs:           []netip.Addr{netip.MustParseAddr("192.168.56.90")},
				Interface:      "tunl0",
				Interface6:     "ip6tnl0",
				Sysctls:        AgentSysctls{ArpIgnore: 0, ArpAnnounce: 0, RPFilter: &zero},
				StateFile:      "/var/lib/lbrs/state.json",
				ResyncInterval: 5 * time.Second,
				LogFormat:      "text",
				LogLevel:       "info",
			},
		},
		{
			name: "dr without labels",
			yaml: "vips: [10.0.0.1]\nlabel_prefix: \"\"\ninterface: dummy0",
			want: Agent{
				Mode:           ModeDR,
				VIPs:           []netip.Addr{netip.MustParseAddr("10.0.0.1")},
				Interface:      "dummy0",
				Interface6:     "dummy0",
				Sysctls:        AgentSysctls{ArpIgnore: 1, ArpAnnounce: 2},
				StateFile:      "/var/lib/lbrs/state.json",
				ResyncInterval: 30 * time.Second,
				LogFormat:      "text",
				LogLevel:       "info",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAgent("t.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*a, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *a, tt.want)
			}
		})
	}
}

func TestAgentHelpers(t *testing.T) {
	a, err := ParseAgent("t.yaml", []byte(`{mode: tun, vips: [192.168.56.90, "2001:db8::90"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.InterfaceFor(a.VIPs[0]); got != "tunl0" {
		t.Errorf("InterfaceFor(v4) = %q", got)
	}
	if got := a.InterfaceFor(a.VIPs[1]); got != "ip6tnl0" {
		t.Errorf("InterfaceFor(v6) = %q", got)
	}
	if got := a.Label(0); got != "" {
		t.Errorf("tun Label(0) = %q, want none", got)
	}
	d, err := ParseAgent("t.yaml", []byte(`vips: [192.168.56.90]`))
	if err != nil {
		t.Fatal(err)
	}
	if d.Label(0) != "lo:0" || d.Label(3) != "lo:3" {
		t.Errorf("dr labels = %q, %q", d.Label(0), d.Label(3))
	}
}

func TestAgentRegisterErrors(t *testing.T) {
	runAgentErrors(t, []agentErrorCase{
		{
			name: "valid seed",
			yaml: `
vips: [192.168.56.90]
register: {zookeeper: ["127.0.0.1:4180"], path: /sgroup, address: 10.0.0.11, port: 80}
`,
		},
		{
			name: "valid json with a stable name",
			yaml: `
vips: [192.168.56.90]
register: {zookeeper: ["zk1:2181", "[::1]:2181"], path: /lb/web, name: web1, format: json, address: "2001:db8::11", port: 8080, weight: 0, drain_timeout: 0s, drain_quiet: 0s}
`,
		},
		{
			name: "required keys",
			yaml: `
vips: [192.168.56.90]
register:
  session_timeout: 5s
`,
			want: []string{
				`t.yaml:2: register: missing required field "zookeeper"`,
				`t.yaml:2: register: missing required field "path"`,
				`t.yaml:2: register: missing required field "address"`,
				`t.yaml:2: register: missing required field "port"`,
			},
		},
		{
			name: "everything wrong",
			yaml: `
vips: [192.168.56.90]
register:
  zookeeper: ["127.0.0.1", "127.0.0.1:0", ":2181"]
  session_timeout: 100ms
  path: sgroup
  prefix: "a/b"
  format: xml
  address: 0.0.0.0
  port: 70000
  weight: -1
  drain_timeout: -1s
  nmae: x
  drain_quiet: -2s
`,
			want: []string{
				`t.yaml:3: register.zookeeper[0]: "127.0.0.1" is not host:port: address 127.0.0.1: missing port in address`,
				`t.yaml:3: register.zookeeper[1]: "127.0.0.1:0" is not host:port: the port must be 1-65535`,
				`t.yaml:3: register.zookeeper[2]: ":2181" is not host:port: no host`,
				`t.yaml:4: register.session_timeout: must be between 1s and 1m, got 100ms`,
				`t.yaml:5: register.path: "sgroup" is not a ZooKeeper path: must be absolute`,
				`t.yaml:6: register.prefix: "a/b" is not a znode name: contains /`,
				`t.yaml:7: register.format: unknown format "xml" (want one of seed, json)`,
				`t.yaml:8: register.address: 0.0.0.0 cannot be a real server's address`,
				`t.yaml:9: register.port: must be between 1 and 65535, got 70000`,
				`t.yaml:10: register.weight: must be between 0 and 65535, got -1`,
				`t.yaml:11: register.drain_timeout: invalid duration "-1s": must not be negative`,
				`t.yaml:12: register: unknown field "nmae"`,
				`t.yaml:13: register.drain_quiet: invalid duration "-2s": must not be negative`,
			},
		},
		{
			name: "paths and names",
			yaml: `
vips: [192.168.56.90]
register:
  zookeeper: ["127.0.0.1:4180"]
  path: /sgroup/
  name: ".."
  prefix: sub
  address: 10.0.0.11
  port: 80
  weight: 2
`,
			want: []string{
				`t.yaml:4: register.path: "/sgroup/" is not a ZooKeeper path: must not end with /`,
				`t.yaml:5: register.name: ".." is not a znode name: . and .. are not names`,
				`t.yaml:6: register.prefix: prefix names sequential nodes only; name is set`,
				`t.yaml:9: register.weight: weight is published in format json only (the seed's data is host:port)`,
			},
		},
		{
			name: "root and empty component",
			yaml: `
vips: [192.168.56.90]
register: {zookeeper: [], path: "/a//b", address: 10.0.0.11, port: 80}
`,
			want: []string{
				`t.yaml:2: register.zookeeper: at least one ensemble address required`,
				`t.yaml:2: register.path: "/a//b" is not a ZooKeeper path: empty name`,
			},
		},
	})
}

func TestAgentRegisterDefaults(t *testing.T) {
	a, err := ParseAgent("t.yaml", []byte("vips: [192.168.56.90]\nregister: {zookeeper: [\"127.0.0.1:4180\"], path: /sgroup, address: 10.0.0.11, port: 80}"))
	if err != nil {
		t.Fatal(err)
	}
	want := AgentRegister{ZooKeeper: []string{"127.0.0.1:4180"}, SessionTimeout: 5 * time.Second, Path: "/sgroup",
		Prefix: "sub", Format: "seed", Address: netip.MustParseAddr("10.0.0.11"), Port: 80, Weight: 1, DrainTimeout: 30 * time.Second,
		DrainQuiet: 2 * time.Second}
	if a.Register == nil || !reflect.DeepEqual(*a.Register, want) {
		t.Errorf("register = %+v\nwant       %+v", a.Register, want)
	}
	b, err := ParseAgent("t.yaml", []byte("vips: [192.168.56.90]"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Register != nil {
		t.Errorf("register without the section = %+v, want nil", b.Register)
	}
}

// The example's commented register section is valid once uncommented.
func TestAgentExampleRegister(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(examplesDir, "lbrs-web.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(data), "\n# register:")
	if !ok {
		t.Fatal("no commented register section in the example")
	}
	var lines []string
	for _, l := range strings.Split("# register:"+block, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "# "))
	}
	a, err := ParseAgent("lbrs-web.yaml", []byte("vips: [192.168.56.90]\n"+strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if g := a.Register; g == nil || g.Path != "/sgroup" || len(g.ZooKeeper) != 3 || g.Port != 80 || g.Format != "seed" {
		t.Errorf("register = %+v", g)
	}
}
