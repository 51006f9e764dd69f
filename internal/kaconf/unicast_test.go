package kaconf

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/lvsd/lb/vrrp"
)

// TestUnicastChecksMapped: keepalived's check_unicast_src (global or per
// instance, or implied by a peer's min_ttl/max_ttl) is lbd's default; the
// peers' min_ttl/max_ttl become the instance's bounds when they agree; an
// instance keepalived would not check gets check_unicast_src: false, as the
// importer writes keepalived's behaviour out, with a note.
func TestUnicastChecksMapped(t *testing.T) {
	for _, tc := range []struct {
		name             string
		conf             string
		min, max         int
		off              bool // check_unicast_src: false written, with a note
		yamlHas, yamlNot []string
	}{
		{"no check in keepalived", instance("unicast_peer {\n 10.0.0.2\n}"), 0, 0, true,
			[]string{"check_unicast_src: false"}, []string{"unicast_min_ttl", "unicast_max_ttl"}},
		{"check_unicast_src", instance("check_unicast_src\nunicast_peer {\n 10.0.0.2\n}"), 0, 0, false,
			nil, []string{"check_unicast_src"}},
		{"vrrp_check_unicast_src", "global_defs {\n vrrp_check_unicast_src\n}\n" + instance("unicast_peer {\n 10.0.0.2\n}"), 0, 0, false,
			nil, []string{"check_unicast_src"}},
		{"the peers agree on a range", instance("unicast_peer {\n 10.0.0.2 min_ttl 64 max_ttl 128\n 10.0.0.3 max_ttl 128 min_ttl 64\n}"), 64, 128, false,
			[]string{"unicast_min_ttl: 64", "unicast_max_ttl: 128"}, nil},
		{"max_ttl 255 is no bound", instance("unicast_peer {\n 10.0.0.2 min_ttl 255\n}"), 255, 0, false,
			[]string{"unicast_min_ttl: 255"}, []string{"unicast_max_ttl"}},
		{"multicast instance", instance("check_unicast_src"), 0, 0, false, nil, []string{"check_unicast_src"}},
		{"the peers' ranges differ: each its own", instance("unicast_peer {\n 10.0.0.2 min_ttl 255\n 10.0.0.3\n 10.0.0.4 min_ttl 60 max_ttl 64\n}"), 0, 0, false,
			[]string{"unicast_peer_ttls:\n", "- address: 10.0.0.2\n", "min_ttl: 255\n", "- address: 10.0.0.4\n", "min_ttl: 60\n", "max_ttl: 64\n"},
			[]string{"unicast_min_ttl", "unicast_max_ttl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := convert(t, tc.conf)
			if len(res.Unmapped) > 0 {
				t.Errorf("unmapped %v", res.Unmapped)
			}
			in := res.Director.VRRP.Instance("VI_1")
			if in.UnicastMinTTL != tc.min || in.UnicastMaxTTL != tc.max {
				t.Errorf("TTL bounds %d..%d, want %d..%d", in.UnicastMinTTL, in.UnicastMaxTTL, tc.min, tc.max)
			}
			if off := in.CheckUnicastSrc != nil && !*in.CheckUnicastSrc; off != tc.off {
				t.Errorf("check_unicast_src off %v, want %v", off, tc.off)
			}
			if got := hasNote(res, "keepalived accepts unicast adverts from any source"); got != tc.off {
				t.Errorf("note %v, want %v: %v", got, tc.off, res.Notes)
			}
			for _, w := range tc.yamlHas {
				if !strings.Contains(string(res.YAML), w) {
					t.Errorf("YAML lacks %q:\n%s", w, res.YAML)
				}
			}
			for _, w := range tc.yamlNot {
				if strings.Contains(string(res.YAML), w+":") {
					t.Errorf("YAML has %q:\n%s", w, res.YAML)
				}
			}
		})
	}
}

// TestPeerTTLsImported: peers whose keepalived TTL ranges differ each get
// their own bounds (unicast_peer_ttls); a peer without a range keeps
// keepalived's 0-255, which is no entry (the instance has no bounds), and
// max_ttl 255 is no upper bound.
func TestPeerTTLsImported(t *testing.T) {
	res := convert(t, instance("unicast_peer {\n 10.0.0.2 min_ttl 255\n 10.0.0.3\n 10.0.0.4 min_ttl 60 max_ttl 64\n}"))
	in := res.Director.VRRP.Instance("VI_1")
	want := []vrrp.PeerTTL{
		{Address: netip.MustParseAddr("10.0.0.2"), MinTTL: 255},
		{Address: netip.MustParseAddr("10.0.0.4"), MinTTL: 60, MaxTTL: 64},
	}
	if !slices.Equal(in.UnicastPeerTTLs, want) || in.UnicastMinTTL != 0 || in.UnicastMaxTTL != 0 {
		t.Errorf("peer TTLs %+v, instance %d..%d; want %+v, 0..0", in.UnicastPeerTTLs, in.UnicastMinTTL, in.UnicastMaxTTL, want)
	}
	if len(res.Unmapped) > 0 {
		t.Errorf("unmapped %v", res.Unmapped)
	}
}
