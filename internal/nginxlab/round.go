package nginxlab

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// WaitServedBy waits until a request sent from now on is answered by the
// proxy name and name alone holds the VIP.
func (l *Lab) WaitServedBy(pb *Prober, name string, limit time.Duration) error {
	from := time.Now()
	return waitUntil(limit, "the client served by "+name+", the VIP on it alone", func() bool {
		if _, ok := FirstAnswer(pb.Results(), from, name); !ok {
			return false
		}
		h, err := l.VIPHolders()
		return err == nil && slices.Equal(h, []string{name})
	})
}

// RunRound kills d1's nginx after waiting phase (the kill's place in the
// check's period), waits for the client to be answered again, starts
// nginx again and waits for what the variant promises: d1 answering again
// (Preempt), or d1 back to BACKUP and the VIP kept on d2 for longer than
// d1's Master_Down_Interval (NoPreempt). d1 must be serving when it is
// called. Its errors are the waits that ran out; Problems checks the rest.
func (pr *Pair) RunRound(l *Lab, pb *Prober, phase time.Duration) (r Round, err error) {
	r = Round{Setup: pr.Setup}
	defer func() { r.Events, r.Results = pr.Events(), pb.Results() }()
	time.Sleep(phase)
	if r.Kill, err = l.D1.KillNginx(); err != nil {
		return r, err
	}
	if err := waitUntil(FailoverBound(pr.Track)+2*Slack, "an answer after the kill", func() bool {
		var ok bool
		r.Failover, ok = FirstAnswer(pb.Results(), r.Kill, "")
		return ok
	}); err != nil {
		return r, err
	}
	if err := l.WaitServedBy(pb, "d2", 2*Slack); err != nil {
		return r, err
	}
	r.Restart = time.Now()
	if err := l.D1.StartNginx(); err != nil {
		return r, err
	}
	r.NginxUp = time.Now()
	if pr.Variant == Preempt {
		if err := waitUntil(PreemptBound(pr.Track)+2*Slack, "d1 answering after nginx's restart", func() bool {
			var ok bool
			r.Back, ok = FirstAnswer(pb.Results(), r.Restart, "d1")
			return ok
		}); err != nil {
			return r, err
		}
		return r, l.WaitServedBy(pb, "d1", 2*Slack)
	}
	if err := waitUntil(detection(pr.Track)+2*Slack, "d1 BACKUP after nginx's restart", func() bool {
		return slices.ContainsFunc(pr.D1.Events(), func(e Event) bool { return e.State == "BACKUP" && !e.At.Before(r.Restart) })
	}); err != nil {
		return r, err
	}
	time.Sleep(MasterDown(D1Priority, Advert) + time.Second)
	r.Held = time.Now()
	return r, l.WaitServedBy(pb, "d2", 2*Slack)
}

// Problems are the ways the round broke the pair's promises: the order
// of events (d1 FAULT after the kill, then d2 MASTER, then the first
// answer, from d2; no answer from d1 while its nginx is down), the
// protocol bounds (plus Slack), and the variant's outcome after the
// restart. Nil when it kept them all.
func (r Round) Problems() []string {
	var out []string
	bad := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	if r.Failover.Director != "d2" {
		bad("first answer after the kill from %q, want d2", r.Failover.Director)
	}
	if d := r.FailoverTime(); d > FailoverBound(r.Track)+Slack {
		bad("kill to first answer %v, over the protocol's %v (+%v)", d, FailoverBound(r.Track), Slack)
	}
	end := r.Restart
	if r.Variant == NoPreempt {
		end = r.Held
	}
	for _, run := range Sequence(r.Results, r.Kill, end) {
		if run.Who == "d1" {
			bad("%d answers from d1 after the kill (from %v), its nginx dead or not preempting", run.N, run.First.Sub(r.Kill))
		}
	}
	fault, ok := firstEvent(r.Events, "d1", "FAULT", r.Kill)
	if !ok {
		bad("d1 never went FAULT after the kill")
	}
	master, ok := firstEvent(r.Events, "d2", "MASTER", fault.At)
	switch {
	case !ok:
		bad("d2 never became MASTER after d1's FAULT")
	case master.At.After(r.Failover.Done.Add(r.eventLag())):
		bad("first answer %v before d2 became MASTER", master.At.Sub(r.Failover.Done))
	}
	if r.Variant == Preempt {
		out = append(out, r.preemptProblems()...)
	} else {
		out = append(out, r.noPreemptProblems()...)
	}
	return out
}

