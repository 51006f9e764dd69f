package vrrp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	t0    = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	local = netip.MustParseAddr("10.0.0.2")
)

func baseParams() Params {
	return Params{
		Version:        2,
		Priority:       100,
		AdvertInterval: time.Second,
		Preempt:        true,
		Local:          local,
		GARP:           GARPConfig{MasterDelay: 5 * time.Second, MasterRepeat: 5, MasterRefresh: time.Minute, MasterRefreshRepeat: 2},
	}
}

// The protocol's figures at priority 100 with a 1 s advert interval.
const (
	mdi100  = 3*time.Second + 156*time.Second/256 // 3.609375 s
	skew100 = 156 * time.Second / 256             // 0.609375 s
)

func adv(prio uint8, src string) AdvertReceived {
	return AdvertReceived{Priority: prio, Src: netip.MustParseAddr(src), Interval: time.Second}
}

// machineIn drives a machine with p into state s.
func machineIn(t *testing.T, p Params, s State) Machine {
	t.Helper()
	m := NewMachine(p)
	var evs []Event
	switch s {
	case StateBackup:
		evs = []Event{Startup{}}
	case StateMaster:
		evs = []Event{Startup{}, TimerExpired{TimerMasterDown}}
	case StateFault:
		evs = []Event{Startup{}, FaultChanged{true}}
	case StateStopped:
		evs = []Event{Startup{}, Shutdown{}}
	}
	for _, e := range evs {
		m, _ = m.Step(e, t0)
	}
	if m.State() != s {
		t.Fatalf("could not drive the machine to %v: got %v", s, m.State())
	}
	return m
}

func becomeMaster(from State) []Action {
	return []Action{
		StopTimer{TimerMasterDown}, SendAdvert{100}, AddVIPs{}, SendGARP{5},
		SetTimer{TimerAdvert, time.Second}, SetTimer{TimerGARPDelay, 5 * time.Second},
		SetTimer{TimerGARPRefresh, time.Minute}, Transition{from, StateMaster},
	}
}

func leaveMaster(to State) []Action {
	var a []Action
	if to != StateBackup {
		a = append(a, SendAdvert{0})
	}
	a = append(a, StopTimer{TimerAdvert}, StopTimer{TimerGARPDelay}, StopTimer{TimerGARPRefresh}, RemoveVIPs{})
	if to == StateBackup {
		a = append(a, SetTimer{TimerMasterDown, mdi100})
	}
	return append(a, Transition{StateMaster, to})
}

