package vrrp

import (
	"slices"
	"strings"
	"time"
)

// Process tracking as pure decisions: which running processes match a
// tracked process, how many there are, and when the quorum is gained or
// lost (with keepalived's fork and terminate delays). The router's process
// monitor (procmon.go) feeds it the process table and its changes.

// Process is one running process as the tracker sees it.
type Process struct {
	PID  int
	Comm string   // the kernel's process name (/proc/PID/comm)
	Argv []string // the command line (/proc/PID/cmdline); nil when not read
}

// matches reports whether a process of this name and command line is one
// of p's, as keepalived matches them: the name exactly against the process
// name, or with full_command (or parameters) against the command line's
// first word, then the parameters by param_match.
func (p *ProcessConfig) matches(comm string, argv []string) bool {
	if !p.FullCommand {
		return comm == p.Process[0]
	}
	if len(argv) == 0 || argv[0] != p.Process[0] {
		return false
	}
	want, got := p.Process[1:], argv[1:]
	switch p.ParamMatch {
	case "":
		return true
	case ParamMatchExact:
		return slices.Equal(want, got)
	}
	if len(want) == 0 {
		return true
	}
	if len(got) < len(want) {
		return false
	}
	if p.ParamMatch == ParamMatchPartial {
		return slices.Equal(want, got[:len(want)])
	}
	// initial: the last given parameter need only begin the process's.
	n := len(want) - 1
	return slices.Equal(want[:n], got[:n]) && strings.HasPrefix(got[n], want[n])
}

// procCause is what changed a count: it chooses the delay keepalived applies.
type procCause uint8

const (
	causeExec procCause = iota // exec, name change or a re-read: no delay
	causeFork                  // a counted process forked: fork_delay on a gain
	causeExit                  // a counted process exited: terminate_delay on a loss
	causeScan                  // the table was read again: the delay of the direction
)

// procCount is one tracked process's count and reported status.
type procCount struct {
	n        int
	reported bool // status has been reported once
	up       bool // the reported status
	// deadline is when a delayed status change is due (zero: none).
	deadline time.Time
}

// ProcChange is a tracked process whose status changed.
type ProcChange struct {
	Name string
	Up   bool
	N    int // matching processes counted
}

// procTracker counts the matching processes of every tracked process.
type procTracker struct {
	specs  []ProcessConfig
	counts []procCount
	byPID  map[int][]int // spec indexes counting the pid
	out    []ProcChange
}

func newProcTracker(specs []ProcessConfig) *procTracker {
	return &procTracker{specs: specs, counts: make([]procCount, len(specs)), byPID: map[int][]int{}}
}

// needArgv reports whether any tracked process matches command lines.
func (t *procTracker) needArgv() bool {
	return slices.ContainsFunc(t.specs, func(p ProcessConfig) bool { return p.FullCommand })
}

func (t *procTracker) quorum(i int) bool {
	n := t.counts[i].n
	return n >= t.specs[i].Quorum && n <= t.specs[i].quorumMax()
}

// report sets spec i's status to up, recording a change.
func (t *procTracker) report(i int, up bool) {
	c := &t.counts[i]
	c.deadline = time.Time{}
	if c.reported && c.up == up {
		return
	}
	c.reported, c.up = true, up
	t.out = append(t.out, ProcChange{Name: t.specs[i].Name, Up: up, N: c.n})
}

// changed applies a count change of spec i from old, with keepalived's
// delays: a gain by fork waits fork_delay and a loss by exit
// terminate_delay; a pending delay of the other direction is cancelled
// instead (the status it would have changed has not moved).
func (t *procTracker) changed(i, old int, cause procCause, now time.Time) {
	c := &t.counts[i]
	was := old >= t.specs[i].Quorum && old <= t.specs[i].quorumMax()
	is := t.quorum(i)
	if was == is {
		return
	}
	if !c.deadline.IsZero() {
		c.deadline = time.Time{}
		t.report(i, is)
		return
	}
	var delay time.Duration
	switch {
	case cause == causeFork || (cause == causeScan && is):
		delay = t.specs[i].ForkDelay
	case cause == causeExit || (cause == causeScan && !is):
		delay = t.specs[i].TerminateDelay
	}
	if delay > 0 && c.reported {
		c.deadline = now.Add(delay)
		return
	}
	t.report(i, is)
}

// take returns the changes since the last call.
func (t *procTracker) take() []ProcChange {
	out := t.out
	t.out = nil
	return out
}

