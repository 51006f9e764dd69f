package main

import (
	"fmt"
	"io"

	"github.com/lvsd/lb/internal/benchverdict"
)

// judge prints the ratios ours/keepalived and the acceptance checks, and
// returns the verdict: nil for PASS, benchverdict.ErrFailed wrapped with
// the missed goals, or ErrNotMeasured when keepalived could not be measured (kaErr):
// without the peer there is no comparison, so no verdict. scheduled is the
// checks per second asked for (servers / interval).
func judge(w io.Writer, ours, ka measurement, kaErr error, scheduled float64) error {
	if kaErr != nil {
		fmt.Fprintf(w, "checkbench: NO VERDICT: keepalived, the peer, was not measured: %v\n", kaErr)
		return fmt.Errorf("%w: keepalived, the peer: %w", benchverdict.ErrNotMeasured, kaErr)
	}
	ratio := ours.perSecond() / ka.perSecond()
	fmt.Fprintf(w, "ratio ours/keepalived: checks/s %.0f / %.0f = %.3f; CPU per 10k checks %.3f s / %.3f s = %.3f; false failures %d / %d\n",
		ours.perSecond(), ka.perSecond(), ratio, ours.cpuPer10k(), ka.cpuPer10k(), ours.cpuPer10k()/ka.cpuPer10k(), ours.failures, ka.failures)

	sheet := benchverdict.NewSheet(w)
	check := sheet.Check
	fmt.Fprintln(w, "acceptance (decided with both checkers measured)")
	// n servers every interval is the most there is to do: "sustained"
	// means keeping up with it (99%, for the window's edges).
	check(ours.perSecond() >= 0.99*scheduled && ours.cores() < 1,
		"ours sustains the %.0f checks/s scheduled on under one core: %.0f/s (%.1f%%) on %.2f cores",
		scheduled, ours.perSecond(), 100*ours.perSecond()/scheduled, ours.cores())
	check(ratio >= 0.99, "ours completes at least as many checks as keepalived: ours/keepalived %.3f >= 0.99", ratio)
	check(ours.failures <= ka.failures, "ours has no more false failures than keepalived (the server always answers): %d <= %d", ours.failures, ka.failures)
	if err := sheet.Err(); err != nil {
		fmt.Fprintf(w, "checkbench: FAIL (%d of 3 goals missed)\n", len(sheet.Failed()))
		return err
	}
	fmt.Fprintln(w, "checkbench: PASS")
	return nil
}
