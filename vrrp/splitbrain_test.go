package vrrp

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestSplitBrainEpisodes drives a master with adverts from other routers
// and checks when the machine reports a split brain: once per episode,
// only when a losing master keeps claiming mastership for half an advert
// interval, never for one stray advert, a winner or our own address.
func TestSplitBrainEpisodes(t *testing.T) {
	type step struct {
		at   time.Duration // from the first step
		ev   Event
		want int // OtherMaster actions with SplitBrain set by this step
	}
	peer := func(p uint8, src string) step { return step{ev: adv(p, src)} }
	at := func(d time.Duration, s step, want int) step { s.at, s.want = d, want; return s }
	ms := time.Millisecond
	tests := []struct {
		name  string
		steps []step
		state State // at the end
	}{
		{"one stray advert (an old master's last one)", []step{at(0, peer(50, "10.0.0.3"), 0)}, StateMaster},
		{"two adverts crossing ours within a few ms", []step{
			at(0, peer(50, "10.0.0.3"), 0), at(3*ms, peer(50, "10.0.0.3"), 0)}, StateMaster},
		{"a lower master that does not hear us: reported once", []step{
			at(0, peer(50, "10.0.0.3"), 0), at(time.Second, peer(50, "10.0.0.3"), 1),
			at(2*time.Second, peer(50, "10.0.0.3"), 0), at(3*time.Second, peer(50, "10.0.0.3"), 0)}, StateMaster},
		{"same priority, lower address: we win, reported", []step{
			at(0, peer(100, "10.0.0.1"), 0), at(time.Second, peer(100, "10.0.0.1"), 1)}, StateMaster},
		{"a quiet Master_Down_Interval ends the episode: a new one is reported", []step{
			at(0, peer(50, "10.0.0.3"), 0), at(time.Second, peer(50, "10.0.0.3"), 1),
			at(time.Second+mdi100+ms, peer(50, "10.0.0.3"), 0), at(2*time.Second+mdi100+ms, peer(50, "10.0.0.3"), 1)}, StateMaster},
		{"a second peer starts its own episode", []step{
			at(0, peer(50, "10.0.0.3"), 0), at(time.Second, peer(60, "10.0.0.4"), 0),
			at(2*time.Second, peer(60, "10.0.0.4"), 1)}, StateMaster},
		{"a winner makes us step down: no alarm", []step{
			at(0, peer(50, "10.0.0.3"), 0), at(time.Second, peer(200, "10.0.0.1"), 0)}, StateBackup},
		{"same priority, higher address wins: no alarm", []step{
			at(0, peer(100, "10.0.0.3"), 0)}, StateBackup},
		{"our own address (a loop) is no other master", []step{
			at(0, peer(100, "10.0.0.2"), 0), at(time.Second, peer(100, "10.0.0.2"), 0)}, StateMaster},
		{"priority 0 is a master leaving, not a claim", []step{
			at(0, peer(0, "10.0.0.3"), 0), at(time.Second, peer(0, "10.0.0.3"), 0)}, StateMaster},
		{"leaving MASTER ends the episode", []step{
			at(0, peer(50, "10.0.0.3"), 0), at(100*ms, step{ev: FaultChanged{true}}, 0),
			at(200*ms, step{ev: FaultChanged{false}}, 0), at(5*time.Second, step{ev: TimerExpired{TimerMasterDown}}, 0),
			at(5*time.Second+ms, peer(50, "10.0.0.3"), 0), at(5*time.Second+2*ms, peer(50, "10.0.0.3"), 0)}, StateMaster},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := machineIn(t, baseParams(), StateMaster)
			for i, s := range tc.steps {
				var acts []Action
				m, acts = m.Step(s.ev, t0.Add(s.at))
				got := 0
				for _, a := range acts {
					if o, ok := a.(OtherMaster); ok && o.SplitBrain {
						got++
						if o.Priority != 100 || !o.Peer.IsValid() {
							t.Errorf("step %d: %+v", i, o)
						}
					}
				}
				if got != s.want {
					t.Errorf("step %d (%T at %v): %d split-brain reports, want %d", i, s.ev, s.at, got, s.want)
				}
			}
			if m.State() != tc.state {
				t.Errorf("state %v, want %v", m.State(), tc.state)
			}
		})
	}
}

