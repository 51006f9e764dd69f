package bgp

import (
	"net/netip"
	"reflect"
	"testing"
)

var (
	vip4 = netip.MustParseAddr("192.0.2.10")
	vip6 = netip.MustParseAddr("2001:db8::10")
)

// TestDecideExhaustive walks every combination of the inputs for one VIP
// and checks the rule: announced iff running, not drained, programmed,
// quorum up and not settling; otherwise the first reason in order.
func TestDecideExhaustive(t *testing.T) {
	for mask := 0; mask < 32; mask++ {
		stopping, draining, programmed, quorum, settling := mask&1 != 0, mask&2 != 0, mask&4 != 0, mask&8 != 0, mask&16 != 0
		in := Input{Stopping: stopping, Draining: draining, VIPs: []VIP{{Addr: vip4, Programmed: programmed, QuorumUp: quorum, Settling: settling}}}
		var want Decision
		switch {
		case stopping:
			want.Withdrawn = map[netip.Prefix]Reason{Prefix(vip4): Stopping}
		case draining:
			want.Withdrawn = map[netip.Prefix]Reason{Prefix(vip4): Draining}
		case !programmed:
			want.Withdrawn = map[netip.Prefix]Reason{Prefix(vip4): NotProgrammed}
		case !quorum:
			want.Withdrawn = map[netip.Prefix]Reason{Prefix(vip4): QuorumLost}
		case settling:
			want.Withdrawn = map[netip.Prefix]Reason{Prefix(vip4): Settling}
		default:
			want.Announce = []netip.Prefix{Prefix(vip4)}
		}
		if got := Decide(in); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: got %+v, want %+v", in, got, want)
		}
	}
}

func TestDecide(t *testing.T) {
	up := func(a netip.Addr) VIP { return VIP{Addr: a, Programmed: true, QuorumUp: true} }
	tests := []struct {
		name string
		in   Input
		want Decision
	}{
		{name: "nothing", want: Decision{}},
		{name: "both families, sorted, host routes", in: Input{VIPs: []VIP{up(vip6), up(vip4)}},
			want: Decision{Announce: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("2001:db8::10/128")}}},
		{name: "one loses quorum, the other stays", in: Input{VIPs: []VIP{up(vip4), {Addr: vip6, Programmed: true}}},
			want: Decision{Announce: []netip.Prefix{Prefix(vip4)}, Withdrawn: map[netip.Prefix]Reason{Prefix(vip6): QuorumLost}}},
		{name: "a VIP twice: withdrawn if any entry is not ready", in: Input{VIPs: []VIP{up(vip4), {Addr: vip4, Programmed: false}}},
			want: Decision{Withdrawn: map[netip.Prefix]Reason{Prefix(vip4): NotProgrammed}}},
		{name: "the zero address is ignored", in: Input{VIPs: []VIP{{}}}, want: Decision{}},
		{name: "draining withdraws all", in: Input{Draining: true, VIPs: []VIP{up(vip4), up(vip6)}},
			want: Decision{Withdrawn: map[netip.Prefix]Reason{Prefix(vip4): Draining, Prefix(vip6): Draining}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
