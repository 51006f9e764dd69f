package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// State is the state of a VRRP instance.
type State uint8

// States of an instance. StateStopped is where Shutdown leaves it
// (keepalived's STOP, reported to notify scripts).
const (
	StateInit State = iota
	StateBackup
	StateMaster
	StateFault
	StateStopped
)

func (s State) String() string {
	switch s {
	case StateInit:
		return "INIT"
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	case StateStopped:
		return "STOP"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText makes states readable in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses MASTER, BACKUP, FAULT, STOP or INIT.
func (s *State) UnmarshalText(b []byte) error {
	for c := StateInit; c <= StateStopped; c++ {
		if c.String() == string(b) {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("vrrp: unknown state %q", b)
}

// Timer names the timers the machine sets.
type Timer uint8

// Timers of an instance.
const (
	TimerMasterDown  Timer = iota // backup: the master is presumed dead when it fires
	TimerAdvert                   // master: time to send the next advert
	TimerGARPDelay                // master: second GARP burst
	TimerGARPRefresh              // master: periodic GARP refresh
	numTimers
)

func (t Timer) String() string {
	switch t {
	case TimerMasterDown:
		return "master-down"
	case TimerAdvert:
		return "advert"
	case TimerGARPDelay:
		return "garp-delay"
	case TimerGARPRefresh:
		return "garp-refresh"
	}
	return fmt.Sprintf("Timer(%d)", uint8(t))
}

// Event is an input to Machine.Step.
type Event interface{ event() }

// Events.
type (
	// Startup starts the machine (from StateInit).
	Startup struct{}
	// Shutdown stops it: a master sends a priority 0 advert and releases.
	// Announced says the priority 0 advert has already gone out (the
	// router's handoff sends it and holds the addresses until the backup
	// takes over): the master then only releases.
	Shutdown struct{ Announced bool }
	// AdvertReceived is an advertisement that passed the receive checks.
	AdvertReceived struct {
		Priority uint8
		Src      netip.Addr    // sender's primary address
		Interval time.Duration // the advert's interval (VRRPv3 masters teach it)
	}
	// TimerExpired is a timer set by SetTimer firing.
	TimerExpired struct{ Timer Timer }
	// PriorityChanged is a new effective priority from tracking.
	PriorityChanged struct{ Priority uint8 }
	// FaultChanged says whether the instance's own tracking is in fault.
	FaultChanged struct{ Fault bool }
	// GroupFaultChanged says whether another member of its sync group is in
	// fault.
	GroupFaultChanged struct{ Fault bool }
	// GroupMaster tells a sync group member that the group goes MASTER.
	GroupMaster struct{}
	// GroupBackup tells a sync group member that the group goes BACKUP.
	GroupBackup struct{}
	// AddressRemoved says a VIP was removed behind our back.
	AddressRemoved struct{}
	// PeerDown says a fast failure detector (BFD) saw Peer die: its
	// session was Up and the peer went silent. A BACKUP whose master is
	// Peer takes it as the Master_Down_Timer's expiry; every other state
	// ignores it (a MASTER only answers BFD). A master that was alive after
	// all still wins back with its next advert of higher priority.
	PeerDown struct{ Peer netip.Addr }
)

func (Startup) event()           {}
func (Shutdown) event()          {}
func (AdvertReceived) event()    {}
func (TimerExpired) event()      {}
func (PriorityChanged) event()   {}
func (FaultChanged) event()      {}
func (GroupFaultChanged) event() {}
func (GroupMaster) event()       {}
func (GroupBackup) event()       {}
func (AddressRemoved) event()    {}
func (PeerDown) event()          {}

// Action is an output of Machine.Step, to be carried out in order.
type Action interface{ action() }

// Actions.
type (
	// SendAdvert sends an advertisement with that priority.
	SendAdvert struct{ Priority uint8 }
	// SetTimer (re)arms a timer to fire After from the event's time.
	SetTimer struct {
		Timer Timer
		After time.Duration
	}
	// StopTimer disarms a timer.
	StopTimer struct{ Timer Timer }
	// AddVIPs adds the virtual addresses (idempotent).
	AddVIPs struct{}
	// RemoveVIPs removes them.
	RemoveVIPs struct{}
	// SendGARP sends Repeat gratuitous ARPs (or unsolicited NAs) per VIP.
	SendGARP struct{ Repeat int }
	// RefreshGARP is a master's later burst (garp_master_delay after
	// taking over, and every garp_master_refresh): SendGARP, unless the
	// host says it cannot serve the addresses (Options.Serves).
	RefreshGARP struct{ Repeat int }
	// Transition reports a state change (notify scripts, subscribers).
	Transition struct{ From, To State }
	// RequestMaster says a sync group member wants MASTER; the group
	// answers with GroupMaster when every member does.
	RequestMaster struct{}
	// OtherMaster reports an advert heard while MASTER from another master
	// that loses the election to us (RFC 3768 6.4.3: a lower priority, or
	// the same priority and a lower primary address); we assert ourselves.
	// SplitBrain is set once per episode: the same peer kept claiming
	// mastership for at least half an advert interval after we first
	// asserted ourselves, so it does not hear us (a one-way link, a
	// firewall). One stray advert (the old master's last one at a
	// preemption, an advert crossing ours) never sets it.
	OtherMaster struct {
		Peer         netip.Addr
		PeerPriority uint8
		Priority     uint8 // ours
		SplitBrain   bool
	}
)

func (SendAdvert) action()    {}
func (SetTimer) action()      {}
func (StopTimer) action()     {}
func (AddVIPs) action()       {}
func (RemoveVIPs) action()    {}
func (SendGARP) action()      {}
func (RefreshGARP) action()   {}
func (Transition) action()    {}
func (RequestMaster) action() {}
func (OtherMaster) action()   {}

// Params are the fixed inputs of a machine.
type Params struct {
	Version        uint8
	Priority       uint8 // base priority
	AdvertInterval time.Duration
	Preempt        bool
	PreemptDelay   time.Duration
	InitialMaster  bool       // keepalived "state MASTER"
	Local          netip.Addr // our primary address, for the tie-break
	InGroup        bool       // member of a sync group
	GARP           GARPConfig
}

// Machine is the VRRP state machine of one instance. It is a value: Step
// returns the next machine and the actions to carry out, and does nothing
// else.
type Machine struct {
	p          Params
	state      State
	prio       uint8         // effective priority
	masterInt  time.Duration // Master_Adver_Interval
	preemptAt  time.Time     // end of preempt_delay; zero = not started
	ownFault   bool
	groupFault bool
	wantMaster bool // sync group: the master-down timer fired, waiting for the group
	master     netip.Addr
	conflict   conflict // MASTER: another master heard (split-brain episode)
}

// conflict is a split-brain episode: adverts from another master that
// loses to us, heard while we are MASTER. It ends when we leave MASTER or
// when the peer is quiet for a Master_Down_Interval.
type conflict struct {
	peer        netip.Addr
	first, last time.Time
	reported    bool
}

// NewMachine returns a machine in StateInit.
func NewMachine(p Params) Machine {
	return Machine{p: p, state: StateInit, prio: p.Priority, masterInt: p.AdvertInterval}
}

// State returns the current state.
func (m Machine) State() State { return m.state }

// Priority returns the effective priority.
func (m Machine) Priority() uint8 { return m.prio }

// WantMaster reports whether a sync group member is waiting to go MASTER.
func (m Machine) WantMaster() bool { return m.wantMaster }

// Fault reports whether the machine has a fault of its own.
func (m Machine) Fault() bool { return m.ownFault }

// GroupFault reports whether the machine is held in FAULT by its sync group.
func (m Machine) GroupFault() bool { return m.groupFault }

// MasterAddr returns the address of the last master heard.
func (m Machine) MasterAddr() netip.Addr { return m.master }

// MasterAdverInterval returns Master_Adver_Interval.
func (m Machine) MasterAdverInterval() time.Duration { return m.masterInt }

// Skew returns Skew_Time: (256-Priority)/256 s for VRRPv2,
// (256-Priority) x Master_Adver_Interval / 256 for VRRPv3.
func (m Machine) Skew() time.Duration { return m.skewFor(256 - int(m.prio)) }

func (m Machine) skewFor(n int) time.Duration {
	if m.p.Version == 3 {
		return time.Duration(n) * m.masterInt / 256
	}
	return time.Duration(n) * time.Second / 256
}

// MasterDownInterval returns 3 x Master_Adver_Interval + Skew_Time.
func (m Machine) MasterDownInterval() time.Duration { return 3*m.masterInt + m.Skew() }

// Step feeds one event to the machine at time now.
func (m Machine) Step(ev Event, now time.Time) (Machine, []Action) {
	// Bookkeeping valid in every state.
	switch e := ev.(type) {
	case PriorityChanged:
		m.prio = e.Priority
		return m, nil
	case FaultChanged:
		return m.setFault(e.Fault, m.groupFault)
	case GroupFaultChanged:
		return m.setFault(m.ownFault, e.Fault)
	}
	switch m.state {
	case StateInit:
		return m.stepInit(ev)
	case StateBackup:
		return m.stepBackup(ev, now)
	case StateMaster:
		return m.stepMaster(ev, now)
	case StateFault:
		if _, ok := ev.(Shutdown); ok {
			return m.to(StateStopped, nil)
		}
	}
	return m, nil
}

func (m Machine) faulted() bool { return m.ownFault || m.groupFault }

func (m Machine) to(s State, acts []Action) (Machine, []Action) {
	from := m.state
	m.state = s
	if s != StateBackup {
		m.wantMaster = false
	}
	m.conflict = conflict{}
	return m, append(acts, Transition{From: from, To: s})
}

func (m Machine) setFault(own, group bool) (Machine, []Action) {
	was := m.faulted()
	m.ownFault, m.groupFault = own, group
	now := m.faulted()
	if was == now {
		return m, nil
	}
	switch {
	case now && m.state == StateMaster:
		return m.leaveMaster(StateFault, true)
	case now && m.state == StateBackup:
		return m.to(StateFault, []Action{StopTimer{TimerMasterDown}})
	case !now && m.state == StateFault:
		m.masterInt = m.p.AdvertInterval
		m.preemptAt = time.Time{}
		if m.p.Priority == 255 {
			return m.becomeMaster()
		}
		return m.to(StateBackup, []Action{SetTimer{TimerMasterDown, m.MasterDownInterval()}})
	}
	// StateInit remembers the fault for Startup; StateStopped ignores it.
	return m, nil
}

func (m Machine) stepInit(ev Event) (Machine, []Action) {
	switch ev.(type) {
	case Startup:
		switch {
		case m.faulted():
			return m.to(StateFault, nil)
		case m.p.Priority == 255:
			return m.becomeMaster()
		case m.p.InitialMaster:
			// keepalived: wait one advert interval (plus the smallest skew)
			// for another master before taking over.
			return m.to(StateBackup, []Action{SetTimer{TimerMasterDown, m.masterInt + m.skewFor(1)}})
		default:
			return m.to(StateBackup, []Action{SetTimer{TimerMasterDown, m.MasterDownInterval()}})
		}
	case Shutdown:
		m.state = StateStopped
		return m, nil
	}
	return m, nil
}

func (m Machine) becomeMaster() (Machine, []Action) {
	m.masterInt = m.p.AdvertInterval
	m.preemptAt = time.Time{}
	// As keepalived: the advert first (the old master releases the VIPs
	// before our gratuitous ARPs), then the addresses and the ARPs.
	acts := []Action{
		StopTimer{TimerMasterDown},
		SendAdvert{m.prio},
		AddVIPs{},
		SendGARP{m.p.GARP.MasterRepeat},
		SetTimer{TimerAdvert, m.p.AdvertInterval},
	}
	if m.p.GARP.MasterDelay > 0 {
		acts = append(acts, SetTimer{TimerGARPDelay, m.p.GARP.MasterDelay})
	}
	if m.p.GARP.MasterRefresh > 0 {
		acts = append(acts, SetTimer{TimerGARPRefresh, m.p.GARP.MasterRefresh})
	}
	m.master = m.p.Local
	return m.to(StateMaster, acts)
}

// leaveMaster goes to BACKUP, FAULT or STOP, with a priority 0 advert when
// zero is set (FAULT and STOP: the backup then waits Skew_Time only).
func (m Machine) leaveMaster(s State, zero bool) (Machine, []Action) {
	var acts []Action
	if zero {
		acts = append(acts, SendAdvert{0})
	}
	acts = append(acts,
		StopTimer{TimerAdvert}, StopTimer{TimerGARPDelay}, StopTimer{TimerGARPRefresh},
		RemoveVIPs{})
	m.preemptAt = time.Time{}
	if s == StateBackup {
		acts = append(acts, SetTimer{TimerMasterDown, m.MasterDownInterval()})
	}
	return m.to(s, acts)
}

func (m Machine) stepBackup(ev Event, now time.Time) (Machine, []Action) {
	switch e := ev.(type) {
	case AdvertReceived:
		if e.Priority == 0 {
			// The master is leaving: take over after Skew_Time alone.
			return m, []Action{SetTimer{TimerMasterDown, m.Skew()}}
		}
		delaying := m.p.PreemptDelay > 0 && (m.preemptAt.IsZero() || m.preemptAt.After(now))
		if !m.p.Preempt || e.Priority >= m.prio || delaying {
			if m.p.Version == 3 && e.Interval > 0 {
				m.masterInt = e.Interval
			}
			if m.p.PreemptDelay > 0 {
				if e.Priority >= m.prio {
					m.preemptAt = time.Time{}
				} else if m.preemptAt.IsZero() {
					m.preemptAt = now.Add(m.p.PreemptDelay)
				}
			}
			m.wantMaster = false
			m.master = e.Src
			return m, []Action{SetTimer{TimerMasterDown, m.MasterDownInterval()}}
		}
		// A lower priority master and we preempt: let the timer run out.
		m.master = e.Src
		return m, nil
	case TimerExpired:
		if e.Timer != TimerMasterDown {
			return m, nil
		}
		return m.masterDown()
	case PeerDown:
		if !e.Peer.IsValid() || e.Peer != m.master || m.wantMaster {
			return m, nil
		}
		return m.masterDown()
	case GroupMaster:
		return m.becomeMaster()
	case Shutdown:
		return m.to(StateStopped, []Action{StopTimer{TimerMasterDown}})
	}
	return m, nil
}

// masterDown is a BACKUP's reaction to its master's death (RFC 5798
// 6.4.2, Master_Down_Timer fires): MASTER, or for a sync group member, a
// request to the group.
func (m Machine) masterDown() (Machine, []Action) {
	if m.p.InGroup {
		m.wantMaster = true
		return m, []Action{RequestMaster{}, SetTimer{TimerMasterDown, m.MasterDownInterval()}}
	}
	return m.becomeMaster()
}

func (m Machine) stepMaster(ev Event, now time.Time) (Machine, []Action) {
	switch e := ev.(type) {
	case TimerExpired:
		switch e.Timer {
		case TimerAdvert:
			return m, []Action{SendAdvert{m.prio}, SetTimer{TimerAdvert, m.p.AdvertInterval}}
		case TimerGARPDelay:
			return m, []Action{RefreshGARP{m.p.GARP.MasterRepeat}}
		case TimerGARPRefresh:
			return m, []Action{RefreshGARP{m.p.GARP.MasterRefreshRepeat}, SetTimer{TimerGARPRefresh, m.p.GARP.MasterRefresh}}
		}
		return m, nil
	case AdvertReceived:
		cmp := e.Src.Compare(m.p.Local)
		switch {
		case e.Priority == 0:
			return m, []Action{SendAdvert{m.prio}, SetTimer{TimerAdvert, m.p.AdvertInterval}}
		case e.Priority > m.prio || (e.Priority == m.prio && cmp > 0):
			if m.p.Version == 3 && e.Interval > 0 {
				m.masterInt = e.Interval
			}
			m.master = e.Src
			// One last advert at our priority before stepping down. The new
			// master may never have heard us (we took over while cut off
			// from it, and its advert after the heal reached us before our
			// next one reached it): this advert is then, to it, a lower
			// priority router claiming mastership, so it asserts itself with
			// a gratuitous ARP burst and moves back the neighbours' caches
			// that our own burst pointed at us. Without it a client could
			// keep sending to us, through us, until we fail.
			next, acts := m.leaveMaster(StateBackup, false)
			return next, append([]Action{SendAdvert{m.prio}}, acts...)
		case e.Priority == m.prio && cmp == 0:
			return m, nil // our own address: a loop or a misconfiguration
		default:
			// A lower priority router thinks it is master: assert ourselves
			// at once and refresh the neighbours' caches.
			acts := []Action{SendAdvert{m.prio}, SendGARP{m.p.GARP.MasterRepeat}}
			if m.p.GARP.MasterDelay > 0 {
				acts = append(acts, SetTimer{TimerGARPDelay, m.p.GARP.MasterDelay})
			}
			var split bool
			m, split = m.noteConflict(e.Src, now)
			return m, append(acts, OtherMaster{Peer: e.Src, PeerPriority: e.Priority, Priority: m.prio, SplitBrain: split})
		}
	case GroupBackup:
		return m.leaveMaster(StateBackup, false)
	case AddressRemoved:
		return m, []Action{AddVIPs{}, SendGARP{m.p.GARP.MasterRepeat}}
	case Shutdown:
		return m.leaveMaster(StateStopped, !e.Announced)
	}
	return m, nil
}

// noteConflict records an advert from a losing master heard at now and
// reports whether it makes the episode a split brain for the first time.
func (m Machine) noteConflict(peer netip.Addr, now time.Time) (Machine, bool) {
	c := m.conflict
	if c.peer != peer || c.first.IsZero() || now.Sub(c.last) > m.MasterDownInterval() {
		m.conflict = conflict{peer: peer, first: now, last: now}
		return m, false
	}
	c.last = now
	split := !c.reported && now.Sub(c.first) >= m.p.AdvertInterval/2
	c.reported = c.reported || split
	m.conflict = c
	return m, split
}
