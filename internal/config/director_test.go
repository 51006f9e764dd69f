package config

import (
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/healthcheck"

	"github.com/lvsd/lb/vrrp"
)

// src drops the leading newline of a raw string, so that the YAML's first
// line is line 1.
func src(s string) []byte { return []byte(strings.TrimPrefix(s, "\n")) }

// errLines returns the lines of err, which must be an Errors.
func errLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, not config.Errors: %v", err, err)
	}
	if len(es) == 0 {
		t.Fatal("empty Errors returned as an error")
	}
	return strings.Split(es.Error(), "\n")
}

func diffLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n  got:\n    %s\n  want:\n    %s", strings.Join(got, "\n    "), strings.Join(want, "\n    "))
	}
}

// One valid instance, reused by cases that test other sections.
const vi1 = `
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses:
        - address: 192.168.56.90
`

func TestDirectorErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "valid minimal",
			yaml: vi1,
		},
		{
			name: "empty file",
			yaml: "",
		},
		{
			name: "comments only",
			yaml: "# nothing here\n",
		},
		{
			name: "unknown fields at every level",
			yaml: `
globl: {}
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      priorty: 100
      virtual_ipaddresses:
        - address: 192.168.56.90
          lable: eth0:0
virtual_servers:
  - address: 192.168.56.90
    port: 80
    real_servers:
      - address: 10.0.0.1
        checks:
          - type: tcp
            timeout: 3
`,
			want: []string{
				`t.yaml:1: unknown field "globl"`,
				`t.yaml:7: vrrp.instances[VI_1]: unknown field "priorty"`,
				`t.yaml:10: vrrp.instances[VI_1].virtual_ipaddresses[0]: unknown field "lable"`,
				`t.yaml:18: virtual_servers[0].real_servers[0].checks[0]: unknown field "timeout"`,
			},
		},
		{
			name: "duplicate keys",
			yaml: `
global:
  log_level: info
  log_level: debug
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses:
        - address: 192.168.56.90
    VI_1:
      interface: eth1
global: {}
`,
			want: []string{
				`t.yaml:3: global: duplicate key "log_level" (first at line 2)`,
				`t.yaml:11: vrrp.instances: duplicate key "VI_1" (first at line 6)`,
				`t.yaml:13: duplicate key "global" (first at line 1)`,
			},
		},
		{
			name: "wrong types",
			yaml: `
global: [a, b]
ipvs:
  sysctls:
    ip_forward: yes
  timeouts: {tcp: [1]}
vrrp:
  instances:
    VI_1:
      interface: {name: eth0}
      virtual_router_id: abc
      priority: 1.5
      virtual_ipaddresses: 192.168.56.90
virtual_servers:
  address: 192.168.56.90
`,
			want: []string{
				`t.yaml:1: global: expected a mapping, got a list`,
				`t.yaml:4: ipvs.sysctls.ip_forward: expected true or false, got "yes"`,
				`t.yaml:5: ipvs.timeouts.tcp: expected a duration, got a list`,
				`t.yaml:9: vrrp.instances[VI_1].interface: expected a string, got a mapping`,
				`t.yaml:10: vrrp.instances[VI_1].virtual_router_id: expected an integer, got "abc"`,
				`t.yaml:11: vrrp.instances[VI_1].priority: expected an integer, got "1.5"`,
				`t.yaml:12: vrrp.instances[VI_1].virtual_ipaddresses: expected a list, got "192.168.56.90"`,
				`t.yaml:14: virtual_servers: expected a list, got a mapping`,
			},
		},
		{
			name: "not a mapping at the top",
			yaml: "- a\n- b\n",
			want: []string{`t.yaml:1: expected a mapping, got a list`},
		},
		{
			name: "out of range",
			yaml: `
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 300
      priority: 0
      version: 4
      preempt_delay: 1001
      virtual_ipaddresses:
        - address: 192.168.56.90
      track_interfaces:
        - {name: eth1, weight: 255}
      garp:
        master_repeat: 0
virtual_servers:
  - address: 192.168.56.90
    port: 70000
  - address: 192.168.56.91
    port: 80
    fwmark: -1
  - address: 192.168.56.92
    port: 80
    quorum: 0
    hysteresis: -1
    real_servers:
      - address: 10.0.0.1
        weight: 65536
        retry: -1
        lower_threshold: 10
        upper_threshold: 5
`,
			want: []string{
				`t.yaml:5: vrrp.instances[VI_1].virtual_router_id: must be between 1 and 255, got 300`,
				`t.yaml:6: vrrp.instances[VI_1].priority: must be between 1 and 255, got 0`,
				`t.yaml:7: vrrp.instances[VI_1].version: must be 2 or 3, got 4`,
				`t.yaml:8: vrrp.instances[VI_1].preempt_delay: must be at most 1000s, got 16m41s`,
				`t.yaml:12: vrrp.instances[VI_1].track_interfaces[0].weight: must be between -254 and 254, got 255`,
				`t.yaml:14: vrrp.instances[VI_1].garp.master_repeat: must be between 1 and 255, got 0`,
				`t.yaml:17: virtual_servers[0].port: 70000 is out of range (0..65535)`,
				`t.yaml:20: virtual_servers[1].fwmark: -1 is out of range (0..4294967295)`,
				`t.yaml:23: virtual_servers[2].quorum: must be at least 1, got 0`,
				`t.yaml:24: virtual_servers[2].hysteresis: must not be negative, got -1`,
				`t.yaml:27: virtual_servers[2].real_servers[0].weight: must be between 0 and 65535, got 65536`,
				`t.yaml:28: virtual_servers[2].real_servers[0].retry: must not be negative, got -1`,
				`t.yaml:29: virtual_servers[2].real_servers[0].lower_threshold: must not exceed upper_threshold 5, got 10`,
			},
		},
		{
			name: "bad addresses",
			yaml: `
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      source_address: 10.0.0.256
      unicast_peers: [10.0.0.2, "fe80::1%eth0", 10.0.0.2]
      virtual_ipaddresses:
        - address: 192.168.56.90/33
        - address: 224.0.0.18
virtual_servers:
  - address: 192.168.56.900
    port: 80
    real_servers:
      - address: 10.0.0.300
      - address: "2001:db8::1"
      - address: "::ffff:10.0.0.300"
      - address: "::ffff:10.0.0.3"
      - address: 10.0.0.3
    sorry_server: {address: nowhere}
`,
			want: []string{
				`t.yaml:6: vrrp.instances[VI_1].source_address: invalid IP address "10.0.0.256"`,
				`t.yaml:7: vrrp.instances[VI_1].unicast_peers[1]: invalid IP address "fe80::1%eth0"`,
				`t.yaml:7: vrrp.instances[VI_1].unicast_peers[2]: duplicate peer 10.0.0.2`,
				`t.yaml:9: vrrp.instances[VI_1].virtual_ipaddresses[0].address: invalid IP prefix "192.168.56.90/33"`,
				`t.yaml:10: vrrp.instances[VI_1].virtual_ipaddresses[1].address: 224.0.0.18 cannot be a virtual address`,
				`t.yaml:12: virtual_servers[0].address: invalid IP address "192.168.56.900"`,
				`t.yaml:15: virtual_servers[0].real_servers[0].address: invalid IP address "10.0.0.300"`,
				`t.yaml:16: virtual_servers[0].real_servers[1].address: ipv6 real server in an ipv4 service`,
				`t.yaml:17: virtual_servers[0].real_servers[2].address: invalid IP address "::ffff:10.0.0.300"`,
				`t.yaml:19: virtual_servers[0].real_servers[4]: duplicate real server 10.0.0.3:80 (first at line 18)`,
				`t.yaml:20: virtual_servers[0].sorry_server.address: invalid IP address "nowhere"`,
			},
		},
		{
			name: "duplicate services and real servers",
			yaml: `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    real_servers:
      - address: 10.0.0.1
      - address: 10.0.0.2
      - address: 10.0.0.1
        port: 80
  - address: 192.168.56.90
    port: 80
    protocol: UDP
  - address: 192.168.56.90
    port: 80
    protocol: tcp
  - fwmark: 5
  - fwmark: 5
    family: ipv6
  - fwmark: 5
    family: ipv4
`,
			want: []string{
				`t.yaml:7: virtual_servers[0].real_servers[2]: duplicate real server 10.0.0.1:80 (first at line 5)`,
				`t.yaml:12: virtual_servers[2]: duplicate service TCP 192.168.56.90:80 (first at line 2)`,
				`t.yaml:18: virtual_servers[5]: duplicate service FWM 5 ipv4 (first at line 15)`,
			},
		},
		{
			name: "duplicate virtual routers and VIPs",
			yaml: `
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses:
        - address: 192.168.56.90
    VI_2:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses:
        - address: 192.168.56.90/24
    VI_3:
      interface: eth1
      virtual_router_id: 51
      virtual_ipaddresses:
        - address: 192.168.57.90
    VI_6:
      interface: eth0
      virtual_router_id: 51
      version: 3
      virtual_ipaddresses:
        - address: "2001:db8::90"
`,
			want: []string{
				`t.yaml:10: vrrp.instances[VI_2].virtual_router_id: duplicate virtual router eth0 VRID 51 ipv4 (first at line 3)`,
				`t.yaml:12: vrrp.instances[VI_2].virtual_ipaddresses[0]: duplicate virtual IP address 192.168.56.90 (first at line 7)`,
			},
		},
		{
			name: "missing required fields",
			yaml: `
ipvs:
  sync_daemon:
    sync_id: 1
vrrp:
  instances:
    VI_1:
      state: BACKUP
    VI_2:
      interface: eth0
      virtual_router_id: 52
      virtual_ipaddresses: []
      authentication: {type: PASS}
  scripts:
    chk: {interval: 2s}
  sync_groups:
    G1: {}
virtual_servers:
  - port: 80
  - address: 192.168.56.90
    real_servers:
      - weight: 2
        checks:
          - connect_port: 80
          - type: http
          - type: script
  - address: 192.168.56.91
    port: 80
    sorry_server: {port: 80}
`,
			want: []string{
				`t.yaml:2: ipvs.sync_daemon: missing required field "interface"`,
				`t.yaml:2: ipvs.sync_daemon: role auto needs an instance (the VRRP instance whose state drives the sync daemon)`,
				`t.yaml:6: vrrp.instances[VI_1]: missing required field "interface"`,
				`t.yaml:6: vrrp.instances[VI_1]: missing required field "virtual_router_id"`,
				`t.yaml:6: vrrp.instances[VI_1]: missing required field "virtual_ipaddresses"`,
				`t.yaml:11: vrrp.instances[VI_2].virtual_ipaddresses: at least one address required`,
				`t.yaml:12: vrrp.instances[VI_2].authentication: missing required field "password"`,
				`t.yaml:14: vrrp.scripts[chk]: missing required field "command"`,
				`t.yaml:16: vrrp.sync_groups[G1]: missing required field "instances"`,
				`t.yaml:18: virtual_servers[0]: missing required field "address" (or fwmark)`,
				`t.yaml:19: virtual_servers[1]: missing required field "port"`,
				`t.yaml:21: virtual_servers[1].real_servers[0]: missing required field "address"`,
				`t.yaml:23: virtual_servers[1].real_servers[0].checks[0]: missing required field "type"`,
				`t.yaml:24: virtual_servers[1].real_servers[0].checks[1]: missing required field "urls"`,
				`t.yaml:24: virtual_servers[1].real_servers[0].checks[1]: missing required field "connect_port" (the real server has no port)`,
				`t.yaml:25: virtual_servers[1].real_servers[0].checks[2]: missing required field "command"`,
				`t.yaml:28: virtual_servers[2].sorry_server: missing required field "address"`,
			},
		},
		{
			name: "service contradictions",
			yaml: `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    scheduler: rr
    scheduler_flags: [sh-port]
    persistence_netmask: 255.255.255.0
    one_packet: true
  - address: 192.168.56.90
    port: 81
    scheduler: mh
    scheduler_flags: [mh-port, sh-fallback, flag-3]
    persistence_timeout: 1500ms
  - fwmark: 7
    address: 192.168.56.90
    port: 80
    protocol: TCP
  - address: 192.168.56.90
    port: 0
  - address: "2001:db8::90"
    family: ipv4
    port: 53
    protocol: udp
    one_packet: true
    persistence_timeout: 60
    persistence_netmask: 129
  - address: "2001:db8::91"
    port: 53
    persistence_timeout: 60
    persistence_netmask: 64
`,
			want: []string{
				`t.yaml:5: virtual_servers[0].scheduler_flags: scheduler rr has no flags (only sh and mh do)`,
				`t.yaml:6: virtual_servers[0].persistence_netmask: persistence_netmask needs persistence_timeout`,
				`t.yaml:7: virtual_servers[0].one_packet: one_packet needs protocol UDP`,
				`t.yaml:11: virtual_servers[1].scheduler_flags[1]: flag sh-fallback needs scheduler sh`,
				`t.yaml:12: virtual_servers[1].persistence_timeout: must be whole seconds, got 1.5s`,
				`t.yaml:14: virtual_servers[2].address: not allowed in a fwmark service`,
				`t.yaml:15: virtual_servers[2].port: not allowed in a fwmark service`,
				`t.yaml:16: virtual_servers[2].protocol: not allowed in a fwmark service`,
				`t.yaml:18: virtual_servers[3].port: port 0 (all ports) needs persistence_timeout`,
				`t.yaml:20: virtual_servers[4].family: family ipv4 does not match address 2001:db8::90`,
				`t.yaml:25: virtual_servers[4].persistence_netmask: invalid netmask "129" (want a dotted mask or a prefix length)`,
			},
		},
		{
			name: "real server ports and forwarding",
			yaml: `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    forwarding: DR
    real_servers:
      - address: 10.0.0.1
        port: 8080
      - address: 10.0.0.2
        port: 8080
        forwarding: NAT
      - address: 10.0.0.3
        port: 8080
        forwarding: TUN
      - address: 10.0.0.4
        tunnel: {type: gue}
      - address: 10.0.0.5
        forwarding: tunnel
        tunnel: {type: gue, port: 5555, checksum: remcsum}
      - address: 10.0.0.6
        forwarding: i
        tunnel: {type: ipip, port: 5555, checksum: csum}
      - address: 10.0.0.7
        forwarding: i
        tunnel: {type: gue}
      - address: 10.0.0.8
        forwarding: xyz
        port: 8080
    sorry_server: {address: 10.0.0.9, port: 8080}
  - fwmark: 3
    real_servers:
      - address: 10.0.0.1
        port: 8080
        checks: [{type: tcp}]
      - address: 10.0.0.2
        checks: [{type: tcp}, {type: script, command: [/bin/true]}, {type: tcp, connect_port: 80}]
`,
			want: []string{
				`t.yaml:7: virtual_servers[0].real_servers[0].port: DR port 8080 differs from the service port 80 (only NAT can change the port)`,
				`t.yaml:12: virtual_servers[0].real_servers[2].port: TUN port 8080 differs from the service port 80 (only NAT can change the port)`,
				`t.yaml:15: virtual_servers[0].real_servers[3].tunnel: tunnel needs forwarding TUN, got DR`,
				`t.yaml:21: virtual_servers[0].real_servers[5].tunnel.port: only a gue tunnel has a port`,
				`t.yaml:21: virtual_servers[0].real_servers[5].tunnel.checksum: an ipip tunnel has no checksum option`,
				`t.yaml:24: virtual_servers[0].real_servers[6].tunnel: a gue tunnel needs a port`,
				`t.yaml:26: virtual_servers[0].real_servers[7].forwarding: unknown forwarding method "xyz" (want DR, NAT or TUN)`,
				`t.yaml:28: virtual_servers[0].sorry_server.port: DR port 8080 differs from the service port 80 (only NAT can change the port)`,
				`t.yaml:35: virtual_servers[1].real_servers[1].checks[0]: missing required field "connect_port" (the real server has no port)`,
			},
		},
		{
			name: "vrrp contradictions",
			yaml: `
vrrp:
  instances:
    VI_1:
      state: MASTER
      nopreempt: true
      interface: eth0
      virtual_router_id: 51
      version: 3
      advert_interval: 15ms
      authentication: {type: PASS, password: "123456789"}
      virtual_ipaddresses:
        - address: 192.168.56.90
          label: eth1:0
        - address: 192.168.56.91
          label: eth0:0123456789abc
        - address: "2001:db8::90"
          label: eth0:6
        - address: 192.168.56.92
          device: eth1
          label: eth1
      track_scripts:
        - name: chk_nginx
        - name: chk_missing
          weight: -300
    VI_2:
      interface: eth0
      virtual_router_id: 52
      advert_interval: 1.5
      authentication: {type: AH, password: x}
      source_address: "2001:db8::1"
      unicast_peers: ["2001:db8::2"]
      virtual_ipaddresses:
        - address: 192.168.56.93
    VI_3:
      interface: eth0
      virtual_router_id: 53
      virtual_ipaddresses:
        - address: "2001:db8::93"
  scripts:
    chk_nginx:
      command: [/usr/bin/pgrep, nginx]
      interval: 0
      rise: 0
      weight: 255
  sync_groups:
    G1:
      instances: [VI_1, VI_2, VI_1]
    G2:
      instances: [VI_2, VI_9]
`,
			want: []string{
				`t.yaml:5: vrrp.instances[VI_1].nopreempt: nopreempt needs state BACKUP (an instance starting as MASTER takes over anyway)`,
				`t.yaml:9: vrrp.instances[VI_1].advert_interval: with VRRP version 3 must be a multiple of 10ms from 10ms to 40.95s, got 15ms`,
				`t.yaml:10: vrrp.instances[VI_1].authentication: authentication is not supported with VRRP version 3`,
				`t.yaml:10: vrrp.instances[VI_1].authentication.password: must be at most 8 characters, got 9`,
				`t.yaml:13: vrrp.instances[VI_1].virtual_ipaddresses[0].label: label "eth1:0" must be the device name "eth0", a colon and a suffix (e.g. eth0:0)`,
				`t.yaml:15: vrrp.instances[VI_1].virtual_ipaddresses[1].label: label "eth0:0123456789abc" is longer than 15 bytes`,
				`t.yaml:16: vrrp.instances[VI_1].virtual_ipaddresses[2].address: ipv6 address in an instance whose first address is ipv4`,
				`t.yaml:17: vrrp.instances[VI_1].virtual_ipaddresses[2].label: labels are IPv4 only`,
				`t.yaml:20: vrrp.instances[VI_1].virtual_ipaddresses[3].label: label "eth1" must be the device name "eth1", a colon and a suffix (e.g. eth1:0)`,
				`t.yaml:23: vrrp.instances[VI_1].track_scripts[1].name: unknown script "chk_missing" (define it under vrrp.scripts)`,
				`t.yaml:24: vrrp.instances[VI_1].track_scripts[1].weight: must be between -254 and 254, got -300`,
				`t.yaml:28: vrrp.instances[VI_2].advert_interval: with VRRP version 2 must be whole seconds from 1s to 255s, got 1.5s`,
				`t.yaml:29: vrrp.instances[VI_2].authentication.type: authentication type AH is not supported (only PASS)`,
				`t.yaml:30: vrrp.instances[VI_2].source_address: ipv6 source address in an ipv4 instance`,
				`t.yaml:31: vrrp.instances[VI_2].unicast_peers[0]: ipv6 peer in an ipv4 instance`,
				`t.yaml:34: vrrp.instances[VI_3].version: IPv6 virtual addresses need VRRP version 3`,
				`t.yaml:42: vrrp.scripts[chk_nginx].interval: must be greater than 0`,
				`t.yaml:43: vrrp.scripts[chk_nginx].rise: must be between 1 and 2147483647, got 0`,
				`t.yaml:44: vrrp.scripts[chk_nginx].weight: must be between -254 and 254, got 255`,
				`t.yaml:47: vrrp.sync_groups[G1].instances[2]: instance "VI_1" listed twice`,
				`t.yaml:49: vrrp.sync_groups[G2].instances[0]: instance "VI_2" is already in sync group "G1"`,
				`t.yaml:49: vrrp.sync_groups[G2].instances[1]: unknown VRRP instance "VI_9"`,
			},
		},
		{
			name: "checks",
			yaml: `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    real_servers:
      - address: 10.0.0.1
        checks:
          - type: tcp
            urls: [{path: /}]
            command: [/bin/true]
          - type: http
            urls:
              - path: /
                digest: ff20ad2481f97b1754ef3e12ecd3a9c
              - path: index.html
                digest: zz20ad2481f97b1754ef3e12ecd3a9cc
                status_codes: [200, "300-199"]
            tls_verify: true
          - type: script
            command: "check.sh && echo ok"
            connect_ip: 10.0.0.2
          - type: dns
            query_type: AXFR
            query_name: ""
          - type: icmp
          - type: https
            urls: []
            connect_timeout: 0
            delay_loop: 0s
`,
			want: []string{
				`t.yaml:8: virtual_servers[0].real_servers[0].checks[0].urls: not valid for a tcp check`,
				`t.yaml:9: virtual_servers[0].real_servers[0].checks[0].command: not valid for a tcp check`,
				`t.yaml:13: virtual_servers[0].real_servers[0].checks[1].urls[0].digest: digest "ff20ad2481f97b1754ef3e12ecd3a9c" is not 32 hexadecimal digits (an MD5 sum)`,
				`t.yaml:14: virtual_servers[0].real_servers[0].checks[1].urls[1].path: must start with "/", got "index.html"`,
				`t.yaml:15: virtual_servers[0].real_servers[0].checks[1].urls[1].digest: digest "zz20ad2481f97b1754ef3e12ecd3a9cc" is not 32 hexadecimal digits (an MD5 sum)`,
				`t.yaml:16: virtual_servers[0].real_servers[0].checks[1].urls[1].status_codes[1]: invalid status code "300-199" (codes are 100-599, low first)`,
				`t.yaml:17: virtual_servers[0].real_servers[0].checks[1].tls_verify: not valid for a http check`,
				`t.yaml:19: virtual_servers[0].real_servers[0].checks[2].command: command "check.sh && echo ok" uses shell syntax; commands run without a shell: give a list of arguments`,
				`t.yaml:20: virtual_servers[0].real_servers[0].checks[2].connect_ip: not valid for a script check`,
				`t.yaml:22: virtual_servers[0].real_servers[0].checks[3].query_type: unknown DNS query type "AXFR" (want one of A, AAAA, NS, MX, TXT, SOA, CNAME, PTR, SRV)`,
				`t.yaml:23: virtual_servers[0].real_servers[0].checks[3].query_name: must not be empty`,
				`t.yaml:24: virtual_servers[0].real_servers[0].checks[4].type: unknown check type "icmp" (want one of http, https, tcp, script, dns, udp, ping, smtp)`,
				`t.yaml:26: virtual_servers[0].real_servers[0].checks[5].urls: at least one URL required`,
				`t.yaml:27: virtual_servers[0].real_servers[0].checks[5].connect_timeout: must be greater than 0`,
				`t.yaml:28: virtual_servers[0].real_servers[0].checks[5].delay_loop: must be greater than 0`,
			},
		},
		{
			name: "udp, ping and smtp checks",
			yaml: `
virtual_servers:
  - address: 192.168.56.90
    port: 53
    protocol: UDP
    real_servers:
      - address: 10.0.0.1
        checks:
          - type: udp
            payload: "12 zz"
            reply: "ab"
            max_reply_length: 9
          - type: udp
            require_reply: true
            reply: "1x 2q"
            min_reply_length: 10
            max_reply_length: 9
          - type: ping
            connect_port: 80
          - type: smtp
            helo_name: "two words"
            urls: [{path: /}]
`,
			want: []string{
				`t.yaml:9: virtual_servers[0].real_servers[0].checks[0].payload: parse hex "12 zz": 'z' is not a hex digit`,
				`t.yaml:10: virtual_servers[0].real_servers[0].checks[0].reply: needs require_reply: true`,
				`t.yaml:11: virtual_servers[0].real_servers[0].checks[0].max_reply_length: needs require_reply: true`,
				`t.yaml:14: virtual_servers[0].real_servers[0].checks[1].reply: parse hex "1x 2q": 'q' is not a hex digit`,
				`t.yaml:15: virtual_servers[0].real_servers[0].checks[1].min_reply_length: 10 is more than max_reply_length 9`,
				`t.yaml:18: virtual_servers[0].real_servers[0].checks[2].connect_port: not valid for a ping check`,
				`t.yaml:20: virtual_servers[0].real_servers[0].checks[3].helo_name: must be one word, got "two words"`,
				`t.yaml:21: virtual_servers[0].real_servers[0].checks[3].urls: not valid for a smtp check`,
			},
		},
		{
			name: "global and ipvs",
			yaml: `
global:
  control_socket: lbd.sock
  metrics_address: "localhost"
  log_format: xml
  resync_interval: 500ms
  state_dir: ""
  status_page_token_file: page.token
ipvs:
  timeouts: {tcp: 1.5, tcpfin: 2m, udp: -1}
  sync_daemon:
    interface: eth0
    sync_id: 256
    instance: VI_9
`,
			want: []string{
				`t.yaml:2: global.control_socket: must be an absolute path, got "lbd.sock"`,
				`t.yaml:3: global.metrics_address: invalid listen address "localhost" (want host:port, or "" to disable)`,
				`t.yaml:4: global.log_format: unknown log format "xml" (want one of text, json)`,
				`t.yaml:5: global.resync_interval: must be at least 1s, got 500ms`,
				`t.yaml:7: global.status_page_token_file: must be an absolute path, got "page.token"`,
				`t.yaml:9: ipvs.timeouts.udp: invalid duration "-1": must not be negative`,
				`t.yaml:9: ipvs.timeouts.tcp: must be whole seconds, got 1.5s`,
				`t.yaml:12: ipvs.sync_daemon.sync_id: must be between 0 and 255, got 256`,
				`t.yaml:13: ipvs.sync_daemon.instance: unknown VRRP instance "VI_9"`,
			},
		},
		{
			name: "bad durations",
			yaml: `
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      advert_interval: 1 second
      virtual_ipaddresses:
        - address: 192.168.56.90
virtual_servers:
  - address: 192.168.56.90
    port: 80
    delay_loop: 6x
`,
			want: []string{
				`t.yaml:6: vrrp.instances[VI_1].advert_interval: invalid duration "1 second" (want Go syntax such as 1s, 500ms, 1m30s, or a number of seconds)`,
				`t.yaml:12: virtual_servers[0].delay_loop: invalid duration "6x" (want Go syntax such as 1s, 500ms, 1m30s, or a number of seconds)`,
			},
		},
		{
			name: "syntax error",
			yaml: `
global:
  router_id: a: b
`,
			want: []string{`t.yaml:2: mapping values are not allowed in this context`},
		},
		{
			name: "unknown anchor has no line",
			yaml: `
global: *nowhere
`,
			want: []string{`t.yaml: unknown anchor 'nowhere' referenced`},
		},
		{
			name: "multiple documents",
			yaml: `
global: {}
---
global: {}
`,
			want: []string{`t.yaml:2: multiple YAML documents are not supported (remove the second "---")`},
		},
		{
			name: "merge keys",
			yaml: `
base: &base
  port: 80
virtual_servers:
  - <<: *base
    address: 192.168.56.90
`,
			want: []string{
				`t.yaml:1: unknown field "base"`,
				`t.yaml:4: virtual_servers[0]: merge keys (<<) are not supported`,
				`t.yaml:4: virtual_servers[0]: missing required field "port"`,
			},
		},
		{
			name: "non-string keys",
			yaml: `
global:
  [a]: 1
  ? {b: 1}
  : 2
`,
			want: []string{
				`t.yaml:2: global: expected a string key, got a list`,
				`t.yaml:3: global: expected a string key, got a mapping`,
			},
		},
		{
			name: "aliases are followed",
			yaml: `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    real_servers:
      - &web
        address: 10.0.0.1
        checks: [{type: tcp, retry: x}]
  - address: 192.168.56.90
    port: 81
    real_servers: [*web]
`,
			want: []string{
				`t.yaml:7: virtual_servers[0].real_servers[0].checks[0].retry: expected an integer, got "x"`,
				`t.yaml:7: virtual_servers[1].real_servers[0].checks[0].retry: expected an integer, got "x"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDirector("t.yaml", src(tt.yaml))
			diffLines(t, errLines(t, err), tt.want)
			if (err == nil) != (d != nil) {
				t.Errorf("ParseDirector returned config %v and error %v: want exactly one", d != nil, err)
			}
		})
	}
}

// The acceptance case: a misspelt key, a bad address and a
// duplicate VIP:port give exactly three file:line errors.
func TestAcceptanceThreeErrors(t *testing.T) {
	const file = "testdata/three-errors.yaml"
	_, err := LoadDirector(file)
	got := errLines(t, err)
	want, rerr := os.ReadFile("testdata/three-errors.golden")
	if rerr != nil {
		t.Fatal(rerr)
	}
	diffLines(t, got, strings.Split(strings.TrimSuffix(string(want), "\n"), "\n"))
	if len(got) != 3 {
		t.Errorf("got %d errors, want 3", len(got))
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := LoadDirector("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadDirector(missing) = %v, want an os.ErrNotExist error", err)
	}
	var es Errors
	if errors.As(err, &es) {
		t.Errorf("a read failure must not be config.Errors: %v", err)
	}
	if _, err := LoadAgent("testdata/does-not-exist.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadAgent(missing) = %v, want an os.ErrNotExist error", err)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Path: "global", Msg: "bad"}, "a.yaml:3: global: bad"},
		{Error{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{Error{File: "a.yaml", Msg: "bad"}, "a.yaml: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestDirectorDefaults(t *testing.T) {
	d, err := ParseDirector("t.yaml", src(`
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses:
        - address: 192.168.56.90
      track_scripts:
        - name: chk
        - name: chk
          weight: 0
  scripts:
    chk:
      command: [/bin/true]
      interval: 2
      weight: -20
virtual_servers:
  - address: 192.168.56.90
    port: 80
    inhibit_on_failure: true
    sorry_server: {address: 10.0.0.9}
    real_servers:
      - address: 10.0.0.1
        checks:
          - type: http
            urls: [{path: /, digest: FF20AD2481F97B1754EF3E12ECD3A9CC}]
          - type: https
            virtualhost: www.example.com
            urls: [{path: /}]
          - type: dns
      - address: 10.0.0.2
        port: 8080
        weight: 0
        forwarding: NAT
        inhibit_on_failure: false
  - fwmark: 5
    forwarding: TUN
    real_servers:
      - address: 10.0.0.1
  - address: "2001:db8::90"
    port: 443
    persistence_timeout: 300
`))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "lbd"
	}
	wantGlobal := Global{
		RouterID:       host,
		ControlSocket:  "/run/lbd/lbd.sock",
		MetricsAddress: "127.0.0.1:9650",
		LogFormat:      "text",
		LogLevel:       "info",
		ResyncInterval: 30 * time.Second,
		StateDir:       "/var/lib/lbd",

		ControlMaxConnections: 64,
		ControlIdleTimeout:    30 * time.Second,
		ControlHeaderTimeout:  5 * time.Second,
		ControlBodyTimeout:    10 * time.Second,
		ControlWriteTimeout:   10 * time.Second,
	}
	if d.Global != wantGlobal {
		t.Errorf("Global = %+v\nwant %+v", d.Global, wantGlobal)
	}
	if d.IPVS.SyncDaemon != nil || d.IPVS.Sysctls.IPForward != nil || d.IPVS.Timeouts != (Timeouts{}) {
		t.Errorf("IPVS defaults must leave the kernel alone: %+v", d.IPVS)
	}

	in := d.VRRP.Instances[0]
	if in.Name != "VI_1" || in.InitialState != vrrp.StartBackup || in.Version != 2 || in.Priority != 100 ||
		in.AdvertInterval != time.Second || in.NoPreempt || in.PreemptDelay != 0 {
		t.Errorf("instance defaults: %+v", in)
	}
	if in.VIPs[0] != (vrrp.VIP{Prefix: netip.MustParsePrefix("192.168.56.90/32"), Device: "eth0"}) {
		t.Errorf("VIP defaults: %+v", in.VIPs[0])
	}
	if w0, w1 := in.TrackScripts[0].Weight, in.TrackScripts[1].Weight; w0 != nil || w1 == nil || *w1 != 0 {
		t.Errorf("track script weights = %v, %v; want nil (the script's), 0 (override)", w0, w1)
	}
	wantGARP := vrrp.GARPConfig{MasterDelay: 5 * time.Second, MasterRepeat: 5, MasterRefreshRepeat: 1}
	if in.GARP != wantGARP {
		t.Errorf("GARP = %+v, want %+v", in.GARP, wantGARP)
	}
	s := d.VRRP.Scripts[0]
	if s.Interval != 2*time.Second || s.Timeout != 2*time.Second || s.Rise != 1 || s.Fall != 1 {
		t.Errorf("script defaults: %+v", s)
	}

	vs := d.VirtualServers[0]
	if vs.Protocol != TCP || vs.Family != IPv4 || vs.Scheduler != "wlc" || vs.Forwarding != DR ||
		vs.Quorum != 1 || vs.PersistenceNetmask != 32 || vs.Persistent() {
		t.Errorf("service defaults: %+v", vs)
	}
	if *vs.SorryServer != (SorryServer{Address: netip.MustParseAddr("10.0.0.9"), Port: 80, Forwarding: DR}) {
		t.Errorf("sorry server defaults: %+v", *vs.SorryServer)
	}
	rs0, rs1 := vs.RealServers[0], vs.RealServers[1]
	if rs0.Port != 80 || rs0.Weight != 1 || rs0.Forwarding != DR || !rs0.InhibitOnFailure || rs0.Tunnel != nil {
		t.Errorf("real server 0 defaults: %+v", rs0)
	}
	if rs1.Port != 8080 || rs1.Weight != 0 || rs1.Forwarding != NAT || rs1.InhibitOnFailure {
		t.Errorf("real server 1 explicit values: %+v", rs1)
	}
	http, https, dns := rs0.Checks[0], rs0.Checks[1], rs0.Checks[2]
	if u := http.URLs[0]; u.Digest != "ff20ad2481f97b1754ef3e12ecd3a9cc" || !reflect.DeepEqual(u.StatusCodes, []StatusRange{{200, 299}}) {
		t.Errorf("URL defaults: %+v", u)
	}
	if https.SNI != "www.example.com" || https.TLSVerify {
		t.Errorf("https defaults: SNI %q TLSVerify %v", https.SNI, https.TLSVerify)
	}
	if dns.QueryType != "SOA" || dns.QueryName != "." {
		t.Errorf("dns defaults: %q %q", dns.QueryType, dns.QueryName)
	}
	if got := rs0.EffectiveTarget(&http); got != netip.MustParseAddrPort("10.0.0.1:80") {
		t.Errorf("EffectiveTarget = %v", got)
	}

	fw := d.VirtualServers[1]
	if fw.Protocol != "" || fw.Family != IPv4 || fw.Key() != "FWM 5 ipv4" {
		t.Errorf("fwmark service: %+v key %q", fw, fw.Key())
	}
	if rs := fw.RealServers[0]; rs.Forwarding != TUN || rs.Port != 0 || rs.Tunnel == nil || *rs.Tunnel != (Tunnel{Type: TunnelIPIP, Checksum: ChecksumNone}) {
		t.Errorf("TUN real server defaults: %+v tunnel %+v", rs, rs.Tunnel)
	}
	v6 := d.VirtualServers[2]
	if v6.Family != IPv6 || v6.PersistenceNetmask != 128 || !v6.Persistent() || v6.Key() != "TCP [2001:db8::90]:443" {
		t.Errorf("IPv6 service: %+v key %q", v6, v6.Key())
	}
}

// TestVRRPKeysComeFromVRRP: a key vrrp's Config carries decodes with no
// code in this package (here dont_track_primary), and its errors are
// placed on their line.
func TestVRRPKeysComeFromVRRP(t *testing.T) {
	y := src(`
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      dont_track_primary: true
      virtual_ipaddresses: [{address: 192.168.56.90}]
`)
	d, err := ParseDirector("t.yaml", y)
	if err != nil {
		t.Fatal(err)
	}
	if !d.VRRP.Instances[0].DontTrackPrimary {
		t.Error("dont_track_primary not decoded")
	}
	_, err = ParseDirector("t.yaml", []byte(strings.Replace(string(y), "dont_track_primary: true", "dont_track_primary: maybe", 1)))
	diffLines(t, errLines(t, err), []string{`t.yaml:6: vrrp.instances[VI_1].dont_track_primary: expected true or false, got "maybe"`})
}

func TestExplicitZeroKeepsZero(t *testing.T) {
	d, err := ParseDirector("t.yaml", src(`
global:
  metrics_address: ""
  resync_interval: 1
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses:
        - address: 192.168.56.90
      garp: {master_delay: 0}
`))
	if err != nil {
		t.Fatal(err)
	}
	if d.Global.MetricsAddress != "" || d.Global.ResyncInterval != time.Second {
		t.Errorf("global = %+v", d.Global)
	}
	if d.VRRP.Instances[0].GARP.MasterDelay != 0 {
		t.Errorf("explicit master_delay 0 became %v", d.VRRP.Instances[0].GARP.MasterDelay)
	}
}

func TestEffectiveCheck(t *testing.T) {
	d, err := ParseDirector("t.yaml", src(`
virtual_servers:
  - address: 192.168.56.90
    port: 80
    delay_loop: 6
    retry: 3
    alpha: true
    real_servers:
      - address: 10.0.0.1
        connect_timeout: 2s
        delay_before_retry: 500ms
        checks:
          - type: tcp
          - type: tcp
            connect_port: 8081
            connect_timeout: 0.25
            retry: 0
            warmup: 10s
            alpha: false
            rise: 2
            fall: 4
      - address: 10.0.0.2
        checks:
          - type: tcp
  - address: 192.168.56.90
    port: 81
    real_servers:
      - address: 10.0.0.1
        checks:
          - type: tcp
`))
	if err != nil {
		t.Fatal(err)
	}
	vs0, vs1 := &d.VirtualServers[0], &d.VirtualServers[1]
	rs0, rs1 := &vs0.RealServers[0], &vs0.RealServers[1]
	tests := []struct {
		name string
		vs   *VirtualServer
		rs   *RealServer
		c    *Check
		want healthcheck.Timing
	}{
		{
			name: "keepalived defaults",
			vs:   vs1, rs: &vs1.RealServers[0], c: &vs1.RealServers[0].Checks[0],
			want: healthcheck.Timing{DelayLoop: 60 * time.Second, ConnectTimeout: 5 * time.Second, Retry: 1,
				DelayBeforeRetry: 3 * time.Second, Rise: 1, Fall: 2},
		},
		{
			name: "service level only",
			vs:   vs0, rs: rs1, c: &rs1.Checks[0],
			want: healthcheck.Timing{DelayLoop: 6 * time.Second, ConnectTimeout: 5 * time.Second, Retry: 3,
				DelayBeforeRetry: 3 * time.Second, Alpha: true, Rise: 1, Fall: 4},
		},
		{
			name: "real server overrides service",
			vs:   vs0, rs: rs0, c: &rs0.Checks[0],
			want: healthcheck.Timing{DelayLoop: 6 * time.Second, ConnectTimeout: 2 * time.Second, Retry: 3,
				DelayBeforeRetry: 500 * time.Millisecond, Alpha: true, Rise: 1, Fall: 4},
		},
		{
			name: "check overrides all",
			vs:   vs0, rs: rs0, c: &rs0.Checks[1],
			want: healthcheck.Timing{DelayLoop: 6 * time.Second, ConnectTimeout: 250 * time.Millisecond, Retry: 0,
				DelayBeforeRetry: 500 * time.Millisecond, Warmup: 10 * time.Second, Alpha: false, Rise: 2, Fall: 4},
		},
		{
			name: "real server level without a check",
			vs:   vs0, rs: rs0, c: nil,
			want: healthcheck.Timing{DelayLoop: 6 * time.Second, ConnectTimeout: 2 * time.Second, Retry: 3,
				DelayBeforeRetry: 500 * time.Millisecond, Alpha: true, Rise: 1, Fall: 4},
		},
	}
	for _, tt := range tests {
		if got := tt.vs.EffectiveCheck(tt.rs, tt.c); got != tt.want {
			t.Errorf("%s: EffectiveCheck =\n  %+v\nwant\n  %+v", tt.name, got, tt.want)
		}
	}
	if got := rs0.EffectiveTarget(&rs0.Checks[1]); got != netip.MustParseAddrPort("10.0.0.1:8081") {
		t.Errorf("EffectiveTarget = %v, want 10.0.0.1:8081", got)
	}
}

func TestServiceKey(t *testing.T) {
	tests := []struct {
		vs   VirtualServer
		want string
	}{
		{VirtualServer{Address: netip.MustParseAddr("192.168.56.90"), Port: 80, Protocol: TCP}, "TCP 192.168.56.90:80"},
		{VirtualServer{Address: netip.MustParseAddr("2001:db8::1"), Port: 53, Protocol: UDP}, "UDP [2001:db8::1]:53"},
		{VirtualServer{FWMark: 5, Family: IPv4}, "FWM 5 ipv4"},
		{VirtualServer{FWMark: 7, Family: IPv6}, "FWM 7 ipv6"},
	}
	for _, tt := range tests {
		if got := tt.vs.Key(); got != tt.want {
			t.Errorf("Key() = %q, want %q", got, tt.want)
		}
	}
}

// Loading the same bytes twice gives deeply equal values: no hidden state
// (such as line numbers) in the model.
func TestDeterministic(t *testing.T) {
	data, err := os.ReadFile("../../deploy/examples/lbd-master.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err1 := ParseDirector("a", data)
	b, err2 := ParseDirector("b", append([]byte("\n\n# shifted\n"), data...))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("two loads of the same config differ")
	}
}

func TestVRRPLookups(t *testing.T) {
	d, err := ParseDirector("t.yaml", src(`
vrrp:
  instances:
    VI_2:
      interface: eth0
      virtual_router_id: 52
      virtual_ipaddresses: [{address: 192.168.56.91}]
    VI_1:
      interface: eth0
      virtual_router_id: 51
      version: 3
      advert_interval: 0.5
      virtual_ipaddresses: [{address: "2001:db8::90/64"}]
  sync_groups:
    G1: {instances: [VI_1]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if d.VRRP.Instances[0].Name != "VI_2" || d.VRRP.Instances[1].Name != "VI_1" {
		t.Errorf("file order not kept: %s, %s", d.VRRP.Instances[0].Name, d.VRRP.Instances[1].Name)
	}
	if in := d.VRRP.Instance("VI_1"); in == nil || in.Family() != "ipv6" || in.AdvertInterval != 500*time.Millisecond {
		t.Errorf("Instance(VI_1) = %+v", in)
	}
	if d.VRRP.Instance("nope") != nil {
		t.Error("Instance(nope) found something")
	}
	if g := d.VRRP.SyncGroupOf("VI_1"); g == nil || g.Name != "G1" {
		t.Errorf("SyncGroupOf(VI_1) = %+v", g)
	}
	if d.VRRP.SyncGroupOf("VI_2") != nil {
		t.Error("SyncGroupOf(VI_2) should be nil")
	}
	if p := d.VRRP.Instances[1].VIPs[0].Prefix; p.String() != "2001:db8::90/64" {
		t.Errorf("prefix = %v (host bits must be kept)", p)
	}
}

func TestNullIsAbsent(t *testing.T) {
	d, err := ParseDirector("t.yaml", src(`
global:
  metrics_address:
  resync_interval: ~
ipvs:
  sync_daemon:
virtual_servers:
`))
	if err != nil {
		t.Fatal(err)
	}
	if d.Global.MetricsAddress != DefaultMetricsAddress || d.Global.ResyncInterval != DefaultResyncInterval {
		t.Errorf("null values did not take defaults: %+v", d.Global)
	}
	if d.IPVS.SyncDaemon != nil || d.VirtualServers != nil {
		t.Errorf("null sections were not absent: %+v %+v", d.IPVS.SyncDaemon, d.VirtualServers)
	}
}

func TestConnReuseMode(t *testing.T) {
	ptr := func(v int) *int { return &v }
	tests := []struct {
		name string
		yaml string
		want *int // nil: absent
		errs []string
	}{
		{name: "absent leaves the kernel value", yaml: "ipvs:\n  sysctls: {expire_nodest_conn: true}\n"},
		{name: "null is absent", yaml: "ipvs:\n  sysctls:\n    conn_reuse_mode: ~\n"},
		{name: "explicit 0 is kept", yaml: "ipvs:\n  sysctls:\n    conn_reuse_mode: 0\n", want: ptr(0)},
		{name: "1", yaml: "ipvs:\n  sysctls: {conn_reuse_mode: 1}\n", want: ptr(1)},
		{name: "2 with expire_nodest_conn", yaml: "ipvs:\n  sysctls:\n    expire_nodest_conn: true\n    conn_reuse_mode: 2\n", want: ptr(2)},
		{name: "3", yaml: "ipvs:\n  sysctls:\n    conn_reuse_mode: 3\n", want: ptr(3)},
		{
			name: "above the range",
			yaml: "global: {}\nipvs:\n  sysctls:\n    expire_nodest_conn: true\n    conn_reuse_mode: 4\n",
			errs: []string{`t.yaml:5: ipvs.sysctls.conn_reuse_mode: must be between 0 and 3, got 4`},
		},
		{
			name: "negative",
			yaml: "ipvs:\n  sysctls: {conn_reuse_mode: -1}\n",
			errs: []string{`t.yaml:2: ipvs.sysctls.conn_reuse_mode: must be between 0 and 3, got -1`},
		},
		{
			name: "not an integer",
			yaml: "ipvs:\n  sysctls:\n    conn_reuse_mode: two\n",
			errs: []string{`t.yaml:3: ipvs.sysctls.conn_reuse_mode: expected an integer, got "two"`},
		},
		{
			name: "misspelt key",
			yaml: "ipvs:\n  sysctls:\n    conn_reuse: 2\n",
			errs: []string{`t.yaml:3: ipvs.sysctls: unknown field "conn_reuse"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDirector("t.yaml", []byte(tt.yaml))
			diffLines(t, errLines(t, err), tt.errs)
			if err != nil {
				return
			}
			got := d.IPVS.Sysctls.ConnReuseMode
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("conn_reuse_mode = %d, want absent", *got)
			case tt.want != nil && (got == nil || *got != *tt.want):
				t.Errorf("conn_reuse_mode = %v, want %d", got, *tt.want)
			}
		})
	}
}

// Aliases can multiply a small file into a huge tree: decoding stops with an
// error instead of running away.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("virtual_servers:\n  - &vs\n    address: 192.168.56.90\n    port: 80\n    real_servers:\n      - &rs\n        address: 10.0.0.1\n        checks:\n")
	for range 10 {
		b.WriteString("          - {type: tcp}\n")
	}
	for range 99 {
		b.WriteString("      - *rs\n")
	}
	for range 199 {
		b.WriteString("  - *vs\n")
	}
	// 200 services x 100 real servers x 10 checks: 400,000 values from 320
	// lines. The limit is lowered to keep the test fast; it works the same.
	r := newReport("t.yaml")
	r.maxNodes = 50_000
	_, err := r.parseDirector([]byte(b.String()))
	if err == nil || err.Error() != "t.yaml: document too large (more than 50000 values, aliases included)" {
		t.Fatalf("want a 'document too large' error, got %.300v", err)
	}
}
