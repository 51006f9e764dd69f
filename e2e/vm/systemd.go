package vm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The systemd kind of VM (issue 18): the same Debian kernel booted from a
// small initramfs that loads the modules, mounts a Debian root file system
// (a disk image built once with mmdebstrap and cached) and switch_roots into
// /lib/systemd/systemd. The packages "make deb" builds (deploy/cmd/mkdeb) and
// the guest test binary of SystemdPackage travel in the initramfs; the init
// copies them onto the root (the disk is attached with snapshot=on, so every
// boot starts from the image as built) with a unit that runs the tests once
// the system is up, prints them on the serial console between the usual
// markers and powers off.
const (
	// SystemdTag is the build tag of the systemd VM's guest tests.
	SystemdTag = "testbed_systemd"
	// SystemdPackage holds them.
	SystemdPackage = "./e2e/systemdvm"
	// SystemdGuest is their package name in the results.
	SystemdGuest = "systemd"
	// SystemdGuestDir is where the guest finds the .debs and its tests.
	SystemdGuestDir = "/root/lbtestbed"
)

// The root file system: Debian 12 minbase with systemd as init and the
// tools the tests use (ipvsadm and tcpdump to watch, procps for the units'
// /bin/kill). Change rootfsVersion when customizeRootfs changes: it is part
// of the cached image's name.
var (
	rootfsSuite    = "bookworm"
	rootfsPackages = []string{"systemd", "systemd-sysv", "iproute2", "kmod", "procps", "tcpdump", "ipvsadm"}
)

const rootfsVersion = "1"

// SystemdOptions configure BuildSystemd; the zero value builds from the
// module containing the working directory into DefaultCacheDir().
type SystemdOptions struct {
	ModuleDir string
	CacheDir  string
	Kernel    Kernel
	Logger    *slog.Logger
}

// SystemdImage is a bootable systemd VM: Image.Disk is the root file
// system, Image.Initrd the initramfs holding the packages and the tests.
type SystemdImage struct {
	*Image
	Debs  []string // the package files installed in the guest (base names)
	Tests []string // the guest tests, in the order they run
	// RootfsCached is true when the root file system came from the
	// cache; RootfsTime is what getting it took (mmdebstrap and mke2fs
	// when not cached), DebTime building the packages, GoTime the guest
	// test binary.
	RootfsCached                bool
	RootfsTime, DebTime, GoTime time.Duration
}

