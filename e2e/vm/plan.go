package vm

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// PlannedGuest is a guest package of the image and the tests a run
// selects in it.
type PlannedGuest struct {
	Guest
	Selected []string // top-level tests, in run order
}

// Plan returns what a boot with opts runs: every guest package
// opts.Packages selects (all by default) with the tests of its
// testbed_guest files that opts.Run's top level matches (go test's
// matching: an unanchored regexp). Guests whose binary did not build are
// kept, with their selected tests, so that Outcomes reports them.
func Plan(img *Image, opts RunOptions) ([]PlannedGuest, error) {
	top := splitTestPattern(opts.Run)[0]
	re, err := regexp.Compile(top)
	if err != nil {
		return nil, fmt.Errorf("test pattern %q: %w", opts.Run, err)
	}
	guests, err := selectGuests(img.Guests, opts.Packages)
	if err != nil {
		return nil, err
	}
	var plan []PlannedGuest
	for _, g := range guests {
		pg := PlannedGuest{Guest: g}
		for _, t := range g.Tests {
			if re.MatchString(t) {
				pg.Selected = append(pg.Selected, t)
			}
		}
		plan = append(plan, pg)
	}
	return plan, nil
}

// PlannedTests counts the tests a plan selects.
func PlannedTests(plan []PlannedGuest) int {
	n := 0
	for _, pg := range plan {
		n += len(pg.Selected)
	}
	return n
}

// Outcome is the verdict on one planned test, or on a guest package as a
// whole (Test empty) when the package failed beyond its tests: its binary
// did not build, or it exited non-zero with no test failing.
type Outcome struct {
	Guest   string // the guest package's Name
	Test    string // top-level test name; empty for the package itself
	Status  Status
	Elapsed time.Duration
	Output  []string // the test's (or the package's) console lines
	// Detail says why a test or package failed when its output does not:
	// never started, never finished, the build error, the exit status.
	Detail string
}

// Label names an outcome for people: "SeedDR" for a scenario (the
// TestScenario prefix dropped), "director_kernel/TestTestbedSysctl" for
// another package's test, the guest's name for a package outcome.
func (o Outcome) Label() string {
	switch {
	case o.Test == "":
		return o.Guest
	case o.Guest == ScenarioGuest:
		return ScenarioLabel(o.Test)
	default:
		return o.Guest + "/" + o.Test
	}
}

// ScenarioLabel is a scenario's name without the TestScenario prefix, as
// the host's subtests are named (TestTestbed/SeedDR).
func ScenarioLabel(test string) string {
	if s := strings.TrimPrefix(test, "TestScenario"); s != "" {
		return s
	}
	return test
}

// Failed reports whether the outcome fails the run: anything but a pass.
// A guest test that skipped itself, or any of its subtests, fails: the VM
// is there to provide what the tests need, so a skip there is a missing
// kernel feature or tool, not a pass.
func (o Outcome) Failed() bool {
	return o.Status != StatusPass
}

// Outcomes judges a boot's result against its plan: one Outcome per
// selected test, in plan order, plus package outcomes for a guest that did
// not build (it had tests to run, or its tests are unknown) or whose binary
// exited non-zero while none of its tests failed or hung (the package's
// own output then says why: TestMain, -test.list, a leak check...).
func Outcomes(plan []PlannedGuest, res *Result) []Outcome {
	var out []Outcome
	for _, pg := range plan {
		if pg.BuildError != nil {
			if len(pg.Selected) > 0 || len(pg.Tests) == 0 {
				out = append(out, Outcome{Guest: pg.Name, Status: StatusFail,
					Detail: fmt.Sprintf("the guest test binary of %s did not build, so none of its tests ran (%s): %v",
						pg.Package, strings.Join(pg.Selected, " "), pg.BuildError)})
			}
			continue
		}
		if len(pg.Selected) == 0 {
			continue
		}
		pr, started := res.Package(pg.Name)
		testFailed := false
		for _, name := range pg.Selected {
			o := testOutcome(pg.Name, name, res, started, pr.ExitCode)
			if o.Status == StatusFail || o.Status == StatusNoResult {
				testFailed = true // its own output says why
			}
			out = append(out, o)
		}
		if started && pr.ExitCode != 0 && !testFailed {
			out = append(out, Outcome{Guest: pg.Name, Status: StatusFail, Output: pr.Output,
				Detail: fmt.Sprintf("the test binary of %s exited with %d though none of its tests failed (its output outside tests is in the log)", pg.Name, pr.ExitCode)})
		}
	}
	return out
}

