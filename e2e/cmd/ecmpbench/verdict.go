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

// comparisons are the ratios ours/peer printed. Each is a goal, ours's
// median at most the peer's plus slack, unless info is set (then printed
// with it). Against bird2 the slack is one interval of the dead director's
// sender (a BGP keepalive, 1 s; a BFD packet, 100 ms): the router notices
// it a detection time after its last packet, and where the fault falls in
// the interval is chance, so either side's route change (and the flows'
// next retransmission after it) spreads over one interval (seen: 0.207 to
// 0.289 s over six BFD trials of both).
var comparisons = []struct {
	ours, peer, what string
	slack            time.Duration
	info             string
}{
	{seriesKillHold, seriesBirdHold, "route", time.Second, ""},
	{seriesKillBFD, seriesBirdBFD, "route", 100 * time.Millisecond, ""},
	{seriesKillHold, seriesBirdHold, "served again", time.Second, ""},
	{seriesKillBFD, seriesBirdBFD, "served again", 100 * time.Millisecond, ""},
	{seriesKillBFD, seriesKeepalived, "served again", 0, ""},
	{seriesKillHold, seriesKeepalived, "served again", 0, "not a goal: hold 3 s against VRRP's 3.6 s Master_Down_Interval, and the moved flows " +
		"resume at their next TCP retransmission after the route change (back-off from about 0.2 s, doubling each time), while VRRP's " +
		"takeover flushes the router's ARP queue at once; BFD is the setting for fast failover"},
}

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
// kill of lbd, the router dropped a killed lbd and its flows were served
// again no later than with bird2 (comparisons' slack), with hold time and with
// BFD, and with BFD no later than after the keepalived pair's takeover; no
// verdict when a series wanted is missing.
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
		fmt.Fprintf(w, "  %-16s broken %d/%d  served again %.3fs  route %s  (%d trials)\n",
			s, b, t, medianOf(ts, resumeOf).Seconds(), routeText(medianOf(ts, routeGoneOf)), len(ts))
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
	for _, c := range comparisons {
		if !slices.Contains(want, c.ours) || !slices.Contains(want, c.peer) {
			continue
		}
		f := resumeOf
		if c.what == "route" {
			f = routeGoneOf
		}
		mo, mp := medianOf(res[c.ours], f), medianOf(res[c.peer], f)
		ratio := mo.Seconds() / mp.Seconds()
		fmt.Fprintf(w, "ratio %s / %s, %s: %.3fs / %.3fs = %.3f\n", c.ours, c.peer, c.what, mo.Seconds(), mp.Seconds(), ratio)
		if c.info != "" {
			fmt.Fprintf(w, "  [info] %s\n", c.info)
			continue
		}
		sheet.Check(mo >= 0 && mp > 0 && mo <= mp+c.slack, "%s: %s's median at most %s's + %v: %.3fs <= %.3fs", c.what, c.ours, c.peer, c.slack, mo.Seconds(), (mp + c.slack).Seconds())
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
