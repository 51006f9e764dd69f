package config

import (
	"testing"
	"time"

	"github.com/lvsd/lb/vrrp"
)

// TestVRRPBFDErrors: vrrp's bfd errors name the file and line of the key.
func TestVRRPBFDErrors(t *testing.T) {
	_, err := ParseDirector("t.yaml", src(`
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses:
        - address: 192.168.56.90
      bfd:
        interval: 5ms
        multiplier: 0
    VI_6:
      interface: eth0
      virtual_router_id: 52
      version: 3
      virtual_ipaddresses:
        - address: 2001:db8::1
      bfd: {}
`))
	diffLines(t, errLines(t, err), []string{
		`t.yaml:9: vrrp.instances[VI_1].bfd.interval: must be from 10ms to 60s in whole microseconds, got 5ms`,
		`t.yaml:10: vrrp.instances[VI_1].bfd.multiplier: must be between 1 and 255, got 0`,
		`t.yaml:17: vrrp.instances[VI_6].bfd: BFD is implemented for IPv4 instances only (RFC 5881 over IPv4)`,
	})
}

// TestVRRPBFDDefaults: an empty bfd section takes 100ms x 3; absent, no BFD.
func TestVRRPBFDDefaults(t *testing.T) {
	d, err := ParseDirector("t.yaml", src(`
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses:
        - address: 192.168.56.90
      bfd: {}
    VI_2:
      interface: eth0
      virtual_router_id: 52
      virtual_ipaddresses:
        - address: 192.168.56.91
      bfd: {interval: 50ms}
    VI_3:
      interface: eth0
      virtual_router_id: 53
      virtual_ipaddresses:
        - address: 192.168.56.92
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*vrrp.BFDConfig{
		"VI_1": {Interval: 100 * time.Millisecond, Multiplier: 3},
		"VI_2": {Interval: 50 * time.Millisecond, Multiplier: 3},
		"VI_3": nil,
	}
	for name, w := range want {
		got := d.VRRP.Instance(name).BFD
		if (got == nil) != (w == nil) || (got != nil && *got != *w) {
			t.Errorf("%s: bfd %+v, want %+v", name, got, w)
		}
	}
}