// Reset recounts from a full read of the process table (at start, and
// again when events were lost or the table is polled). The first Reset
// reports every tracked process.
func (t *procTracker) Reset(procs []Process, now time.Time) []ProcChange {
	old := make([]int, len(t.counts))
	for i := range t.counts {
		old[i] = t.counts[i].n
		t.counts[i].n = 0
		t.counts[i].deadline = time.Time{}
	}
	clear(t.byPID)
	for _, p := range procs {
		for i := range t.specs {
			if t.specs[i].matches(p.Comm, p.Argv) {
				t.byPID[p.PID] = append(t.byPID[p.PID], i)
				t.counts[i].n++
			}
		}
	}
	for i := range t.counts {
		if !t.counts[i].reported {
			t.report(i, t.quorum(i))
			continue
		}
		t.changed(i, old[i], causeScan, now)
	}
	return t.take()
}

// Exec re-reads a process that ran a new program (or whose name changed):
// it counts for the tracked processes it now matches, and no longer for
// the others.
func (t *procTracker) Exec(p Process, now time.Time) []ProcChange {
	had := t.byPID[p.PID]
	var has []int
	for i := range t.specs {
		if t.specs[i].matches(p.Comm, p.Argv) {
			has = append(has, i)
		}
	}
	for i := range t.specs {
		in, was := slices.Contains(has, i), slices.Contains(had, i)
		switch {
		case in && !was:
			t.counts[i].n++
			t.changed(i, t.counts[i].n-1, causeExec, now)
		case was && !in:
			t.counts[i].n--
			t.changed(i, t.counts[i].n+1, causeExec, now)
		}
	}
	if len(has) == 0 {
		delete(t.byPID, p.PID)
	} else {
		t.byPID[p.PID] = has
	}
	return t.take()
}

// Comm applies a process's name change: only the tracked processes
// matching names (not command lines) are re-evaluated.
func (t *procTracker) Comm(pid int, comm string, now time.Time) []ProcChange {
	had := t.byPID[pid]
	keep := slices.DeleteFunc(slices.Clone(had), func(i int) bool { return !t.specs[i].FullCommand })
	for i := range t.specs {
		if t.specs[i].FullCommand {
			continue
		}
		in, was := t.specs[i].matches(comm, nil), slices.Contains(had, i)
		switch {
		case in && !was:
			t.counts[i].n++
			t.changed(i, t.counts[i].n-1, causeExec, now)
		case was && !in:
			t.counts[i].n--
			t.changed(i, t.counts[i].n+1, causeExec, now)
		}
		if in {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		delete(t.byPID, pid)
	} else {
		t.byPID[pid] = keep
	}
	return t.take()
}

// Fork counts a child of a counted process as its parent is counted (a
// fork copies the name and command line); an exec that follows re-reads it.
func (t *procTracker) Fork(parent, child int, now time.Time) []ProcChange {
	specs, ok := t.byPID[parent]
	if !ok {
		return nil
	}
	if _, dup := t.byPID[child]; dup {
		return nil
	}
	t.byPID[child] = slices.Clone(specs)
	for _, i := range specs {
		t.counts[i].n++
		t.changed(i, t.counts[i].n-1, causeFork, now)
	}
	return t.take()
}

// Exit stops counting a process.
func (t *procTracker) Exit(pid int, now time.Time) []ProcChange {
	specs, ok := t.byPID[pid]
	if !ok {
		return nil
	}
	delete(t.byPID, pid)
	for _, i := range specs {
		t.counts[i].n--
		t.changed(i, t.counts[i].n+1, causeExit, now)
	}
	return t.take()
}

// Counted reports whether pid counts for a tracked process.
func (t *procTracker) Counted(pid int) bool {
	_, ok := t.byPID[pid]
	return ok
}

// Next returns when the earliest delayed change is due.
func (t *procTracker) Next() (time.Time, bool) {
	var next time.Time
	for _, c := range t.counts {
		if !c.deadline.IsZero() && (next.IsZero() || c.deadline.Before(next)) {
			next = c.deadline
		}
	}
	return next, !next.IsZero()
}

// Expire reports the delayed changes due by now: each takes the status
// the count gives then.
func (t *procTracker) Expire(now time.Time) []ProcChange {
	for i := range t.counts {
		if d := t.counts[i].deadline; !d.IsZero() && !d.After(now) {
			t.report(i, t.quorum(i))
		}
	}
	return t.take()
}