// TestStepEveryStateEvent feeds every event to every state and checks the
// next state and the actions, in order. The table must cover every pair.
func TestStepEveryStateEvent(t *testing.T) {
	events := map[string]Event{
		"startup":          Startup{},
		"shutdown":         Shutdown{},
		"shutdown-handoff": Shutdown{Announced: true},
		"advert-higher":    adv(200, "10.0.0.1"),
		"advert-eq-higher": adv(100, "10.0.0.3"),
		"advert-eq-lower":  adv(100, "10.0.0.1"),
		"advert-eq-self":   adv(100, "10.0.0.2"),
		"advert-lower":     adv(50, "10.0.0.3"),
		"advert-zero":      adv(0, "10.0.0.3"),
		"timer-down":       TimerExpired{TimerMasterDown},
		"timer-advert":     TimerExpired{TimerAdvert},
		"timer-garp-delay": TimerExpired{TimerGARPDelay},
		"timer-garp-fresh": TimerExpired{TimerGARPRefresh},
		"priority":         PriorityChanged{150},
		"fault-on":         FaultChanged{true},
		"fault-off":        FaultChanged{false},
		"group-fault-on":   GroupFaultChanged{true},
		"group-fault-off":  GroupFaultChanged{false},
		"group-master":     GroupMaster{},
		"group-backup":     GroupBackup{},
		"address-removed":  AddressRemoved{},
		// No master heard yet in any of these states: a BFD failure of a
		// peer changes nothing (TestStepPeerDown has the master's).
		"peer-down": PeerDown{netip.MustParseAddr("10.0.0.1")},
	}
	type want struct {
		state State
		acts  []Action
	}
	none := func(s State) want { return want{s, nil} }
	tab := map[State]map[string]want{
		StateInit: {
			"startup":          {StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}, Transition{StateInit, StateBackup}}},
			"shutdown":         none(StateStopped),
			"shutdown-handoff": none(StateStopped),
			"advert-higher":    none(StateInit),
			"advert-eq-higher": none(StateInit),
			"advert-eq-lower":  none(StateInit),
			"advert-eq-self":   none(StateInit),
			"advert-lower":     none(StateInit),
			"advert-zero":      none(StateInit),
			"timer-down":       none(StateInit),
			"timer-advert":     none(StateInit),
			"timer-garp-delay": none(StateInit),
			"timer-garp-fresh": none(StateInit),
			"priority":         none(StateInit),
			"fault-on":         none(StateInit),
			"fault-off":        none(StateInit),
			"group-fault-on":   none(StateInit),
			"group-fault-off":  none(StateInit),
			"group-master":     none(StateInit),
			"group-backup":     none(StateInit),
			"address-removed":  none(StateInit),
			"peer-down":        none(StateInit),
		},
		StateBackup: {
			"startup":          none(StateBackup),
			"shutdown":         {StateStopped, []Action{StopTimer{TimerMasterDown}, Transition{StateBackup, StateStopped}}},
			"shutdown-handoff": {StateStopped, []Action{StopTimer{TimerMasterDown}, Transition{StateBackup, StateStopped}}},
			"advert-higher":    {StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}}},
			"advert-eq-higher": {StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}}},
			"advert-eq-lower":  {StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}}},
			"advert-eq-self":   {StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}}},
			"advert-lower":     none(StateBackup), // preempt: let the timer run out
			"advert-zero":      {StateBackup, []Action{SetTimer{TimerMasterDown, skew100}}},
			"timer-down":       {StateMaster, becomeMaster(StateBackup)},
			"timer-advert":     none(StateBackup),
			"timer-garp-delay": none(StateBackup),
			"timer-garp-fresh": none(StateBackup),
			"priority":         none(StateBackup),
			"fault-on":         {StateFault, []Action{StopTimer{TimerMasterDown}, Transition{StateBackup, StateFault}}},
			"fault-off":        none(StateBackup),
			"group-fault-on":   {StateFault, []Action{StopTimer{TimerMasterDown}, Transition{StateBackup, StateFault}}},
			"group-fault-off":  none(StateBackup),
			"group-master":     {StateMaster, becomeMaster(StateBackup)},
			"group-backup":     none(StateBackup),
			"address-removed":  none(StateBackup),
			"peer-down":        none(StateBackup),
		},
		StateMaster: {
			"startup":  none(StateMaster),
			"shutdown": {StateStopped, leaveMaster(StateStopped)},
			// The router's handoff sent the priority 0 advert already.
			"shutdown-handoff": {StateStopped, leaveMaster(StateStopped)[1:]},
			"advert-higher":    {StateBackup, append([]Action{SendAdvert{100}}, leaveMaster(StateBackup)...)},
			"advert-eq-higher": {StateBackup, append([]Action{SendAdvert{100}}, leaveMaster(StateBackup)...)},
			"advert-eq-lower": {StateMaster, []Action{SendAdvert{100}, SendGARP{5}, SetTimer{TimerGARPDelay, 5 * time.Second},
				OtherMaster{Peer: netip.MustParseAddr("10.0.0.1"), PeerPriority: 100, Priority: 100}}},
			"advert-eq-self": none(StateMaster),
			"advert-lower": {StateMaster, []Action{SendAdvert{100}, SendGARP{5}, SetTimer{TimerGARPDelay, 5 * time.Second},
				OtherMaster{Peer: netip.MustParseAddr("10.0.0.3"), PeerPriority: 50, Priority: 100}}},
			"advert-zero":      {StateMaster, []Action{SendAdvert{100}, SetTimer{TimerAdvert, time.Second}}},
			"timer-down":       none(StateMaster),
			"timer-advert":     {StateMaster, []Action{SendAdvert{100}, SetTimer{TimerAdvert, time.Second}}},
			"timer-garp-delay": {StateMaster, []Action{RefreshGARP{5}}},
			"timer-garp-fresh": {StateMaster, []Action{RefreshGARP{2}, SetTimer{TimerGARPRefresh, time.Minute}}},
			"priority":         none(StateMaster),
			"fault-on":         {StateFault, leaveMaster(StateFault)},
			"fault-off":        none(StateMaster),
			"group-fault-on":   {StateFault, leaveMaster(StateFault)},
			"group-fault-off":  none(StateMaster),
			"group-master":     none(StateMaster),
			"group-backup":     {StateBackup, leaveMaster(StateBackup)},
			"address-removed":  {StateMaster, []Action{AddVIPs{}, SendGARP{5}}},
			"peer-down":        none(StateMaster),
		},
		StateFault: {
			"startup":          none(StateFault),
			"shutdown":         {StateStopped, []Action{Transition{StateFault, StateStopped}}},
			"shutdown-handoff": {StateStopped, []Action{Transition{StateFault, StateStopped}}},
			"advert-higher":    none(StateFault),
			"advert-eq-higher": none(StateFault),
			"advert-eq-lower":  none(StateFault),
			"advert-eq-self":   none(StateFault),
			"advert-lower":     none(StateFault),
			"advert-zero":      none(StateFault),
			"timer-down":       none(StateFault),
			"timer-advert":     none(StateFault),
			"timer-garp-delay": none(StateFault),
			"timer-garp-fresh": none(StateFault),
			"priority":         none(StateFault),
			"fault-on":         none(StateFault),
			"fault-off":        {StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}, Transition{StateFault, StateBackup}}},
			"group-fault-on":   none(StateFault),
			"group-fault-off":  none(StateFault), // its own fault holds it
			"group-master":     none(StateFault),
			"group-backup":     none(StateFault),
			"address-removed":  none(StateFault),
			"peer-down":        none(StateFault),
		},
		StateStopped: {},
	}
	for name := range events {
		tab[StateStopped][name] = none(StateStopped)
	}

	for s := StateInit; s <= StateStopped; s++ {
		for name, ev := range events {
			w, ok := tab[s][name]
			if !ok {
				t.Errorf("table misses (%v, %s)", s, name)
				continue
			}
			t.Run(fmt.Sprintf("%v/%s", s, name), func(t *testing.T) {
				m := machineIn(t, baseParams(), s)
				next, acts := m.Step(ev, t0)
				if next.State() != w.state {
					t.Errorf("state %v, want %v", next.State(), w.state)
				}
				if diff := cmp.Diff(w.acts, acts, cmpNetip); diff != "" {
					t.Errorf("actions (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestStepScenarios covers the parameters the table runs with defaults:
// owner, initial MASTER, nopreempt, preempt_delay, VRRPv3 intervals,
// priorities, faults at start, sync group requests.
func TestStepScenarios(t *testing.T) {
	type step struct {
		ev    Event
		at    time.Duration // after t0
		state State
		acts  []Action
	}
	v3 := func(p Params) Params {
		p.Version = 3
		p.AdvertInterval = 100 * time.Millisecond
		return p
	}
	tests := []struct {
		name   string
		params func(Params) Params
		steps  []step
	}{
		{
			name:   "address owner goes master at once",
			params: func(p Params) Params { p.Priority = 255; return p },
			steps: []step{{Startup{}, 0, StateMaster, []Action{
				StopTimer{TimerMasterDown}, SendAdvert{255}, AddVIPs{}, SendGARP{5},
				SetTimer{TimerAdvert, time.Second}, SetTimer{TimerGARPDelay, 5 * time.Second},
				SetTimer{TimerGARPRefresh, time.Minute}, Transition{StateInit, StateMaster}}}},
		},
		{
			name:   "initial state MASTER waits one interval and the smallest skew",
			params: func(p Params) Params { p.InitialMaster = true; return p },
			steps: []step{{Startup{}, 0, StateBackup, []Action{
				SetTimer{TimerMasterDown, time.Second + time.Second/256}, Transition{StateInit, StateBackup}}}},
		},
		{
			name:   "nopreempt accepts a lower priority master",
			params: func(p Params) Params { p.Preempt = false; return p },
			steps: []step{
				{Startup{}, 0, StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}, Transition{StateInit, StateBackup}}},
				{adv(50, "10.0.0.9"), time.Second, StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}}},
			},
		},
		{
			name:   "preempt_delay holds the backup, from the first lower advert",
			params: func(p Params) Params { p.PreemptDelay = 10 * time.Second; return p },
			steps: []step{
				{Startup{}, 0, StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}, Transition{StateInit, StateBackup}}},
				{adv(50, "10.0.0.9"), 1 * time.Second, StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}}},
				{adv(50, "10.0.0.9"), 10 * time.Second, StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}}},
				{adv(50, "10.0.0.9"), 11 * time.Second, StateBackup, nil}, // delay over: discard
				{adv(200, "10.0.0.8"), 12 * time.Second, StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}}},
				// A higher master stopped the delay: the next lower advert starts it again.
				{adv(50, "10.0.0.9"), 13 * time.Second, StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}}},
				{adv(50, "10.0.0.9"), 22 * time.Second, StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}}},
				{adv(50, "10.0.0.9"), 23*time.Second + time.Millisecond, StateBackup, nil},
				{TimerExpired{TimerMasterDown}, 26 * time.Second, StateMaster, becomeMaster(StateBackup)},
			},
		},
		{
			name:   "VRRPv3 skew scales with the interval and the master's interval is learnt",
			params: v3,
			steps: []step{
				{Startup{}, 0, StateBackup, []Action{
					SetTimer{TimerMasterDown, 300*time.Millisecond + 156*100*time.Millisecond/256}, Transition{StateInit, StateBackup}}},
				{AdvertReceived{200, netip.MustParseAddr("10.0.0.1"), 200 * time.Millisecond}, 0, StateBackup, []Action{
					SetTimer{TimerMasterDown, 600*time.Millisecond + 156*200*time.Millisecond/256}}},
				{AdvertReceived{0, netip.MustParseAddr("10.0.0.1"), 200 * time.Millisecond}, 0, StateBackup, []Action{
					SetTimer{TimerMasterDown, 156 * 200 * time.Millisecond / 256}}},
			},
		},
		{
			name:   "VRRPv3 master learns the new master's interval when it steps down",
			params: v3,
			steps: []step{
				{Startup{}, 0, StateBackup, nil},
				{TimerExpired{TimerMasterDown}, 0, StateMaster, nil},
				{AdvertReceived{200, netip.MustParseAddr("10.0.0.1"), time.Second}, 0, StateBackup, []Action{
					SendAdvert{100}, StopTimer{TimerAdvert}, StopTimer{TimerGARPDelay}, StopTimer{TimerGARPRefresh}, RemoveVIPs{},
					SetTimer{TimerMasterDown, mdi100}, Transition{StateMaster, StateBackup}}},
			},
		},
		{
			name:   "a higher priority changes the skew and the adverts",
			params: func(p Params) Params { return p },
			steps: []step{
				{Startup{}, 0, StateBackup, nil},
				{PriorityChanged{200}, 0, StateBackup, nil},
				{adv(0, "10.0.0.1"), 0, StateBackup, []Action{SetTimer{TimerMasterDown, 56 * time.Second / 256}}},
				{adv(150, "10.0.0.1"), 0, StateBackup, nil}, // now lower than us: preempt
				{TimerExpired{TimerMasterDown}, 0, StateMaster, nil},
				{TimerExpired{TimerAdvert}, 0, StateMaster, []Action{SendAdvert{200}, SetTimer{TimerAdvert, time.Second}}},
				{PriorityChanged{90}, 0, StateMaster, nil},
				{TimerExpired{TimerAdvert}, 0, StateMaster, []Action{SendAdvert{90}, SetTimer{TimerAdvert, time.Second}}},
				{adv(100, "10.0.0.1"), 0, StateBackup, nil},
			},
		},
		{
			name:   "a fault known before startup starts in FAULT",
			params: func(p Params) Params { return p },
			steps: []step{
				{FaultChanged{true}, 0, StateInit, nil},
				{Startup{}, 0, StateFault, []Action{Transition{StateInit, StateFault}}},
				{FaultChanged{false}, 0, StateBackup, []Action{SetTimer{TimerMasterDown, mdi100}, Transition{StateFault, StateBackup}}},
			},
		},
		{
			name:   "the owner leaves FAULT straight to MASTER",
			params: func(p Params) Params { p.Priority = 255; return p },
			steps: []step{
				{Startup{}, 0, StateMaster, nil},
				{FaultChanged{true}, 0, StateFault, nil},
				{FaultChanged{false}, 0, StateMaster, nil},
			},
		},
		{
			name:   "group fault and own fault both hold FAULT",
			params: func(p Params) Params { return p },
			steps: []step{
				{Startup{}, 0, StateBackup, nil},
				{GroupFaultChanged{true}, 0, StateFault, nil},
				{FaultChanged{true}, 0, StateFault, nil},
				{GroupFaultChanged{false}, 0, StateFault, nil},
				{FaultChanged{false}, 0, StateBackup, nil},
			},
		},
		{
			name:   "a sync group member asks before going master",
			params: func(p Params) Params { p.InGroup = true; return p },
			steps: []step{
				{Startup{}, 0, StateBackup, nil},
				{TimerExpired{TimerMasterDown}, 0, StateBackup, []Action{RequestMaster{}, SetTimer{TimerMasterDown, mdi100}}},
				{GroupMaster{}, 0, StateMaster, becomeMaster(StateBackup)},
			},
		},
		{
			name:   "no second GARP burst nor refresh when off",
			params: func(p Params) Params { p.GARP = GARPConfig{MasterRepeat: 3}; return p },
			steps: []step{
				{Startup{}, 0, StateBackup, nil},
				{TimerExpired{TimerMasterDown}, 0, StateMaster, []Action{
					StopTimer{TimerMasterDown}, SendAdvert{100}, AddVIPs{}, SendGARP{3},
					SetTimer{TimerAdvert, time.Second}, Transition{StateBackup, StateMaster}}},
				{adv(50, "10.0.0.9"), 0, StateMaster, []Action{SendAdvert{100}, SendGARP{3},
					OtherMaster{Peer: netip.MustParseAddr("10.0.0.9"), PeerPriority: 50, Priority: 100}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMachine(tt.params(baseParams()))
			for i, s := range tt.steps {
				var acts []Action
				m, acts = m.Step(s.ev, t0.Add(s.at))
				if m.State() != s.state {
					t.Fatalf("step %d (%T): state %v, want %v", i, s.ev, m.State(), s.state)
				}
				if s.acts != nil {
					if diff := cmp.Diff(s.acts, acts, cmpNetip); diff != "" {
						t.Fatalf("step %d (%T): actions (-want +got):\n%s", i, s.ev, diff)
					}
				}
			}
		})
	}
}

