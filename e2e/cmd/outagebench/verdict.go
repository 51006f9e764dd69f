package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"
)

// results are the trials by stack and fault.
type results map[string][]trialResult

func key(stack, fault string) string { return stack + " " + fault }

func (r results) add(stack, fault string, t trialResult) {
	r[key(stack, fault)] = append(r[key(stack, fault)], t)
}

// median of the outages of the trials.
func median(ts []trialResult, f func(trialResult) time.Duration) time.Duration {
	v := make([]time.Duration, len(ts))
	for i, t := range ts {
		v[i] = f(t)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func outageOf(t trialResult) time.Duration     { return t.outage }
func fromAdvertOf(t trialResult) time.Duration { return t.fromAdvert() }

// figure is what a fault is judged on: after a stop the outage itself
// (the backup's wait runs from d1's priority-0 advert, sent at the stop);
// after a cut the outage from d1's last advert, which does not depend on
// the cut's phase in the advert cycle.
func figure(fault string) (func(trialResult) time.Duration, string) {
	if fault == faultCut {
		return fromAdvertOf, "outage from d1's last advert"
	}
	return outageOf, "outage"
}
func againOf(t trialResult) time.Duration { return t.again }

func takeoverOf(t trialResult) time.Duration { return t.takeover }

// takeoverSlack is how far past Master_Down_Interval a takeover may come
// before it counts as beyond the protocol's bound: a loaded host's wake-up.
const takeoverSlack = 20 * time.Millisecond

// beyondBound says how many trials' takeovers came later than
// Master_Down_Interval + takeoverSlack, and the latest.
func beyondBound(ts []trialResult) string {
	n, measured := 0, 0
	var worst time.Duration
	for _, t := range ts {
		if t.takeover == 0 {
			continue
		}
		measured++
		worst = max(worst, t.takeover)
		if t.takeover > masterDown+takeoverSlack {
			n++
		}
	}
	return fmt.Sprintf("%d of %d beyond Master_Down_Interval %.3fs + %v (latest %.3fs)", n, measured, masterDown.Seconds(), takeoverSlack, worst.Seconds())
}

// judge prints the medians and ratios and returns the verdict: PASS when
// lbd's median outage is at most keepalived's for every fault; no verdict
// when a trial could not be measured or a side is missing.
func judge(w io.Writer, res results, o options, missing []string) error {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "medians over %d trials (outage: longest gap between answers; served again: fault -> first answer to a request sent after it):\n", o.trials)
	for _, f := range o.faults {
		for _, s := range o.stacks {
			ts := res[key(s, f)]
			if len(ts) == 0 {
				continue
			}
			failed := 0
			for _, t := range ts {
				failed += t.failed
			}
			fmt.Fprintf(w, "  %-10s %-4s outage %.3fs  from d1's last advert %.3fs  served again %.3fs  (%d trials, %d failed requests in all)\n",
				s, f, median(ts, outageOf).Seconds(), median(ts, fromAdvertOf).Seconds(), median(ts, againOf).Seconds(), len(ts), failed)
		}
	}
	for _, s := range o.stacks {
		if ts := res[key(s, faultCut)]; len(ts) > 0 && s != stackLbdBFD {
			fmt.Fprintf(w, "  %-10s cut  takeover (d1's last advert -> d2's first, kernel-stamped at the client) median %.3fs, %s\n",
				s, median(ts, takeoverOf).Seconds(), beyondBound(ts))
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(w, "outagebench: NO VERDICT: %d trial(s) not measured: %s\n", len(missing), strings.Join(missing, "; "))
		return fmt.Errorf("%w: %s", benchverdict.ErrNotMeasured, strings.Join(missing, "; "))
	}
	sheet := benchverdict.NewSheet(w)
	for _, f := range o.faults {
		ours, peer := res[key(stackLbd, f)], res[key(stackKeepalived, f)]
		if len(ours) < o.trials || len(peer) < o.trials {
			fmt.Fprintf(w, "outagebench: NO VERDICT: %s: lbd %d and keepalived %d trials of %d (-stacks leaves one out?)\n", f, len(ours), len(peer), o.trials)
			return fmt.Errorf("%w: %s: lbd %d, keepalived %d trials of %d", benchverdict.ErrNotMeasured, f, len(ours), len(peer), o.trials)
		}
		fig, what := figure(f)
		mo, mp := median(ours, fig), median(peer, fig)
		ratio := mo.Seconds() / mp.Seconds()
		fmt.Fprintf(w, "ratio lbd/keepalived, %s: median %s %.3fs / %.3fs = %.3f (raw outage %.3fs / %.3fs = %.3f)\n",
			f, what, mo.Seconds(), mp.Seconds(), ratio, median(ours, outageOf).Seconds(), median(peer, outageOf).Seconds(),
			median(ours, outageOf).Seconds()/median(peer, outageOf).Seconds())
		sheet.Check(ratio <= 1, "%s: lbd's median %s is at most keepalived's: ratio %.3f <= 1.0", f, what, ratio)
	}
	judgeBFD(w, res, o, sheet)
	if err := sheet.Err(); err != nil {
		fmt.Fprintf(w, "outagebench: FAIL (%d goal(s) missed)\n", len(sheet.Failed()))
		return err
	}
	fmt.Fprintln(w, "outagebench: PASS")
	return nil
}

// judgeBFD compares lbd+bfd with keepalived when -stacks has it: on the
// raw outage (the client's longest gap), BFD's detection not being tied to
// d1's advert cycle.
func judgeBFD(w io.Writer, res results, o options, sheet *benchverdict.Sheet) {
	if !slices.Contains(o.stacks, stackLbdBFD) {
		return
	}
	for _, f := range o.faults {
		ours, peer := res[key(stackLbdBFD, f)], res[key(stackKeepalived, f)]
		if len(ours) < o.trials || len(peer) < o.trials {
			sheet.Check(false, "%s: lbd+bfd %d and keepalived %d trials of %d", f, len(ours), len(peer), o.trials)
			continue
		}
		mo, mp := median(ours, outageOf), median(peer, outageOf)
		ratio := mo.Seconds() / mp.Seconds()
		fmt.Fprintf(w, "ratio lbd+bfd/keepalived, %s: median outage %.3fs / %.3fs = %.3f (served again %.3fs / %.3fs)\n",
			f, mo.Seconds(), mp.Seconds(), ratio, median(ours, againOf).Seconds(), median(peer, againOf).Seconds())
		sheet.Check(ratio <= 1, "%s: lbd+bfd's median outage is at most keepalived's: ratio %.3f <= 1.0", f, ratio)
	}
}
