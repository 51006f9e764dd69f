package main

import (
	"net/netip"
	"testing"
	"time"
)

// TestLastAdvert: the reference of "from d1's last advert" is the last
// advert with a priority the client saw from d1, even one that crossed
// after the fault was started (a cut whose netlink call was slow): taking
// the last one before the fault's start added a whole advert interval to
// the backup's takeover.
func TestLastAdvert(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	d1, d2 := netip.MustParseAddr(d1Addr), netip.MustParseAddr(d2Addr)
	adv := func(at int, src netip.Addr, prio int) event {
		return event{at: ms(at), kind: "advert", src: src, prio: prio}
	}
	tests := []struct {
		name   string
		evs    []event
		want   int
		wantOK bool
	}{
		{"before the fault", []event{adv(0, d1, 200), adv(1000, d1, 200), adv(4600, d2, 100)}, 1000, true},
		{"one crossed after the fault's start", []event{adv(0, d1, 200), adv(1000, d1, 200), adv(2000, d1, 200), adv(5610, d2, 100)}, 2000, true},
		{"priority 0 of a stop is not it", []event{adv(1000, d1, 200), adv(1300, d1, 0)}, 1000, true},
		{"arp and syn ignored", []event{adv(1000, d1, 200), {at: ms(1500), kind: "arp", src: d1}}, 1000, true},
		{"none", []event{adv(1000, d2, 100)}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := lastAdvert(tt.evs, d1)
			if ok != tt.wantOK || ok && !got.Equal(ms(tt.want)) {
				t.Fatalf("lastAdvert = %v, %v; want %v, %v", got.Sub(t0), ok, time.Duration(tt.want)*time.Millisecond, tt.wantOK)
			}
		})
	}
}

// TestFromAdvertNegativePhase: a fault whose start came before d1's last
// advert counts the outage from that advert.
func TestFromAdvertNegativePhase(t *testing.T) {
	r := trialResult{outcome: outcome{outage: 3650 * time.Millisecond}, phase: -40 * time.Millisecond}
	if got, want := r.fromAdvert(), 3610*time.Millisecond; got != want {
		t.Fatalf("fromAdvert = %v, want %v", got, want)
	}
}

func TestBeyondBound(t *testing.T) {
	tr := func(ms int) trialResult { return trialResult{takeover: time.Duration(ms) * time.Millisecond} }
	tests := []struct {
		name string
		ts   []trialResult
		want string
	}{
		{"all on time", []trialResult{tr(3610), tr(3611), tr(3626)}, "0 of 3 beyond Master_Down_Interval 3.609s + 20ms (latest 3.626s)"},
		{"one late, one unmeasured", []trialResult{tr(3610), tr(3677), tr(0)}, "1 of 2 beyond Master_Down_Interval 3.609s + 20ms (latest 3.677s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := beyondBound(tt.ts); got != tt.want {
				t.Fatalf("beyondBound = %q, want %q", got, tt.want)
			}
		})
	}
}
