package vrrp

// Sync groups (keepalived vrrp_sync_group), as pure decisions over the
// members' machines: the router steps a member, then asks groupReact what
// the other members must be told.

// memberEvent is an event for one member of a group.
type memberEvent struct {
	member int // index into the members slice
	ev     Event
}

// groupReact returns the events the members must receive after member m
// stepped and produced acts:
//   - a member's own fault puts every other member in FAULT (and its
//     clearing lets them out, once no member has a fault of its own);
//   - a member leaving MASTER for BACKUP takes the other masters with it;
//   - a member asking for MASTER gets it, with all the others, only when each
//     of them is MASTER or asks too (keepalived prefers BACKUP to thrashing).
func groupReact(members []Machine, m int, acts []Action) []memberEvent {
	var out []memberEvent
	for _, a := range acts {
		switch a := a.(type) {
		case Transition:
			if a.From == StateMaster && a.To == StateBackup {
				for i, o := range members {
					if i != m && o.State() == StateMaster {
						out = append(out, memberEvent{i, GroupBackup{}})
					}
				}
			}
		case RequestMaster:
			ready := true
			for i, o := range members {
				if i != m && o.State() != StateMaster && !o.WantMaster() {
					ready = false
				}
			}
			if ready {
				for i, o := range members {
					if o.State() == StateBackup {
						out = append(out, memberEvent{i, GroupMaster{}})
					}
				}
			}
		}
	}
	for i, o := range members {
		want := false
		for j, p := range members {
			if j != i && p.Fault() {
				want = true
			}
		}
		if o.GroupFault() != want {
			out = append(out, memberEvent{i, GroupFaultChanged{want}})
		}
	}
	return out
}

// groupState is the state a group reports to its notify scripts: FAULT if
// a member is in FAULT, MASTER if all are, STOP if all are stopped, INIT
// while a member has not started, BACKUP otherwise.
func groupState(members []Machine) State {
	all := func(s State) bool {
		for _, o := range members {
			if o.State() != s {
				return false
			}
		}
		return true
	}
	for _, o := range members {
		if o.State() == StateFault {
			return StateFault
		}
	}
	switch {
	case all(StateMaster):
		return StateMaster
	case all(StateStopped):
		return StateStopped
	}
	for _, o := range members {
		if o.State() == StateInit {
			return StateInit
		}
	}
	return StateBackup
}
