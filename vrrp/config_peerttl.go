package vrrp

import "net/netip"

// PeerTTL is one unicast peer's TTL (hop limit) bounds; 0 means no bound,
// as for the instance's unicast_min_ttl/unicast_max_ttl.
type PeerTTL struct {
	Address netip.Addr `yaml:"address"` // one of unicast_peers
	MinTTL  int        `yaml:"min_ttl"`
	MaxTTL  int        `yaml:"max_ttl"`
}

// validatePeerTTLs: each entry names one of the instance's peers, once,
// with bounds that are TTLs and that some advert can meet.
func (c *Config) validatePeerTTLs(f fields) {
	peers := map[netip.Addr]bool{}
	for _, a := range c.UnicastPeers {
		peers[peerKey(a)] = true
	}
	seen := map[netip.Addr]bool{}
	for j, t := range c.UnicastPeerTTLs {
		tf := f.at("unicast_peer_ttls" + item(j))
		switch a := peerKey(t.Address); {
		case !t.Address.IsValid():
			tf.missing("address")
		case !peers[a]:
			tf.add("address", "%s is not one of unicast_peers", t.Address)
		case seen[a]:
			tf.add("address", "duplicate peer %s", t.Address)
		default:
			seen[a] = true
		}
		tf.intRange("min_ttl", t.MinTTL, 0, 255)
		tf.intRange("max_ttl", t.MaxTTL, 0, 255)
		if t.MaxTTL != 0 && t.MinTTL > t.MaxTTL {
			tf.add("min_ttl", "%d is above max_ttl %d: every advert from %s would be dropped", t.MinTTL, t.MaxTTL, t.Address)
		}
	}
}

// peerKey is a peer's address as the receive path compares it: unzoned,
// unmapped.
func peerKey(a netip.Addr) netip.Addr { return a.WithZone("").Unmap() }

// ttlBounds are unicast TTL bounds, 0 = none.
type ttlBounds struct{ min, max int }

// allows reports whether ttl (-1: unknown, not checked) is within b.
func (b ttlBounds) allows(ttl int) bool {
	return ttl < 0 || ttl >= b.min && (b.max == 0 || ttl <= b.max)
}