func (r Round) preemptProblems() []string {
	var out []string
	bad := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	if r.Back.Director != "d1" {
		bad("no answer from d1 after nginx's restart")
	} else if d := r.PreemptTime(); d > PreemptBound(r.Track)+Slack {
		bad("nginx up to d1's first answer %v, over the protocol's %v (+%v)", d, PreemptBound(r.Track), Slack)
	}
	backup, ok := firstEvent(r.Events, "d1", "BACKUP", r.Restart)
	if !ok {
		bad("d1 never went BACKUP after nginx's restart")
	}
	_, ok2 := firstEvent(r.Events, "d1", "MASTER", backup.At)
	if !ok2 {
		bad("d1 never became MASTER again (preempting)")
	}
	// d2 logs BACKUP as soon as d1's first advert arrives, which can be
	// before d1's own log line of the transition: after d1's BACKUP it is.
	if _, ok := firstEvent(r.Events, "d2", "BACKUP", backup.At); !ok || !ok2 {
		bad("d2 never went back to BACKUP after d1 preempted")
	}
	// A request sent a little after d1's first answer may still have left
	// before the client heard d1's gratuitous ARP (goroutines are not sent
	// in order on a loaded host): past flapMargin, d2 must be done.
	if r.Back.Director == "d1" {
		for _, run := range Sequence(r.Results, r.Back.Done.Add(flapMargin), time.Time{}) {
			if run.Who == "d2" {
				bad("%d answers from d2 %v after d1's first one: the VIP flapped", run.N, run.First.Sub(r.Back.Done))
			}
		}
	}
	return out
}

func (r Round) noPreemptProblems() []string {
	var out []string
	backup, ok := firstEvent(r.Events, "d1", "BACKUP", r.Restart)
	if !ok {
		out = append(out, "d1 never went BACKUP after nginx's restart")
	}
	if r.Held.Sub(backup.At) < MasterDown(D1Priority, Advert) {
		out = append(out, fmt.Sprintf("watched the VIP stay on d2 for %v after d1 went BACKUP, less than d1's Master_Down_Interval",
			r.Held.Sub(backup.At)))
	}
	if m, ok := firstEvent(r.Events, "d1", "MASTER", r.Restart); ok {
		out = append(out, fmt.Sprintf("d1 became MASTER %v after nginx's restart despite nopreempt", m.At.Sub(r.Restart)))
	}
	return out
}

// flapMargin is how long after d1's first answer (preempting) an answer
// from d2 is a flap, not a request that left just before the switch.
const flapMargin = 500 * time.Millisecond

// eventLag is how late an event may be timed: lbd's carry their own time
// (its JSON log), keepalived's the time the lab read the line.
func (r Round) eventLag() time.Duration {
	if r.Kind == Keepalived {
		return 500 * time.Millisecond
	}
	return 0
}

// firstEvent is proxy's first event entering state at or after from.
func firstEvent(es []Event, proxy, state string, from time.Time) (Event, bool) {
	for _, e := range es {
		if e.Proxy == proxy && e.State == state && !e.At.Before(from) {
			return e, true
		}
	}
	return Event{}, false
}

// Timeline is the round's events, nginx's restart and the client's
// outcomes from the kill on, as offsets from it ("d1 FAULT +412ms, d2
// MASTER +1.02s, ...; client: - x50 from +3ms, d2 x180 from +1.03s").
// A check of d2's timing out on a loaded host shows here as a d2 FAULT.
func Timeline(r Round) string {
	type item struct {
		at   time.Time
		what string
	}
	var items []item
	for _, e := range r.Events {
		if !e.At.Before(r.Kill) {
			items = append(items, item{e.At, e.Proxy + " " + e.State})
		}
	}
	if !r.Restart.IsZero() {
		items = append(items, item{r.Restart, "d1 nginx restarted"})
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.at.Compare(b.at) })
	var parts, client []string
	for _, it := range items {
		parts = append(parts, fmt.Sprintf("%s +%v", it.what, it.at.Sub(r.Kill).Round(time.Millisecond)))
	}
	for _, run := range Sequence(r.Results, r.Kill, time.Time{}) {
		client = append(client, fmt.Sprintf("%s x%d from +%v", run.Who, run.N, run.First.Sub(r.Kill).Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ") + "; client: " + strings.Join(client, ", ")
}
