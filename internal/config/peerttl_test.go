package config

import "testing"

// TestUnicastPeerTTLErrors: vrrp's unicast_peer_ttls errors name the file
// and line of the entry's key.
func TestUnicastPeerTTLErrors(t *testing.T) {
	_, err := ParseDirector("t.yaml", src(`
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses:
        - address: 192.168.56.90
      unicast_peers: [10.0.0.2, 10.0.0.3]
      unicast_peer_ttls:
        - {address: 10.0.0.2, min_ttl: 250}
        - address: 10.0.0.9
          min_ttl: 200
          max_ttl: 100
`))
	diffLines(t, errLines(t, err), []string{
		`t.yaml:11: vrrp.instances[VI_1].unicast_peer_ttls[1].address: 10.0.0.9 is not one of unicast_peers`,
		`t.yaml:12: vrrp.instances[VI_1].unicast_peer_ttls[1].min_ttl: 200 is above max_ttl 100: every advert from 10.0.0.9 would be dropped`,
	})
}
