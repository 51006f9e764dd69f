package vm

import (
	"slices"
	"strings"
	"testing"
)

// TestQemuArgsDisk: an image with a Disk attaches it as a virtio disk with
// snapshot=on (the cached root file system is never written); without one
// there is no -drive.
func TestQemuArgsDisk(t *testing.T) {
	for _, tc := range []struct {
		name, disk, want string
	}{
		{"none", "", ""},
		{"systemd", "/c/systemd-rootfs-1.ext4", "file=/c/systemd-rootfs-1.ext4,if=virtio,format=raw,snapshot=on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := &Image{Kernel: Kernel{Image: "/boot/vmlinuz"}, Initrd: "/c/i.cpio", Disk: tc.disk}
			args := qemuArgs(img, 1024, 1, false, "console=ttyS0")
			i := slices.Index(args, "-drive")
			switch {
			case tc.want == "" && i >= 0:
				t.Errorf("args %q: a -drive without a disk", args)
			case tc.want != "" && (i < 0 || i+1 >= len(args) || args[i+1] != tc.want):
				t.Errorf("args %q: want -drive %s", args, tc.want)
			}
		})
	}
}

// TestSystemdOutcomes: the run pattern selects among the systemd guest
// tests; a test the console never reported is NOT RUN, one that passed
// PASS; a pattern matching nothing is an error.
func TestSystemdOutcomes(t *testing.T) {
	si := &SystemdImage{Image: &Image{}, Tests: []string{"TestSystemdInstall", "TestSystemdLbd", "TestSystemdLbrs"}}
	console := []string{markerStart, markerPackage + " " + SystemdGuest, "=== RUN   TestSystemdLbd",
		"--- PASS: TestSystemdLbd (1.00s)", markerPackageExit + " " + SystemdGuest + " 0", markerExit + " 0"}
	tests, pkgs, code := ParseConsole(console)
	res := &Result{Tests: tests, Packages: pkgs, ExitCode: code}
	for _, tc := range []struct {
		run     string
		want    map[string]Status
		wantErr string
	}{
		{"Lbd$", map[string]Status{"TestSystemdLbd": StatusPass}, ""},
		{"", map[string]Status{"TestSystemdInstall": StatusNotRun, "TestSystemdLbd": StatusPass, "TestSystemdLbrs": StatusNotRun}, ""},
		{"Nothing", nil, "no systemd guest test matches"},
		{"(", nil, "test pattern"},
	} {
		got, err := SystemdOutcomes(si, tc.run, res)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("run %q: error %v, want %q", tc.run, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("run %q: %v", tc.run, err)
		}
		m := map[string]Status{}
		for _, o := range got {
			m[o.Test] = o.Status
		}
		if len(m) != len(tc.want) {
			t.Errorf("run %q: outcomes %v, want %v", tc.run, m, tc.want)
		}
		for k, v := range tc.want {
			if m[k] != v {
				t.Errorf("run %q: %s %s, want %s", tc.run, k, m[k], v)
			}
		}
	}
}
