package vrrplab

import (
	"net/netip"
	"testing"
	"time"
)

// LbdConf renders what KeepalivedConf renders as a VRRP-only lbd.yaml (no
// virtual_servers): the same timers, priority, state, authentication and
// labelled VIPs. (The protocol packages may not import internal/config:
// that lbd accepts the file is shown by vrrpbench, which runs it.)
func TestLbdConf(t *testing.T) {
	vip := netip.MustParsePrefix("10.88.0.100/32")
	tests := []struct {
		in   KAInstance
		want string
	}{
		{KAInstance{Name: "VI_1", VRID: 51, Version: 2, Priority: 200, Advert: time.Second, AuthPass: "1111", VIPs: []netip.Prefix{vip}, Label: true},
			`global:
  router_id: a-1
  control_socket: /tmp/lab/a-1.lbd/lbd.sock
  state_dir: /tmp/lab/a-1.lbd
  metrics_address: ""
  log_format: json
vrrp:
  instances:
    VI_1:
      state: BACKUP
      interface: eth0
      virtual_router_id: 51
      version: 2
      priority: 200
      advert_interval: 1s
      authentication: {type: PASS, password: "1111"}
      virtual_ipaddresses:
        - address: 10.88.0.100/32
          label: "eth0:0"
`},
		{KAInstance{Name: "VI_1", VRID: 51, Version: 3, Priority: 100, Advert: 100 * time.Millisecond, NoPreempt: true, VIPs: []netip.Prefix{vip},
			UnicastSrc: netip.MustParseAddr("10.88.0.1"), UnicastPeers: []netip.Addr{netip.MustParseAddr("10.88.0.2")}},
			`global:
  router_id: a-1
  control_socket: /tmp/lab/a-1.lbd/lbd.sock
  state_dir: /tmp/lab/a-1.lbd
  metrics_address: ""
  log_format: json
vrrp:
  instances:
    VI_1:
      state: BACKUP
      interface: eth0
      virtual_router_id: 51
      version: 3
      priority: 100
      advert_interval: 100ms
      nopreempt: true
      source_address: 10.88.0.1
      unicast_peers:
        - 10.88.0.2
      virtual_ipaddresses:
        - address: 10.88.0.100/32
`},
	}
	for _, tt := range tests {
		if got := LbdConf("/tmp/lab", "a-1", tt.in); got != tt.want {
			t.Errorf("LbdConf(%+v) =\n%s\nwant\n%s", tt.in, got, tt.want)
		}
	}
}
