//go:build testbed

package e2e

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/lvsd/lb/e2e/vm"
)

// TestSystemdVM boots the systemd kind of VM (vm.BuildSystemd: a Debian
// root with systemd as PID 1, the packages of "make deb" installed by dpkg
// inside it) and reports each of its guest tests (e2e/systemdvm, build tag
// testbed_systemd) as a subtest: TestSystemdVM/TestSystemdLbd. E2E_RUN
// selects among them (a go test -run pattern of the guest tests). Needs
// root, qemu and mmdebstrap (the root file system, built once and cached
// in the testbed's cache directory). make test-systemd.
func TestSystemdVM(t *testing.T) {
	si, err := vm.BuildSystemd(t.Context(), vm.SystemdOptions{Logger: slog.New(slog.NewTextHandler(logWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd VM: root file system %s (cached %t, %s), packages %v (%s), guest tests %v (%s), initramfs %s %.1f MiB (cached %t); build %s",
		si.Disk, si.RootfsCached, si.RootfsTime.Round(time.Millisecond), si.Debs, si.DebTime.Round(time.Millisecond),
		si.Tests, si.GoTime.Round(time.Millisecond), si.Initrd, float64(si.Size)/(1<<20), si.Cached, si.BuildTime.Round(time.Millisecond))
	run := os.Getenv("E2E_RUN")
	outcomes, err := vm.SystemdOutcomes(si, run, &vm.Result{})
	if err != nil {
		t.Fatal(err)
	}
	opts := vm.RunOptions{Run: run, MemoryMB: 1024, Timeout: 15 * time.Minute}
	if dl, ok := t.Deadline(); ok && time.Until(dl)-15*time.Second < opts.Timeout {
		opts.Timeout = time.Until(dl) - 15*time.Second
	}
	res, bootErr := vm.Boot(t.Context(), si.Image, opts)
	if res == nil {
		t.Fatal(bootErr)
	}
	t.Logf("VM: boot to the first test (systemd up, multi-user) %s, whole run %s, guest exit %d, console log %s",
		res.BootTime.Round(time.Millisecond), res.Duration.Round(time.Millisecond), res.ExitCode, res.LogPath)
	if outcomes, err = vm.SystemdOutcomes(si, run, res); err != nil {
		t.Fatal(err)
	}
	for _, o := range outcomes {
		name := o.Test
		if name == "" {
			name = o.Guest
		}
		t.Run(name, func(t *testing.T) { judge(t, o, res) })
	}
	if bootErr != nil {
		t.Fatalf("%v\nconsole tail:\n%s", bootErr, res.Tail(60))
	}
	if res.ExitCode != 0 && !t.Failed() {
		t.Errorf("the guest run exited with %d though no test failed; console tail:\n%s", res.ExitCode, res.Tail(60))
	}
}
