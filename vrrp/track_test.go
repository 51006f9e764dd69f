package vrrp

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTrackResult(t *testing.T) {
	tests := []struct {
		name        string
		base        uint8
		items       []trackItem
		prio        uint8
		fault, wait bool
	}{
		{"nothing tracked", 100, nil, 100, false, false},
		{"weight 0 down is a fault", 100, []trackItem{{weight: 0, status: trackDown}}, 100, true, false},
		{"weight 0 up", 100, []trackItem{{weight: 0, status: trackUp}}, 100, false, false},
		{"weight 0 not reported yet holds the start", 100, []trackItem{{weight: 0, status: trackUnknown}}, 100, false, true},
		{"positive weight added while up", 100, []trackItem{{weight: 20, status: trackUp}}, 120, false, false},
		{"positive weight not added while down", 100, []trackItem{{weight: 20, status: trackDown}}, 100, false, false},
		{"negative weight added while down", 100, []trackItem{{weight: -30, status: trackDown}}, 70, false, false},
		{"negative weight not added while up", 100, []trackItem{{weight: -30, status: trackUp}}, 100, false, false},
		{"unknown non-zero weights count for nothing", 100, []trackItem{{weight: 20, status: trackUnknown}, {weight: -20, status: trackUnknown}}, 100, false, false},
		{"sum", 100, []trackItem{{weight: 20, status: trackUp}, {weight: -50, status: trackDown}, {weight: 10, status: trackUp}}, 80, false, false},
		{"floor at 1", 10, []trackItem{{weight: -200, status: trackDown}}, 1, false, false},
		{"ceiling at 254", 200, []trackItem{{weight: 100, status: trackUp}}, 254, false, false},
		{"owner is never adjusted", 255, []trackItem{{weight: -100, status: trackDown}}, 255, false, false},
		{"owner still faults", 255, []trackItem{{weight: 0, status: trackDown}}, 255, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prio, fault, wait := trackResult(tt.base, tt.items)
			if prio != tt.prio || fault != tt.fault || wait != tt.wait {
				t.Fatalf("got (%d, %v, %v), want (%d, %v, %v)", prio, fault, wait, tt.prio, tt.fault, tt.wait)
			}
		})
	}
}

func TestRiseFall(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		results    string // s = success, f = failure
		want       string // status after each: u up, d down
		changes    string // c changed, - not
	}{
		{"first success is up", 3, 3, "s", "u", "c"},
		{"first failure is down", 3, 3, "f", "d", "c"},
		{"fall 2", 1, 2, "sfsffs", "uuuudu", "c---cc"},
		{"rise 3", 3, 1, "fsssfss", "dddudd" + "d", "c--cc--"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := riseFall{rise: tt.rise, fall: tt.fall}
			var got, changed string
			for _, c := range tt.results {
				ch := r.observe(c == 's')
				if r.status == trackUp {
					got += "u"
				} else {
					got += "d"
				}
				if ch {
					changed += "c"
				} else {
					changed += "-"
				}
			}
			if got != tt.want || changed != tt.changes {
				t.Fatalf("status %s changes %s, want %s %s", got, changed, tt.want, tt.changes)
			}
		})
	}
}

func TestGroupReact(t *testing.T) {
	backup := func(t *testing.T) Machine {
		p := baseParams()
		p.InGroup = true
		return machineIn(t, p, StateBackup)
	}
	master := func(t *testing.T) Machine {
		p := baseParams()
		p.InGroup = true
		m := machineIn(t, p, StateBackup)
		m, _ = m.Step(GroupMaster{}, t0)
		return m
	}
	want := func(m Machine) Machine {
		m, _ = m.Step(TimerExpired{TimerMasterDown}, t0)
		return m
	}
	faulty := func(m Machine) Machine {
		m, _ = m.Step(FaultChanged{true}, t0)
		return m
	}
	tests := []struct {
		name    string
		members func(t *testing.T) []Machine
		m       int
		acts    []Action
		want    []memberEvent
	}{
		{
			name:    "a request waits for the others",
			members: func(t *testing.T) []Machine { return []Machine{want(backup(t)), backup(t)} },
			acts:    []Action{RequestMaster{}},
		},
		{
			name:    "the last request takes the whole group to MASTER",
			members: func(t *testing.T) []Machine { return []Machine{want(backup(t)), want(backup(t))} },
			m:       1,
			acts:    []Action{RequestMaster{}},
			want:    []memberEvent{{0, GroupMaster{}}, {1, GroupMaster{}}},
		},
		{
			name:    "a request joins a group already MASTER",
			members: func(t *testing.T) []Machine { return []Machine{master(t), want(backup(t))} },
			m:       1,
			acts:    []Action{RequestMaster{}},
			want:    []memberEvent{{1, GroupMaster{}}},
		},
		{
			name:    "leaving MASTER for BACKUP takes the other masters along",
			members: func(t *testing.T) []Machine { return []Machine{backup(t), master(t), master(t)} },
			acts:    []Action{Transition{StateMaster, StateBackup}},
			want:    []memberEvent{{1, GroupBackup{}}, {2, GroupBackup{}}},
		},
		{
			name:    "a fault of its own puts the others in group fault",
			members: func(t *testing.T) []Machine { return []Machine{faulty(master(t)), master(t), backup(t)} },
			acts:    []Action{Transition{StateMaster, StateFault}},
			want:    []memberEvent{{1, GroupFaultChanged{true}}, {2, GroupFaultChanged{true}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := groupReact(tt.members(t), tt.m, tt.acts)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(memberEvent{})); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestGroupSettles steps a two-member group through a fault and its end
// the way the router does, until no event is left.
func TestGroupSettles(t *testing.T) {
	p := baseParams()
	p.InGroup = true
	ms := []Machine{machineIn(t, p, StateBackup), machineIn(t, p, StateBackup)}
	type work struct {
		m  int
		ev Event
	}
	run := func(w work) {
		queue := []work{w}
		for n := 0; len(queue) > 0; n++ {
			if n > 100 {
				t.Fatal("the group does not settle")
			}
			w := queue[0]
			queue = queue[1:]
			var acts []Action
			ms[w.m], acts = ms[w.m].Step(w.ev, t0.Add(time.Second))
			for _, e := range groupReact(ms, w.m, acts) {
				queue = append(queue, work{e.member, e.ev})
			}
		}
	}
	run(work{0, TimerExpired{TimerMasterDown}})
	if ms[0].State() != StateBackup || !ms[0].WantMaster() {
		t.Fatal("first member did not wait")
	}
	run(work{1, TimerExpired{TimerMasterDown}})
	if ms[0].State() != StateMaster || ms[1].State() != StateMaster || groupState(ms) != StateMaster {
		t.Fatalf("group did not go MASTER: %v %v", ms[0].State(), ms[1].State())
	}
	run(work{1, FaultChanged{true}})
	if ms[0].State() != StateFault || ms[1].State() != StateFault || groupState(ms) != StateFault {
		t.Fatalf("group did not go FAULT: %v %v", ms[0].State(), ms[1].State())
	}
	run(work{1, FaultChanged{false}})
	if ms[0].State() != StateBackup || ms[1].State() != StateBackup || groupState(ms) != StateBackup {
		t.Fatalf("group did not come back to BACKUP: %v %v", ms[0].State(), ms[1].State())
	}
	run(work{0, AdvertReceived{Priority: 200, Src: src4, Interval: time.Second}})
	run(work{1, TimerExpired{TimerMasterDown}})
	if ms[1].State() != StateBackup {
		t.Fatal("a member went MASTER while the other hears a master")
	}
}