// testOutcome is the verdict on the planned test name of guest package
// guest; started says whether the package ran, exit is its exit status.
func testOutcome(guest, name string, res *Result, started bool, exit int) Outcome {
	o := Outcome{Guest: guest, Test: name, Status: StatusNotRun}
	tr, ok := res.Test(guest, name)
	if ok {
		o.Status, o.Elapsed, o.Output = tr.Status, tr.Elapsed, tr.Output
	}
	switch o.Status {
	case StatusNotRun:
		if started {
			o.Detail = fmt.Sprintf("%s never started in the VM though its package ran (exit %d)", name, exit)
		} else {
			o.Detail = fmt.Sprintf("%s never started: the VM never ran package %s", name, guest)
		}
	case StatusNoResult:
		o.Detail = fmt.Sprintf("%s started but never finished (the binary died, hung or the VM stopped)", name)
	case StatusFail:
		o.Detail = fmt.Sprintf("%s failed in the VM after %s", name, o.Elapsed)
	case StatusSkip:
		o.Detail = fmt.Sprintf("%s skipped itself in the VM (its output says why): a guest test may not skip, the VM must provide what it needs", name)
	case StatusPass:
		if len(tr.SkippedSubtests) > 0 {
			o.Status = StatusSkip
			o.Detail = fmt.Sprintf("%s passed in the VM but skipped %s (its output says why): a guest test may not skip, the VM must provide what it needs",
				name, strings.Join(tr.SkippedSubtests, ", "))
		}
	}
	return o
}

// maxNarrowedRun bounds the pattern NarrowToHostRun makes: its base64 must
// leave room on the kernel command line (maxCmdline) for the rest.
const maxNarrowedRun = 1000

// NarrowToHostRun narrows opts to the guest tests whose host subtests a
// go test -run pattern for the host (hostRun, e.g. "TestTestbed/SeedDR$"
// or "TestTestbed/director_kernel/Sysctl") selects, so that the VM runs
// only what the host will report. Host subtests are named as Outcome.Label
// says, in levels: a scenario's label, or a guest package's Name then the
// test's name. A pattern without subtest levels changes nothing, and
// neither does one that selects every planned test.
func NarrowToHostRun(img *Image, opts RunOptions, hostRun string) (RunOptions, error) {
	parts := splitTestPattern(hostRun)
	if len(parts) < 2 {
		return opts, nil
	}
	var res []*regexp.Regexp
	for _, p := range parts[1:] {
		re, err := regexp.Compile(p)
		if err != nil {
			return opts, fmt.Errorf("host test pattern %q: %w", hostRun, err)
		}
		res = append(res, re)
	}
	matches := func(levels ...string) bool {
		for i, l := range levels {
			if i < len(res) && !res[i].MatchString(l) {
				return false
			}
		}
		return true
	}
	plan, err := Plan(img, opts)
	if err != nil {
		return opts, err
	}
	var pkgs, tests []string
	all := true
	for _, pg := range plan {
		var mine []string
		for _, t := range pg.Selected {
			ok := false
			if pg.Name == ScenarioGuest {
				ok = matches(ScenarioLabel(t))
			} else {
				ok = matches(pg.Name, t)
			}
			if ok {
				mine = append(mine, t)
			} else {
				all = false
			}
		}
		if len(mine) > 0 {
			pkgs = append(pkgs, pg.Name)
			tests = append(tests, mine...)
		} else if len(pg.Selected) > 0 {
			all = false
		}
	}
	if all {
		return opts, nil
	}
	if len(tests) == 0 {
		return opts, fmt.Errorf("the host pattern %q selects no guest test", hostRun)
	}
	run := "^(" + strings.Join(tests, "|") + ")$"
	if sub := splitTestPattern(opts.Run)[1:]; len(sub) > 0 {
		run += "/" + strings.Join(sub, "/")
	}
	if len(run) > maxNarrowedRun {
		// Too long for the kernel command line: run more than the
		// host reports rather than nothing.
		return opts, nil
	}
	opts.Packages, opts.Run = pkgs, run
	return opts, nil
}