// BuildSystemd builds the packages (go run ./deploy/cmd/mkdeb: the code of
// "make deb", from the committed HEAD), the guest tests of SystemdPackage
// (go test -c -tags testbed_systemd), the root file system (cached by its
// package list) and the initramfs.
func BuildSystemd(ctx context.Context, opts SystemdOptions) (*SystemdImage, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep, err := CheckHost()
	if err != nil {
		return nil, err
	}
	bo := BuildOptions{ModuleDir: opts.ModuleDir, CacheDir: opts.CacheDir, Kernel: opts.Kernel}
	goBin, err := completeOptions(ctx, &bo, rep)
	if err != nil {
		return nil, err
	}
	unlock, err := lockDir(bo.CacheDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	si := &SystemdImage{Image: &Image{Kernel: bo.Kernel, CacheDir: bo.CacheDir}}
	work, err := os.MkdirTemp(bo.CacheDir, ".systemd-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)

	step := time.Now()
	debs, err := buildDebs(ctx, goBin, bo.ModuleDir, filepath.Join(work, "deb"))
	if err != nil {
		return nil, err
	}
	si.DebTime, step = time.Since(step), time.Now()
	testBin := filepath.Join(work, "systemd.test")
	if si.Tests, err = buildSystemdTests(ctx, goBin, bo.ModuleDir, testBin); err != nil {
		return nil, err
	}
	si.GoTime, step = time.Since(step), time.Now()
	if si.Disk, si.RootfsCached, err = systemdRootfs(ctx, bo.CacheDir, log); err != nil {
		return nil, err
	}
	si.RootfsTime = time.Since(step)
	for _, d := range debs {
		si.Debs = append(si.Debs, filepath.Base(d))
	}
	if err := packSystemd(ctx, rep, si, debs, testBin, log); err != nil {
		return nil, err
	}
	si.BuildTime = time.Since(start)
	return si, nil
}

// buildDebs runs mkdeb into out and returns the package files.
func buildDebs(ctx context.Context, goBin, moduleDir, out string) ([]string, error) {
	cmd := exec.CommandContext(ctx, goBin, "run", "./deploy/cmd/mkdeb", "-o", out)
	cmd.Dir = moduleDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the packages (go run ./deploy/cmd/mkdeb): %w\n%s", err, b)
	}
	debs, err := filepath.Glob(filepath.Join(out, "*.deb"))
	if err != nil || len(debs) == 0 {
		return nil, fmt.Errorf("mkdeb wrote no package into %s", out)
	}
	return debs, nil
}

// buildSystemdTests compiles SystemdPackage's guest tests into bin and
// lists them (the static binary's -test.list, run on the host).
func buildSystemdTests(ctx context.Context, goBin, moduleDir, bin string) ([]string, error) {
	cmd := exec.CommandContext(ctx, goBin, append(append([]string{"test", "-c", "-tags", SystemdTag}, goFlags()...),
		"-o", bin, SystemdPackage)...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the systemd guest tests (%s): %w\n%s", SystemdPackage, err, b)
	}
	out, err := exec.CommandContext(ctx, bin, "-test.list", ".").Output()
	if err != nil {
		return nil, fmt.Errorf("listing the systemd guest tests: %w", err)
	}
	var tests []string
	for _, l := range strings.Split(string(out), "\n") {
		if isTestName(strings.TrimSpace(l)) {
			tests = append(tests, strings.TrimSpace(l))
		}
	}
	return tests, nil
}

// rootfsKey names the root file system by what it is built from.
func rootfsKey() string {
	h := sha256.Sum256([]byte(rootfsSuite + "\n" + strings.Join(rootfsPackages, ",") + "\n" + rootfsVersion))
	return hex.EncodeToString(h[:8])
}

// systemdRootfs returns the cached root file system image, building it
// first when absent: mmdebstrap (minbase, rootfsPackages) into a
// directory, customizeRootfs, then mke2fs -d into a 1 GiB sparse ext4
// image, renamed into place once complete.
func systemdRootfs(ctx context.Context, cacheDir string, log *slog.Logger) (string, bool, error) {
	img := filepath.Join(cacheDir, "systemd-rootfs-"+rootfsKey()+".ext4")
	if _, err := os.Stat(img); err == nil {
		now := time.Now()
		os.Chtimes(img, now, now)
		return img, true, nil
	}
	var missing []Missing
	tools := map[string]string{}
	for name, pkg := range map[string]string{"mmdebstrap": "mmdebstrap", "mke2fs": "e2fsprogs"} {
		p, err := lookTool(name)
		if err != nil {
			missing = append(missing, Missing{What: "the program " + name + " (the systemd VM's root file system)", Package: pkg})
		}
		tools[name] = p
	}
	if len(missing) > 0 {
		return "", false, &MissingError{Items: missing}
	}
	dir, err := os.MkdirTemp(cacheDir, ".rootfs-")
	if err != nil {
		return "", false, fmt.Errorf("rootfs work directory: %w", err)
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	log.Info("building the systemd VM's root file system", "suite", rootfsSuite, "packages", rootfsPackages)
	args := []string{"--variant=minbase", "--include=" + strings.Join(rootfsPackages, ","), rootfsSuite, root}
	if m := os.Getenv("E2E_DEBIAN_MIRROR"); m != "" {
		args = append(args, m) // mmdebstrap's MIRROR: a URI or a "deb ..." line; default deb.debian.org
	}
	if b, err := exec.CommandContext(ctx, tools["mmdebstrap"], args...).CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("mmdebstrap %s: %w\n%s", strings.Join(args, " "), err, tail(b, 40))
	}
	if err := customizeRootfs(root); err != nil {
		return "", false, err
	}
	tmp := filepath.Join(dir, "rootfs.ext4")
	mk := []string{"-q", "-F", "-t", "ext4", "-L", "lbsystemd", "-d", root, tmp, "1G"}
	if b, err := exec.CommandContext(ctx, tools["mke2fs"], mk...).CombinedOutput(); err != nil {
		return "", false, fmt.Errorf("mke2fs %s: %w\n%s", strings.Join(mk, " "), err, b)
	}
	if err := os.Rename(tmp, img); err != nil {
		return "", false, fmt.Errorf("storing the root file system: %w", err)
	}
	pruneOld(filepath.Join(cacheDir, "systemd-rootfs-*.ext4"), 1)
	return img, false, nil
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// customizeRootfs makes the root boot quickly and quietly on the serial
// console: no gettys (the console carries the tests' output), no timers,
// no logind (there is no D-Bus), a fixed machine-id (no first-boot work)
// and host name.
func customizeRootfs(root string) error {
	at := func(p string) string { return filepath.Join(root, p) }
	for _, d := range []string{"etc/systemd/system/getty.target.wants", "etc/systemd/system/timers.target.wants"} {
		if err := os.RemoveAll(at(d)); err != nil {
			return fmt.Errorf("rootfs: %w", err)
		}
	}
	os.Remove(at("etc/systemd/system/multi-user.target.wants/e2scrub_reap.service"))
	for _, u := range []string{"serial-getty@ttyS0.service", "getty@tty1.service", "systemd-logind.service",
		"console-getty.service", "systemd-pstore.service"} {
		p := at("etc/systemd/system/" + u)
		os.Remove(p)
		if err := os.Symlink("/dev/null", p); err != nil {
			return fmt.Errorf("rootfs: masking %s: %w", u, err)
		}
	}
	files := map[string]string{
		"etc/hostname":   "lbsystemd\n",
		"etc/hosts":      "127.0.0.1\tlocalhost lbsystemd\n::1\tlocalhost\n",
		"etc/machine-id": "6c6273797374656d6474657374626564\n",
		"etc/fstab":      "# the systemd VM's root is mounted by the initramfs (e2e/vm/systemd.go)\n",
	}
	for p, data := range files {
		if err := os.WriteFile(at(p), []byte(data), 0o644); err != nil {
			return fmt.Errorf("rootfs: %w", err)
		}
	}
	return os.MkdirAll(at("etc/lbtestbed"), 0o755)
}

// systemdModules are guestModules plus what mounting the root disk needs.
func systemdModules() []guestModule {
	return append(guestModules(), guestModule{"virtio_pci", true}, guestModule{"virtio_blk", true},
		guestModule{"ext4", true})
}

// packSystemd lays out and writes (or reuses) the systemd VM's initramfs:
// busybox, the modules, the packages, the tests, the guest unit and /init.
func packSystemd(ctx context.Context, rep *HostReport, si *SystemdImage, debs []string, testBin string, log *slog.Logger) error {
	t := newTree()
	if err := baseLayout(t); err != nil {
		return err
	}
	if err := addBusybox(ctx, t, rep.Tools["busybox"], rep.Tools); err != nil {
		return err
	}
	if err := addModules(ctx, t, rep.Tools["modprobe"], si.Kernel, si.Image, systemdModules()); err != nil {
		return err
	}
	for _, d := range debs {
		t.addFile("/lbsystemd/"+filepath.Base(d), d, 0o644)
	}
	t.addFile("/lbsystemd/systemd.test", testBin, 0o755)
	t.addData("/lbsystemd/run", []byte(systemdRunScript), 0o755)
	t.addData("/lbsystemd/lbtestbed-systemd.service", []byte(systemdUnit), 0o644)
	t.addData("/init", []byte(systemdInitScript), 0o755)
	key, err := t.hash()
	if err != nil {
		return err
	}
	si.Key = key[:16]
	si.Initrd = filepath.Join(si.CacheDir, "systemd-initramfs-"+si.Key+".cpio")
	if st, err := os.Stat(si.Initrd); err == nil {
		si.Cached, si.Size = true, st.Size()
		return nil
	}
	step := time.Now()
	if err := writeArchive(t, si.Initrd, 0); err != nil {
		return err
	}
	si.PackTime = time.Since(step)
	st, err := os.Stat(si.Initrd)
	if err != nil {
		return fmt.Errorf("stat of the new initramfs: %w", err)
	}
	si.Size = st.Size()
	pruneOld(filepath.Join(si.CacheDir, "systemd-initramfs-*.cpio"), 2)
	log.Info("systemd initramfs built", "path", si.Initrd, "size", si.Size)
	return nil
}

// SystemdOutcomes turns a boot of a SystemdImage into one outcome per
// guest test of the run's selection (run: a go test -run pattern of the
// guest tests, "" for all), as Outcomes does for the testbed.
func SystemdOutcomes(si *SystemdImage, run string, res *Result) ([]Outcome, error) {
	sel := si.Tests
	if run != "" {
		parts := splitTestPattern(run)
		re, err := regexp.Compile(parts[0])
		if err != nil {
			return nil, fmt.Errorf("test pattern %q: %w", run, err)
		}
		sel = slices.DeleteFunc(slices.Clone(sel), func(n string) bool { return !re.MatchString(n) })
	}
	if len(sel) == 0 {
		return nil, errors.New("no systemd guest test matches " + run)
	}
	plan := []PlannedGuest{{Guest: Guest{Name: SystemdGuest, Package: SystemdPackage, Tests: si.Tests}, Selected: sel}}
	return Outcomes(plan, res), nil
}

// systemdInitScript is the systemd VM's /init: modules, the root disk,
// the packages and tests copied onto it with the unit that runs them, the
// E2E_* variables in /etc/lbtestbed/env, then systemd.
const systemdInitScript = `#!/bin/sh
# /init of the lbtestbed systemd initramfs, written by e2e/vm (systemd.go).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "` + markerBoot + ` kernel $(uname -r), $(nproc) cpu(s), $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB (systemd VM)"
fail() {
	echo "lbtestbed: $*"
	echo "` + markerExit + ` 3"
	poweroff -f
}
` + insmodModules + `i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
mkdir -p /newroot
mount -t ext4 /dev/vda /newroot || fail "cannot mount the root disk /dev/vda"
dst=/newroot` + SystemdGuestDir + `
mkdir -p "$dst" /newroot/etc/lbtestbed /newroot/etc/systemd/system/multi-user.target.wants || fail "cannot write the root disk"
cp /lbsystemd/* "$dst"/ || fail "cannot copy the tests"
# The modules, for modprobe in the guest (lbrs loads ipip in tun mode).
mkdir -p /newroot/lib/modules && cp -a /lib/modules/. /newroot/lib/modules/ || fail "cannot copy the modules"
env | grep '^E2E_' > /newroot/etc/lbtestbed/env
mv "$dst/lbtestbed-systemd.service" /newroot/etc/systemd/system/
ln -sf ../lbtestbed-systemd.service /newroot/etc/systemd/system/multi-user.target.wants/lbtestbed-systemd.service
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /lib/systemd/systemd
`

// systemdUnit runs the guest tests once the system is up, on the serial
// console.
const systemdUnit = `[Unit]
Description=lbtestbed: the systemd VM's guest tests (e2e/vm/systemd.go)

[Service]
Type=oneshot
EnvironmentFile=-/etc/lbtestbed/env
ExecStart=` + SystemdGuestDir + `/run
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TTYReset=no
TTYVHangup=no
`

// systemdRunScript is the unit's program: the tests between the console
// markers the host reads, then power off.
const systemdRunScript = `#!/bin/sh
cd ` + SystemdGuestDir + ` || exit 1
top=$(printf %s "${E2E_RUN:-}" | base64 -d 2>/dev/null)
[ -n "$top" ] || top=.
sub=$(printf %s "${E2E_SUB:-}" | base64 -d 2>/dev/null)
re="$top"
[ -z "$sub" ] || re="$top/$sub"
echo "` + markerStart + `"
echo "` + markerPackage + ` ` + SystemdGuest + `"
./systemd.test -test.v -test.run "$re" -test.timeout "${E2E_TIMEOUT:-600}s" </dev/null
rc=$?
echo
echo "` + markerPackageExit + ` ` + SystemdGuest + ` $rc"
echo "` + markerExit + ` $rc"
sync
systemctl poweroff --force --force
`
