//go:build testbed

package e2e

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/e2e/vm"
)

// logWriter sends slog output to t.Log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestTestbed builds the initramfs, boots ONE VM for every selected
// scenario (E2E_RUN, default all) and reports each scenario as a subtest
// carrying the scenario's own log. A VM that dies or times out fails the
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
	t.Logf("initramfs %s: %.1f MiB, cached %t, build %s (go builds %s, packing %s); commands %v; not included: %v",
		img.Initrd, float64(img.Size)/(1<<20), img.Cached, img.BuildTime.Round(time.Millisecond),
		img.GoTime.Round(time.Millisecond), img.PackTime.Round(time.Millisecond), img.Commands, img.Skipped)

	names, err := vm.ListScenarios(t.Context(), img, runOpts.Run)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("no scenario matches E2E_RUN=%q", runOpts.Run)
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
	t.Logf("VM: %d scenario(s), boot to first scenario %s, whole run %s, guest exit %d, console log %s",
		len(names), res.BootTime.Round(time.Millisecond), res.Duration.Round(time.Millisecond), res.ExitCode, res.LogPath)

	for _, name := range names {
		t.Run(strings.TrimPrefix(name, "TestScenario"), func(t *testing.T) {
			sc, ok := res.Scenario(name)
			if !ok {
				t.Fatalf("%s never started in the VM; console tail:\n%s", name, res.Tail(40))
			}
			if len(sc.Output) > 0 {
				t.Log("guest output:\n" + strings.Join(sc.Output, "\n"))
			}
			switch sc.Status {
			case vm.StatusPass:
			case vm.StatusSkip:
				t.Skipf("%s skipped itself in the VM (see its output)", name)
			case vm.StatusFail:
				t.Errorf("%s failed in the VM after %s", name, sc.Elapsed)
			default:
				t.Errorf("%s started but never finished (%s); console tail:\n%s", name, sc.Status, res.Tail(40))
			}
		})
	}
	if bootErr != nil {
		t.Fatalf("%v\nconsole tail:\n%s", bootErr, res.Tail(40))
	}
	if res.ExitCode != 0 && !t.Failed() {
		t.Errorf("the guest test binary exited with %d though no scenario failed; console tail:\n%s", res.ExitCode, res.Tail(40))
	}
}
