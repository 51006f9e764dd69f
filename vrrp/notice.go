package vrrp

import (
	"fmt"
	"time"
)

// Notice is one event of keepalived's notify FIFO: a state an instance or
// a sync group enters, an instance's priority change, or a master hearing
// a lower priority master. Options.OnNotice receives them in order; the
// daemon writes them as keepalived's lines (TYPE "NAME" EVENT PRIORITY).
type Notice struct {
	Group bool   // a sync group (keepalived's GROUP) rather than an instance (INSTANCE)
	Name  string // the instance's or the group's name
	// Event is the state entered (MASTER, BACKUP, FAULT, STOP), or one of
	// NoticeMasterPriority, NoticeBackupPriority, NoticeMasterRxLowerPri.
	Event    string
	Priority uint8 // the instance's effective priority; 0 for a group
	At       time.Time
}

// The events of a Notice that are not states, as keepalived names them.
const (
	NoticeMasterPriority   = "MASTER_PRIORITY"     // a MASTER's effective priority changed
	NoticeBackupPriority   = "BACKUP_PRIORITY"     // another state's effective priority changed
	NoticeMasterRxLowerPri = "MASTER_RX_LOWER_PRI" // a MASTER heard a master that loses to it
)

// IsPriority reports whether the notice is a priority change (keepalived
// writes those only with notify_priority_changes).
func (n Notice) IsPriority() bool {
	return n.Event == NoticeMasterPriority || n.Event == NoticeBackupPriority
}

func (r *Router) notice(n Notice) {
	r.notices = append(r.notices, n)
}

// priorityNotice reports an instance's new effective priority, as MASTER_
// or BACKUP_PRIORITY by the state it is in once the change is applied.
func (r *Router) priorityNotice(in *instance, at time.Time) {
	ev := NoticeBackupPriority
	if in.m.State() == StateMaster {
		ev = NoticeMasterPriority
	}
	r.notice(Notice{Name: in.cfg.Name, Event: ev, Priority: in.m.Priority(), At: at})
}

// otherMaster handles a master that loses to us: the FIFO's
// MASTER_RX_LOWER_PRI each time, and the split-brain alarm once per episode
// (logged, counted).
func (r *Router) otherMaster(in *instance, a OtherMaster, at time.Time) {
	r.notice(Notice{Name: in.cfg.Name, Event: NoticeMasterRxLowerPri, Priority: in.m.Priority(), At: at})
	r.log.Debug("vrrp: advert from a master that loses to us", "instance", in.cfg.Name, "from", a.Peer, "priority", a.PeerPriority, "ours", a.Priority)
	if !a.SplitBrain {
		return
	}
	in.stats.SplitBrains++
	in.stats.SplitBrainPeer = a.Peer
	in.stats.SplitBrainAt = at
	in.stats.SplitBrainPeerPriority = a.PeerPriority
	in.stats.SplitBrainWinner = "this router: " + electionReason(a)
	r.log.Warn("vrrp: split brain: another master keeps claiming this VRID; it does not hear our adverts",
		"instance", in.cfg.Name, "interface", in.cfg.Interface, "vrid", in.cfg.vrid(),
		"peer", a.Peer, "peer_priority", a.PeerPriority, "priority", a.Priority, "source", in.src,
		"winner", "this router", "why", electionReason(a))
}

// electionReason says why we win the election against the peer (RFC 3768
// 6.4.3: the higher priority, then the higher primary address).
func electionReason(a OtherMaster) string {
	if a.Priority != a.PeerPriority {
		return fmt.Sprintf("priority %d > %d", a.Priority, a.PeerPriority)
	}
	return fmt.Sprintf("same priority %d, our primary address is higher than %s", a.Priority, a.Peer)
}
