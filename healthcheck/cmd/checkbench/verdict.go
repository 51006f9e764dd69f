package main

import (
	"fmt"
	"io"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"
)

// judge prints, for each scale, the ratios ours/keepalived and the goals,
// and returns the verdict: nil for PASS, benchverdict.ErrFailed wrapped
// with the missed goals, or ErrNotMeasured when keepalived could not be
// measured at some scale: without the peer there is no comparison, so no
// verdict.
//
// The goals (issue 12): ours reaches its steady state; its CPU per check
// is at most keepalived's; it completes at least as many checks (the
// throughput lead, 1% for the window's edges); no more false failures. A
// keepalived that never reached its steady state is still compared over
// its window (what it does when it cannot keep up), and said so.
func judge(w io.Writer, results []scaleResult) error {
	fmt.Fprintln(w)
	for _, r := range results {
		if r.kaErr != nil {
			fmt.Fprintf(w, "checkbench: NO VERDICT: keepalived, the peer, was not measured at %d real servers: %v\n", r.n, r.kaErr)
			return fmt.Errorf("%w: keepalived, the peer, at %d real servers: %w", benchverdict.ErrNotMeasured, r.n, r.kaErr)
		}
	}
	sheet := benchverdict.NewSheet(w)
	check := sheet.Check
	goals := 0
	for _, r := range results {
		ours, ka := r.ours, r.ka
		ratio := ours.perSecond() / ka.perSecond()
		cpuRatio := ours.cpuPer10k() / ka.cpuPer10k()
		fmt.Fprintf(w, "%d real servers (%.0f checks/s scheduled): ours %s; keepalived %s\n", r.n, r.scheduled, ours.steady, ka.steady)
		fmt.Fprintf(w, "  ratio ours/keepalived: checks/s %.0f / %.0f = %.3f; CPU per 10k checks %.3f s / %.3f s = %.3f; false failures %d / %d\n",
			ours.perSecond(), ka.perSecond(), ratio, ours.cpuPer10k(), ka.cpuPer10k(), cpuRatio, ours.failures, ka.failures)
		for _, m := range []measurement{ours, ka} {
			if m.checks == 0 {
				fmt.Fprintf(w, "  %s completed no check in the %v window (its CPU per check is infinite)\n", m.name, m.window.Round(time.Millisecond))
			}
		}
		if !ka.steady.Steady {
			fmt.Fprintf(w, "  keepalived never reached its steady state at this scale: its figures are what it does when it cannot keep up\n")
		}
		check(ours.steady.Steady, "%d: ours reaches its steady state (95%% of the scheduled checks in 3 consecutive seconds): %v", r.n, ours.steady)
		check(cpuRatio <= 1, "%d: ours spends no more CPU per check than keepalived: %.3f s / %.3f s per 10k = %.3f <= 1", r.n, ours.cpuPer10k(), ka.cpuPer10k(), cpuRatio)
		check(ratio >= 0.99, "%d: ours completes at least as many checks as keepalived: %.0f / %.0f per s = %.3f >= 0.99", r.n, ours.perSecond(), ka.perSecond(), ratio)
		check(ours.failures <= ka.failures, "%d: ours has no more false failures than keepalived (the server always answers): %d <= %d", r.n, ours.failures, ka.failures)
		goals += 4
	}
	if err := sheet.Err(); err != nil {
		fmt.Fprintf(w, "checkbench: FAIL (%d of %d goals missed)\n", len(sheet.Failed()), goals)
		return err
	}
	fmt.Fprintln(w, "checkbench: PASS")
	return nil
}