// TestOtherMasterPeer checks the action names the peer and both priorities.
func TestOtherMasterPeer(t *testing.T) {
	m := machineIn(t, baseParams(), StateMaster)
	_, acts := m.Step(adv(42, "10.0.0.9"), t0)
	want := OtherMaster{Peer: netip.MustParseAddr("10.0.0.9"), PeerPriority: 42, Priority: 100}
	if acts[len(acts)-1] != want {
		t.Fatalf("last action %+v, want %+v", acts[len(acts)-1], want)
	}
}

// TestRouterSplitBrainCountedOnce: a master hears a lower priority master
// that keeps advertising (it does not hear us). The router stays MASTER,
// counts one split-brain episode however many adverts follow, names the
// peer, and writes a MASTER_RX_LOWER_PRI notice per advert.
func TestRouterSplitBrainCountedOnce(t *testing.T) {
	lan := newFakeLAN()
	var mu sync.Mutex
	var notices []Notice
	// Slower adverts than fastConfig's: an episode ends after a silence of
	// Master_Down_Interval, and on a loaded host this loop's sleeps can
	// stall past 3 x 40 ms; 3 x 200 ms they do not.
	const interval = 200 * time.Millisecond
	c := fastConfig("VI_1", 200)
	c.AdvertInterval = interval
	a := start(t, lan, newFakeHost(lan, "10.0.0.1"), Options{Instances: []Config{c},
		OnNotice: func(n Notice) { mu.Lock(); notices = append(notices, n); mu.Unlock() }})
	waitState(t, a, "VI_1", StateMaster)
	src := netip.MustParseAddr("10.0.0.9")
	p := Packet{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: interval, Addresses: []netip.Addr{netip.MustParseAddr("192.168.56.90")}}
	b, err := p.Marshal(src, groupV4)
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		lan.inject(Datagram{Payload: b, Src: src, Dst: groupV4, TTL: 255})
		time.Sleep(interval)
	}
	eventually(t, "six adverts", func() bool { return a.r.Stats().Instances[0].AdvertsReceived >= 6 })
	s := a.r.Stats().Instances[0]
	if s.SplitBrainPeerPriority != 100 || s.SplitBrainWinner != "this router: priority 200 > 100" {
		t.Errorf("peer priority %d, winner %q", s.SplitBrainPeerPriority, s.SplitBrainWinner)
	}
	if s.State != StateMaster || s.SplitBrains != 1 || s.SplitBrainPeer != src || s.SplitBrainAt.IsZero() {
		t.Fatalf("state %v, split brains %d, peer %v at %v; want MASTER, 1, %v", s.State, s.SplitBrains, s.SplitBrainPeer, s.SplitBrainAt, src)
	}
	mu.Lock()
	defer mu.Unlock()
	lower := 0
	for _, n := range notices {
		if n.Event == NoticeMasterRxLowerPri && n.Name == "VI_1" && n.Priority == 200 {
			lower++
		}
	}
	if lower < 6 {
		t.Fatalf("%d MASTER_RX_LOWER_PRI notices, want 6: %+v", lower, notices)
	}
}

// TestRouterNoticesInOrder: the notices follow the transitions, the sync
// group's state and the priority changes, in order.
func TestRouterNoticesInOrder(t *testing.T) {
	lan := newFakeLAN()
	h := newFakeHost(lan, "10.0.0.1", "eth1")
	c := fastConfig("VI_1", 200)
	c.TrackInterfaces = []TrackInterface{{Name: "eth1", Weight: -10}}
	var mu sync.Mutex
	var got []string
	a := start(t, lan, h, Options{Instances: []Config{c},
		SyncGroups: []SyncGroupConfig{{Name: "G1", Instances: []string{"VI_1"}}},
		OnNotice: func(n Notice) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%v %s %s %d", n.Group, n.Name, n.Event, n.Priority))
			mu.Unlock()
		}})
	waitState(t, a, "VI_1", StateMaster)
	h.links.set("eth1", false)
	eventually(t, "priority 190", func() bool { return a.r.Stats().Instances[0].Priority == 190 })
	a.stop(t)
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"false VI_1 BACKUP 200", "true G1 BACKUP 0",
		"false VI_1 MASTER 200", "true G1 MASTER 0",
		"false VI_1 MASTER_PRIORITY 190",
		"false VI_1 STOP 190", "true G1 STOP 0",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("notices\n got %q\nwant %q", got, want)
	}
}
