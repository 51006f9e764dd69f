package config

import (
	"reflect"
	"testing"
	"time"
)

// discoveryService wraps a discovery section (indented by 4) in a service.
func discoveryService(section string) string {
	return `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    discovery:
` + section
}

func TestDiscoveryErrors(t *testing.T) {
	tests := []struct {
		name    string
		section string
		want    []string
	}{
		{name: "minimal", section: `
      zookeeper: ["127.0.0.1:4180", "127.0.0.1:4181", "[::1]:4182"]
      path: /sgroup
`},
		{name: "every key", section: `
      zookeeper: ["zk1:2181"]
      session_timeout: 2s
      path: /services/web
      format: json
      port: 8080
      weight: 3
      forwarding: nat
      max_removal_share: 1
      leave_timeout: 0s
      trust_new: true
      delay_loop: 2s
      rise: 2
      checks:
        - type: http
          urls: [{path: /health}]
`},
		{name: "required keys", section: `
      format: seed
`, want: []string{
			`t.yaml:4: virtual_servers[0].discovery: missing required field "zookeeper"`,
			`t.yaml:4: virtual_servers[0].discovery: missing required field "path"`,
		}},
		{name: "bad values", section: `
      zookeeper: ["127.0.0.1", "h:0", "h:2181"]
      session_timeout: 10ms
      path: sgroup/
      format: xml
      weight: 70000
      max_removal_share: 0
      delay_loop: 0
      unknown: 1
`, want: []string{
			`t.yaml:6: virtual_servers[0].discovery.zookeeper[0]: "127.0.0.1" is not host:port: address 127.0.0.1: missing port in address`,
			`t.yaml:6: virtual_servers[0].discovery.zookeeper[1]: "h:0" is not host:port: the port must be 1-65535`,
			`t.yaml:7: virtual_servers[0].discovery.session_timeout: must be at least 100ms, got 10ms`,
			`t.yaml:8: virtual_servers[0].discovery.path: must be an absolute path without a trailing / (like /sgroup), got "sgroup/"`,
			`t.yaml:9: virtual_servers[0].discovery.format: unknown discovery format "xml" (want one of seed, json)`,
			`t.yaml:10: virtual_servers[0].discovery.weight: must be between 0 and 65535, got 70000`,
			`t.yaml:11: virtual_servers[0].discovery.max_removal_share: must be more than 0 and at most 1, got 0`,
			`t.yaml:12: virtual_servers[0].discovery.delay_loop: must be greater than 0`,
			`t.yaml:13: virtual_servers[0].discovery: unknown field "unknown"`,
		}},
		{name: "share above 1 and an empty ensemble", section: `
      zookeeper: []
      path: /
      max_removal_share: 1.5
`, want: []string{
			`t.yaml:6: virtual_servers[0].discovery.zookeeper: at least one ZooKeeper server (host:port) required`,
			`t.yaml:8: virtual_servers[0].discovery.max_removal_share: must be more than 0 and at most 1, got 1.5`,
		}},
		{name: "leave_timeout out of range", section: `
      zookeeper: ["h:2181"]
      path: /sgroup
      leave_timeout: 2h
`, want: []string{
			`t.yaml:8: virtual_servers[0].discovery.leave_timeout: must be 0 (remove at once) to 1h, got 2h0m0s`,
		}},
		{name: "checks validated like a real server's", section: `
      zookeeper: ["h:2181"]
      path: /sgroup
      checks:
        - type: tcp
          urls: [{path: /}]
        - type: http
        - connect_port: 81
`, want: []string{
			`t.yaml:10: virtual_servers[0].discovery.checks[0].urls: not valid for a tcp check`,
			`t.yaml:11: virtual_servers[0].discovery.checks[1]: missing required field "urls"`,
			`t.yaml:12: virtual_servers[0].discovery.checks[2]: missing required field "type"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDirector("t.yaml", src(discoveryService(tt.section)))
			diffLines(t, errLines(t, err), tt.want)
			if (err == nil) != (d != nil) {
				t.Errorf("ParseDirector returned config %v and error %v: want exactly one", d != nil, err)
			}
		})
	}
}

func TestDiscoveryDefaults(t *testing.T) {
	d, err := ParseDirector("t.yaml", src(`
virtual_servers:
  - address: 192.168.56.90
    port: 8080
    forwarding: TUN
    real_servers:
      - address: 10.0.0.1
    discovery:
      zookeeper: ["127.0.0.1:4180"]
      path: /sgroup
      checks:
        - type: dns
`))
	if err != nil {
		t.Fatal(err)
	}
	got := *d.VirtualServers[0].Discovery
	want := Discovery{ZooKeeper: []string{"127.0.0.1:4180"}, SessionTimeout: 5 * time.Second, Path: "/sgroup",
		Format: FormatSeed, Port: 8080, Weight: 1, Forwarding: TUN, MaxRemovalShare: 0.5, LeaveTimeout: 30 * time.Second,
		Checks: []Check{{Type: CheckDNS, QueryType: "SOA", QueryName: "."}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("discovery defaults:\n got %+v\nwant %+v", got, want)
	}
	if rs := d.VirtualServers[0].RealServers; len(rs) != 1 || rs[0].Source != "" {
		t.Errorf("static real servers: %+v", rs)
	}
	if k := got.Ensemble(); k != "5s 127.0.0.1:4180" {
		t.Errorf("Ensemble() = %q", k)
	}
}