func TestWantMasterClearedByAdvert(t *testing.T) {
	p := baseParams()
	p.InGroup = true
	m := machineIn(t, p, StateBackup)
	m, _ = m.Step(TimerExpired{TimerMasterDown}, t0)
	if !m.WantMaster() {
		t.Fatal("want master not set after the timer")
	}
	m, _ = m.Step(adv(200, "10.0.0.1"), t0)
	if m.WantMaster() {
		t.Fatal("want master still set after a master's advert")
	}
}

// TestStepInvariants runs random event sequences and checks what must hold
// whatever the order: transitions start from the state the machine was in,
// VIPs are added only by a master and removed when leaving it, priority 0 is
// sent only when a master leaves, and a master always has an advert timer.
func TestStepInvariants(t *testing.T) {
	evs := []Event{
		Startup{}, adv(200, "10.0.0.1"), adv(100, "10.0.0.3"), adv(100, "10.0.0.1"), adv(50, "10.0.0.3"),
		adv(0, "10.0.0.3"), TimerExpired{TimerMasterDown}, TimerExpired{TimerAdvert}, TimerExpired{TimerGARPDelay},
		TimerExpired{TimerGARPRefresh}, PriorityChanged{150}, PriorityChanged{100}, PriorityChanged{40},
		FaultChanged{true}, FaultChanged{false}, GroupFaultChanged{true}, GroupFaultChanged{false},
		GroupMaster{}, GroupBackup{}, AddressRemoved{}, PeerDown{netip.MustParseAddr("10.0.0.1")},
		PeerDown{netip.MustParseAddr("10.0.0.3")},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 2000 {
		p := baseParams()
		p.Preempt = rng.IntN(2) == 0
		p.InGroup = rng.IntN(2) == 0
		if rng.IntN(4) == 0 {
			p.Priority = 255
		}
		if rng.IntN(3) == 0 {
			p.PreemptDelay = 2 * time.Second
		}
		if rng.IntN(2) == 0 {
			p.Version = 3
			p.AdvertInterval = 50 * time.Millisecond
		}
		m := NewMachine(p)
		vips := false
		armed := map[Timer]bool{}
		now := t0
		for i := range 60 {
			ev := evs[rng.IntN(len(evs))]
			if i == 59 {
				ev = Shutdown{}
			}
			now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
			before := m.State()
			var acts []Action
			m, acts = m.Step(ev, now)
			state := before
			for _, a := range acts {
				switch a := a.(type) {
				case Transition:
					if a.From != state {
						t.Fatalf("run %d: transition from %v while in %v", run, a.From, state)
					}
					state = a.To
				case AddVIPs:
					vips = true
				case RemoveVIPs:
					vips = false
				case SendAdvert:
					if a.Priority == 0 && before != StateMaster {
						t.Fatalf("run %d: priority 0 sent from %v", run, before)
					}
					if a.Priority != 0 && before != StateMaster && m.State() != StateMaster {
						t.Fatalf("run %d: advert sent by a %v", run, before)
					}
				case SetTimer:
					armed[a.Timer] = true
				case StopTimer:
					armed[a.Timer] = false
				}
			}
			silent := before == StateInit && m.State() == StateStopped // never started: nothing to report
			if state != m.State() && !silent {
				t.Fatalf("run %d: transitions end in %v, machine in %v", run, state, m.State())
			}
			if vips != (m.State() == StateMaster) {
				t.Fatalf("run %d: after %T in %v the VIPs are held=%v", run, ev, m.State(), vips)
			}
			if m.State() == StateMaster && !armed[TimerAdvert] {
				t.Fatalf("run %d: master without an advert timer", run)
			}
			if m.State() == StateBackup && !armed[TimerMasterDown] {
				t.Fatalf("run %d: backup without a master-down timer", run)
			}
		}
		if m.State() != StateStopped {
			t.Fatalf("run %d: %v after Shutdown", run, m.State())
		}
	}
}

func TestStateText(t *testing.T) {
	for s := StateInit; s <= StateStopped; s++ {
		b, _ := s.MarshalText()
		var got State
		if err := got.UnmarshalText(b); err != nil || got != s {
			t.Errorf("%v: round trip gave %v, %v", s, got, err)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("LEADER")); err == nil {
		t.Error("unknown state accepted")
	}
}

// TestStepPeerDown: a BFD failure of the master a BACKUP follows is
// Master_Down_Timer's expiry (MASTER at once, or the sync group's
// request); of anyone else, or in another state, it is nothing. A master
// that was alive after all wins back with its next advert.
func TestStepPeerDown(t *testing.T) {
	master := netip.MustParseAddr("10.0.0.1")
	for _, c := range []struct {
		name    string
		inGroup bool
		prep    []Event
		ev      PeerDown
		state   State
		acts    []Action
	}{
		{name: "the master", prep: []Event{adv(200, "10.0.0.1")}, ev: PeerDown{master},
			state: StateMaster, acts: becomeMaster(StateBackup)},
		{name: "the master, in a sync group", inGroup: true, prep: []Event{adv(200, "10.0.0.1")}, ev: PeerDown{master},
			state: StateBackup, acts: []Action{RequestMaster{}, SetTimer{TimerMasterDown, mdi100}}},
		{name: "another peer", prep: []Event{adv(200, "10.0.0.1")}, ev: PeerDown{netip.MustParseAddr("10.0.0.3")},
			state: StateBackup},
		{name: "no master heard", ev: PeerDown{master}, state: StateBackup},
		{name: "invalid address", ev: PeerDown{}, state: StateBackup},
		{name: "the master, once a newer one took over", prep: []Event{adv(200, "10.0.0.1"), adv(200, "10.0.0.4")},
			ev: PeerDown{master}, state: StateBackup},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := baseParams()
			p.InGroup = c.inGroup
			m := machineIn(t, p, StateBackup)
			for _, e := range c.prep {
				m, _ = m.Step(e, t0)
			}
			next, acts := m.Step(c.ev, t0)
			if next.State() != c.state {
				t.Errorf("state %v, want %v", next.State(), c.state)
			}
			if diff := cmp.Diff(c.acts, acts, cmpNetip); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if c.inGroup {
				if again, acts := next.Step(c.ev, t0); len(acts) != 0 || again.State() != StateBackup {
					t.Errorf("a second PeerDown while waiting for the group: %v", acts)
				}
			}
		})
	}
	// The master was alive (a lost BFD session, not a dead peer): its next
	// advert of higher priority makes the new master step back.
	m := machineIn(t, baseParams(), StateBackup)
	m, _ = m.Step(adv(200, "10.0.0.1"), t0)
	m, _ = m.Step(PeerDown{master}, t0)
	if m.State() != StateMaster {
		t.Fatalf("state %v after PeerDown", m.State())
	}
	if m, _ = m.Step(adv(200, "10.0.0.1"), t0.Add(time.Second)); m.State() != StateBackup || m.MasterAddr() != master {
		t.Errorf("after the live master's advert: %v, master %v; want BACKUP under %v", m.State(), m.MasterAddr(), master)
	}
}
