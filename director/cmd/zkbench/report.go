package main

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"
)

// layers are the directors under test, by -layer.
var layers = map[string]startTarget{"daemon": startDaemon, "core": startCore}

func layerNames() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range layers {
			if !yield(k) {
				return
			}
		}
	})
}

func printBurst(o options, b burstResult) {
	fmt.Printf("(a) burst: %d members registered (EPHEMERAL_SEQUENTIAL, seed data) over %v from %d sessions; writes done in %v\n",
		b.members, o.window, o.sessions, b.written.Round(time.Millisecond))
	fmt.Printf("    table holds %d of %d; the last in the table %v after the first create (%v after the last create returned)\n",
		b.inTable, b.members, b.converge.Round(time.Millisecond), (b.converge - b.written).Round(time.Millisecond))
	fmt.Printf("    floor (a watcher's own list): the last listed %v after the first create (%v after the last create returned); ratio %.2f\n",
		b.floor.Round(time.Millisecond), (b.floor - b.written).Round(time.Millisecond), ratio(b.converge, b.floor))
	fmt.Printf("    IPVS writes: %v; %.3f ops per member\n\n", b.writes, float64(b.writes.ops)/float64(b.members))
}

func printChurn(o options, c churnResult) {
	fmt.Printf("(b) churn: %d joins + %d leaves in %v (%.1f changes/s, asked %.0f), pool %d\n",
		c.joins, c.leaves, c.took.Round(time.Millisecond), float64(c.changes())/c.took.Seconds(), o.rate, c.pool)
	fmt.Printf("    lag, znode change (client call returned) to the table change: median %.1f ms, p99 %.1f ms, max %.1f ms (%d changes never reached the table)\n",
		ms(quantile(c.lags, 0.5)), ms(quantile(c.lags, 0.99)), ms(quantile(c.lags, 1)), c.missed)
	fmt.Printf("    floor, to a watcher's own list:                         median %.1f ms, p99 %.1f ms, max %.1f ms (%d missed)\n",
		ms(quantile(c.floorLags, 0.5)), ms(quantile(c.floorLags, 0.99)), ms(quantile(c.floorLags, 1)), c.floorMissed)
	fmt.Printf("    ratio director/floor: median %.2f, p99 %.2f; added by the director per change: median %.1f ms, p99 %.1f ms\n",
		ratio(quantile(c.lags, 0.5), quantile(c.floorLags, 0.5)), ratio(quantile(c.lags, 0.99), quantile(c.floorLags, 0.99)),
		ms(quantile(c.over, 0.5)), ms(quantile(c.over, 0.99)))
	fmt.Printf("    IPVS writes: %v for %d changes; %.3f ops per change\n\n", c.writes, c.changes(), perChange(c.writes.ops, c.changes()))
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func perChange(writes, changes int) float64 {
	if changes == 0 {
		return 0
	}
	return float64(writes) / float64(changes)
}

// verdict checks the goals; without the floor there is no comparison.
func verdict(o options, b burstResult, c churnResult) error {
	s := benchverdict.NewSheet(os.Stdout)
	fmt.Println("verdict:")
	s.Check(b.inTable == b.members && b.converge <= o.converge, "burst: all %d members in the table within %v of the first create (%d in %v)",
		b.members, o.converge, b.inTable, b.converge.Round(time.Millisecond))
	s.Check(b.writes.ops <= b.members, "burst: IPVS writes per member <= 1.0 (%.3f ops; %d kernel requests)",
		float64(b.writes.ops)/float64(b.members), b.writes.requests())
	s.Check(c.missed == 0 && c.changes() > 0, "churn: every change reached the table (%d of %d)", c.changes()-c.missed, c.changes())
	s.Check(c.writes.ops <= c.changes(), "churn: IPVS writes per change <= 1.0 (%.3f ops; %d kernel requests)",
		perChange(c.writes.ops, c.changes()), c.writes.requests())
	s.Check(quantile(c.lags, 0.99) <= o.p99, "churn: p99 lag <= %v (%.1f ms)", o.p99, ms(quantile(c.lags, 0.99)))
	if !b.floorOK || c.floorMissed > 0 {
		return fmt.Errorf("the floor watcher: %w (burst complete %v, churn missed %d)", benchverdict.ErrNotMeasured, b.floorOK, c.floorMissed)
	}
	if err := s.Err(); err != nil {
		return err
	}
	fmt.Println("PASS")
	return nil
}
