//go:build testbed

package e2e

import (
	"flag"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/e2e/vm"
	"github.com/lvsd/lb/internal/zklab"
)

// logWriter sends slog output to t.Log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestTestbed builds the initramfs, boots ONE VM that runs every guest
// package's testbed_guest tests one package after another (E2E_RUN and
// E2E_PKGS select, and so does go test -run at the subtest levels; default
// all) and reports each test as a subtest
// carrying its own log: scenarios flat (TestTestbed/SeedDR), other
// packages one level down (TestTestbed/director_kernel/TestTestbedSysctl).
// A guest test that skips (itself or a subtest) in the VM fails here: a
// missing kernel feature fails the test that needs it. A guest package
// whose test binary does not build fails its subtest
// (TestTestbed/director_kernel) with the compiler's output while the
// others still run; so does a VM bench that does not build
// (TestTestbed/bench/ipvsbench). A run selecting a ZooKeeper test
// (vm.NeedsZooKeeper) first starts a host ensemble (internal/zklab) that
// the guest reaches over qemu's user network. A VM that dies or times out fails the
// test with the tail of the console.
func TestTestbed(t *testing.T) {
	buildOpts, runOpts, err := vm.OptionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	buildOpts.Logger = slog.New(slog.NewTextHandler(logWriter{t}, nil))
	img, err := vm.Build(t.Context(), buildOpts)
	if err != nil {
		t.Fatal(err)
	}
	var guests []string
	for _, g := range img.Guests {
		guests = append(guests, g.Name)
	}
	t.Logf("initramfs %s: %.1f MiB, cached %t, build %s (go builds %s, packing %s); guest packages %v; commands %v; not included: %v",
		img.Initrd, float64(img.Size)/(1<<20), img.Cached, img.BuildTime.Round(time.Millisecond),
		img.GoTime.Round(time.Millisecond), img.PackTime.Round(time.Millisecond), guests, img.Commands, img.Skipped)
	judgeBenchBuilds(t, img)

	// "go test -run TestTestbed/SeedDR$" boots a VM that runs SeedDR only.
	if f := flag.Lookup("test.run"); f != nil {
		if runOpts, err = vm.NarrowToHostRun(img, runOpts, f.Value.String()); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := vm.Plan(img, runOpts)
	if err != nil {
		t.Fatal(err)
	}
	if vm.PlannedTests(plan) == 0 && len(vm.Outcomes(plan, &vm.Result{})) == 0 {
		t.Fatalf("no guest test matches E2E_RUN=%q in packages %v", runOpts.Run, guests)
	}
	if vm.NeedsZooKeeper(plan) {
		e := zklab.Start(t, zklab.Options{}) // fails the run when zookeeperd is missing
		if runOpts, err = vm.WithZooKeeper(runOpts, e.Servers()); err != nil {
			t.Fatal(err)
		}
		t.Logf("ZooKeeper ensemble %v for the guest (%s=%s)", e.Servers(), vm.ZooKeeperEnv, runOpts.Env[vm.ZooKeeperEnv])
	}
	res, runnable, bootErr := boot(t, img, plan, runOpts)
	judgePlan(t, plan, res)
	if bootErr != nil {
		t.Fatalf("%v\nconsole tail:\n%s", bootErr, res.Tail(40))
	}
	if runnable > 0 && res.ExitCode != 0 && !t.Failed() {
		t.Errorf("the guest run exited with %d though no test failed; console tail:\n%s", res.ExitCode, res.Tail(40))
	}
}

// judgeBenchBuilds makes one subtest per VM bench (TestTestbed/bench/NAME):
// it fails with the compiler's output when the bench's command did not
// build into the image. The benches themselves run with "testbed bench".
func judgeBenchBuilds(t *testing.T, img *vm.Image) {
	t.Run("bench", func(t *testing.T) {
		for _, b := range img.Benches {
			t.Run(b.Name, func(t *testing.T) { t.Logf("%s (%s) is in the image", b.Name, b.Package) })
		}
		for _, name := range slices.Sorted(maps.Keys(img.BenchErrors)) {
			t.Run(name, func(t *testing.T) { t.Errorf("bench %s is not in the image: %v", name, img.BenchErrors[name]) })
		}
	})
}

// boot runs the plan's tests in one VM, within the test's deadline, and
// returns the result (ExitCode -1 when nothing was runnable), the number
// of runnable tests, and the error of a VM that died or timed out.
func boot(t *testing.T, img *vm.Image, plan []vm.PlannedGuest, runOpts vm.RunOptions) (*vm.Result, int, error) {
	runnable := 0
	for _, pg := range plan {
		if pg.BuildError == nil {
			runnable += len(pg.Selected)
		}
	}
	if runnable == 0 {
		return &vm.Result{ExitCode: -1}, 0, nil
	}
	if dl, ok := t.Deadline(); ok {
		left := time.Until(dl) - 15*time.Second
		if runOpts.Timeout == 0 || runOpts.Timeout > left {
			runOpts.Timeout = left
		}
	}
	res, bootErr := vm.Boot(t.Context(), img, runOpts)
	if res == nil {
		t.Fatal(bootErr)
	}
	t.Logf("VM: %d test(s) in %d package(s), boot to first test %s, whole run %s, guest exit %d, console log %s",
		runnable, len(plan), res.BootTime.Round(time.Millisecond), res.Duration.Round(time.Millisecond), res.ExitCode, res.LogPath)
	return res, runnable, bootErr
}

// judgePlan makes the subtests: one per planned test (scenarios flat,
// other packages one level down) and one per guest package that failed
// as a whole.
func judgePlan(t *testing.T, plan []vm.PlannedGuest, res *vm.Result) {
	outcomes := vm.Outcomes(plan, res)
	for _, pg := range plan {
		var mine []vm.Outcome
		for _, o := range outcomes {
			if o.Guest == pg.Name {
				mine = append(mine, o)
			}
		}
		if len(mine) == 0 {
			continue
		}
		if pg.Name == vm.ScenarioGuest {
			for _, o := range mine {
				t.Run(o.Label(), func(t *testing.T) { judge(t, o, res) })
			}
			continue
		}
		t.Run(pg.Name, func(t *testing.T) {
			for _, o := range mine {
				if o.Test == "" {
					judge(t, o, res)
					continue
				}
				t.Run(o.Test, func(t *testing.T) { judge(t, o, res) })
			}
		})
	}
}

// judge turns an outcome into the subtest's verdict, with the guest's
// output in the log.
func judge(t *testing.T, o vm.Outcome, res *vm.Result) {
	t.Helper()
	if o.Test != "" && o.Status != vm.StatusNotRun && o.Status != vm.StatusNoResult {
		t.Logf("ran %s in the VM", o.Elapsed)
	}
	if len(o.Output) > 0 {
		t.Log("guest output:\n" + strings.Join(o.Output, "\n"))
	}
	switch o.Status {
	case vm.StatusPass:
	case vm.StatusFail, vm.StatusSkip: // a skip in the VM is a missing feature: it fails here
		t.Error(o.Detail)
	default:
		t.Errorf("%s (%s); console tail:\n%s", o.Detail, o.Status, res.Tail(40))
	}
}
