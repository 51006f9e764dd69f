package main

import (
	"fmt"
	"slices"
	"time"
)

// flowRecord is one long-lived flow as the client saw it: the times of its
// answers and how it ended, if it broke.
type flowRecord struct {
	port    int
	answers []time.Time
	err     error // a reset, an EOF or a read timeout; nil while it lives
}

// outcome is what a fault at one instant did to the client's flows.
type outcome struct {
	total  int // flows established before the fault
	broken int // of them, those reset or not answered again after it
	moved  int // flows the faulted director carried
	// resume is from the fault until the last of the moved flows was
	// answered again (every flow it carried served again); resumeMedian
	// the median over them.
	resume, resumeMedian time.Duration
	// gap is the longest a moved flow went without an answer, over
	// answers after the fault (the interval before each included).
	gap time.Duration
	// routeGone is from the fault until the router's route lost the
	// director (BGP); 0 when not measured (VRRP).
	routeGone time.Duration
	// command is how long the command injecting the fault ran (lbctl
	// drain-director), 0 for a kill.
	command time.Duration
}

func (o outcome) brokenShare() float64 {
	if o.total == 0 {
		return 0
	}
	return float64(o.broken) / float64(o.total)
}

func (o outcome) String() string {
	s := fmt.Sprintf("broken %d/%d (%.1f%%); its %d flows served again after %.3fs (median %.3fs), longest gap %.3fs",
		o.broken, o.total, 100*o.brokenShare(), o.moved, o.resume.Seconds(), o.resumeMedian.Seconds(), o.gap.Seconds())
	if o.routeGone > 0 {
		s += fmt.Sprintf("; route without it after %.3fs", o.routeGone.Seconds())
	}
	if o.command > 0 {
		s += fmt.Sprintf(" (lbctl drain-director returned after %.3fs)", o.command.Seconds())
	}
	return s
}

// measure judges the flows after a fault at: a flow is broken when it
// ended with an error or was never answered after the fault; each moved
// flow (its port in carried) that lives resumes at its first answer after
// the fault. A moved flow that broke makes resume unknown (-1).
func measure(recs []flowRecord, carried map[int]bool, at time.Time) outcome {
	o := outcome{total: len(recs)}
	var resumes []time.Duration
	lost := false
	for _, r := range recs {
		first, ok := firstAfter(r.answers, at)
		broken := r.err != nil || !ok
		if broken {
			o.broken++
		}
		if !carried[r.port] {
			continue
		}
		o.moved++
		if broken {
			lost = true
			continue
		}
		resumes = append(resumes, first.Sub(at))
		o.gap = max(o.gap, longestGap(r.answers, at))
	}
	if len(resumes) > 0 {
		slices.Sort(resumes)
		o.resume, o.resumeMedian = resumes[len(resumes)-1], resumes[len(resumes)/2]
	}
	if lost {
		o.resume = -1
	}
	return o
}

// longestGap is the longest interval between two answers, the later
// after at.
func longestGap(ts []time.Time, at time.Time) time.Duration {
	var gap time.Duration
	for i := 1; i < len(ts); i++ {
		if ts[i].After(at) {
			gap = max(gap, ts[i].Sub(ts[i-1]))
		}
	}
	return gap
}

func firstAfter(ts []time.Time, at time.Time) (time.Time, bool) {
	for _, t := range ts {
		if t.After(at) {
			return t, true
		}
	}
	return time.Time{}, false
}
