package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"
)

// The series a run measures, by stack, fault and failure detection.
const (
	seriesDrain      = "lbd drain"       // lbctl drain-director on one of three lbd
	seriesKillHold   = "lbd kill hold"   // one of three lbd cut and killed, BGP hold time 3 s
	seriesKillBFD    = "lbd kill bfd"    // the same with BFD 100ms x 3
	seriesKeepalived = "keepalived kill" // the keepalived pair's master cut and killed (VRRP)
	seriesBirdHold   = "bird kill hold"  // bird2 on each director: one cut and killed, hold 3 s
	seriesBirdBFD    = "bird kill bfd"   // the same with BFD 100ms x 3
)

// routeSlack is how much later than bird2's our median route change may
// come and still match it: the router's route is polled every 5 ms, and
// after a hold-time expiry the detection depends on when the last
// keepalive arrived (a spread of a keepalive interval, 1 s).
const routeSlack = 1.10

// results are the trials' outcomes by series.
type results map[string][]outcome

func (r results) add(series string, o outcome) { r[series] = append(r[series], o) }

func medianOf(ts []outcome, f func(outcome) time.Duration) time.Duration {
	v := make([]time.Duration, 0, len(ts))
	for _, o := range ts {
		v = append(v, f(o))
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func resumeOf(o outcome) time.Duration    { return o.resume }
func routeGoneOf(o outcome) time.Duration { return o.routeGone }

// brokenSum is the broken and total flows over the trials, and whether a
// moved flow never resumed.
func brokenSum(ts []outcome) (broken, total int, lost bool) {
	for _, o := range ts {
		broken += o.broken
		total += o.total
		lost = lost || o.resume < 0
	}
	return broken, total, lost
}

// judge prints the medians side by side, the ratios ours/peer and the
// goals, and returns the verdict: PASS when no flow broke on a drain or a
// kill of lbd, lbd's flows were served again no later than the keepalived
// pair's, and the router dropped a killed lbd no later than a killed
// bird2 (routeSlack); no verdict when a series wanted is missing.
func judge(w io.Writer, res results, want []string, missing []string) error {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "medians per series (broken: flows reset or never answered again, all trials; served again: fault -> the last of the faulted director's flows answered; route: fault -> the router's route without it):")
	for _, s := range want {
		ts := res[s]
		if len(ts) == 0 {
			fmt.Fprintf(w, "  %-16s not measured\n", s)
			continue
		}
		b, t, _ := brokenSum(ts)
		flows := fmt.Sprintf("broken %d/%d  served again %.3fs", b, t, medianOf(ts, resumeOf).Seconds())
		if t == 0 {
			flows = "broken -  served again -" // the route alone (bird2)
		}
		fmt.Fprintf(w, "  %-16s %s  route %s  (%d trials)\n", s, flows, routeText(medianOf(ts, routeGoneOf)), len(ts))
	}
	for _, s := range want {
		if len(res[s]) == 0 {
			missing = append(missing, s+": no trial")
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(w, "ecmpbench: NO VERDICT: %s\n", strings.Join(missing, "; "))
		return fmt.Errorf("%w: %s", benchverdict.ErrNotMeasured, strings.Join(missing, "; "))
	}
	sheet := benchverdict.NewSheet(w)
	for _, s := range []string{seriesDrain, seriesKillHold, seriesKillBFD} {
		if slices.Contains(want, s) {
			b, t, lost := brokenSum(res[s])
			sheet.Check(b == 0 && !lost, "%s: %d of %d established flows broken (goal 0)", s, b, t)
		}
	}
	for _, p := range []struct{ ours, peer, what string }{
		{seriesKillHold, seriesKeepalived, "served again"},
		{seriesKillBFD, seriesKeepalived, "served again"},
		{seriesKillHold, seriesBirdHold, "route"},
		{seriesKillBFD, seriesBirdBFD, "route"},
	} {
		if !slices.Contains(want, p.ours) || !slices.Contains(want, p.peer) {
			continue
		}
		f, limit := resumeOf, 1.0
		if p.what == "route" {
			f, limit = routeGoneOf, routeSlack
		}
		mo, mp := medianOf(res[p.ours], f), medianOf(res[p.peer], f)
		ratio := mo.Seconds() / mp.Seconds()
		fmt.Fprintf(w, "ratio %s / %s, %s: %.3fs / %.3fs = %.3f\n", p.ours, p.peer, p.what, mo.Seconds(), mp.Seconds(), ratio)
		sheet.Check(mo >= 0 && mp > 0 && ratio <= limit, "%s: %s's median at most %s's: ratio %.3f <= %.2f", p.what, p.ours, p.peer, ratio, limit)
	}
	if err := sheet.Err(); err != nil {
		fmt.Fprintf(w, "ecmpbench: FAIL (%d goals missed)\n", len(sheet.Failed()))
		return err
	}
	fmt.Fprintln(w, "ecmpbench: PASS")
	return nil
}

func routeText(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}
