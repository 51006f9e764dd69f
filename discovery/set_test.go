package discovery

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mem(znode, addr string) Member {
	return Member{Znode: znode, Addr: netip.MustParseAddrPort(addr), Weight: 1}
}

func TestBuild(t *testing.T) {
	d := Defaults{Port: 80, Weight: 1}
	tests := []struct {
		name     string
		children map[string]string
		want     Set
		errs     []string
	}{
		{"empty", nil, Set{}, nil},
		{"sorted by address then port, not by znode",
			map[string]string{"sub0000000001": "10.0.0.9:80", "sub0000000002": "10.0.0.10:80", "sub0000000003": "10.0.0.9:79"},
			Set{mem("sub0000000003", "10.0.0.9:79"), mem("sub0000000001", "10.0.0.9:80"), mem("sub0000000002", "10.0.0.10:80")}, nil},
		{"IPv4 before IPv6",
			map[string]string{"a": "[2001:db8::1]:80", "b": "10.0.0.1:80"},
			Set{mem("b", "10.0.0.1:80"), mem("a", "[2001:db8::1]:80")}, nil},
		{"bad member left out and reported",
			map[string]string{"sub0000000001": "10.0.0.1:80", "sub0000000002": "garbage"},
			Set{mem("sub0000000001", "10.0.0.1:80")}, []string{"member sub0000000002"}},
		{"duplicate address keeps the smaller znode",
			map[string]string{"sub0000000002": "10.0.0.1:80", "sub0000000001": "10.0.0.1"},
			Set{mem("sub0000000001", "10.0.0.1:80")}, []string{"member sub0000000002: 10.0.0.1:80 is already member sub0000000001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := map[string][]byte{}
			for k, v := range tt.children {
				ch[k] = []byte(v)
			}
			got, errs := Build(FormatSeed, ch, d)
			if diff := cmp.Diff(tt.want, got, addrs); diff != "" {
				t.Errorf("set (-want +got):\n%s", diff)
			}
			if len(errs) != len(tt.errs) {
				t.Fatalf("errors %v, want %d", errs, len(tt.errs))
			}
			for i, e := range errs {
				if !strings.Contains(e.Error(), tt.errs[i]) {
					t.Errorf("error %d: %v, want %q", i, e, tt.errs[i])
				}
			}
		})
	}
}

// TestBuildStableOrder: however the registry lists the children, every
// director builds the same destination list.
func TestBuildStableOrder(t *testing.T) {
	ch := map[string][]byte{}
	for i := range 200 {
		ch["sub"+strings.Repeat("0", 3)+string(rune('a'+i%26))+string(rune('a'+i/26))] =
			[]byte(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i % 7), byte(i)}), uint16(80+i%3)).String())
	}
	first, errs := Build(FormatSeed, ch, Defaults{Weight: 1})
	if len(errs) != 0 || len(first) != 200 {
		t.Fatalf("%d members, errors %v", len(first), errs)
	}
	for i := 1; i < len(first); i++ {
		if compareAddr(first[i-1].Addr, first[i].Addr) >= 0 {
			t.Fatalf("not sorted at %d: %v then %v", i, first[i-1].Addr, first[i].Addr)
		}
	}
	for range 20 { // maps iterate in a random order: rebuild from copies
		cp := map[string][]byte{}
		keys := make([]string, 0, len(ch))
		for k := range ch {
			keys = append(keys, k)
		}
		rand.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		for _, k := range keys {
			cp[k] = ch[k]
		}
		again, _ := Build(FormatSeed, cp, Defaults{Weight: 1})
		if diff := cmp.Diff(first, again, addrs); diff != "" {
			t.Fatalf("order differs (-first +again):\n%s", diff)
		}
	}
}

func TestDiff(t *testing.T) {
	a, b, c := mem("s1", "10.0.0.1:80"), mem("s2", "10.0.0.2:80"), mem("s3", "10.0.0.3:80")
	b2 := b
	b2.Weight = 5
	bz := b
	bz.Znode = "s9" // re-registered under a new sequential name
	tests := []struct {
		name      string
		old, next Set
		want      Change
	}{
		{"both empty", nil, nil, Change{}},
		{"all added", nil, Set{a, b}, Change{Added: []Member{a, b}}},
		{"all removed", Set{a, b}, nil, Change{Removed: []Member{a, b}}},
		{"same", Set{a, b, c}, Set{a, b, c}, Change{}},
		{"middle removed", Set{a, b, c}, Set{a, c}, Change{Removed: []Member{b}}},
		{"middle added", Set{a, c}, Set{a, b, c}, Change{Added: []Member{b}}},
		{"weight changed", Set{a, b}, Set{a, b2}, Change{Changed: []Member{b2}}},
		{"znode changed", Set{a, b}, Set{a, bz}, Change{Changed: []Member{bz}}},
		{"swap one for another", Set{a, b}, Set{a, c}, Change{Added: []Member{c}, Removed: []Member{b}}},
		{"disjoint", Set{a}, Set{c}, Change{Added: []Member{c}, Removed: []Member{a}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.old, tt.next)
			if diff := cmp.Diff(tt.want, got, addrs); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.Empty() != (len(tt.want.Added)+len(tt.want.Removed)+len(tt.want.Changed) == 0) {
				t.Error("Empty disagrees")
			}
		})
	}
}

// addrs lets cmp compare netip values (their fields are unexported).
var addrs = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })
