package netnslab

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetnsDir is where named network namespaces are bind-mounted, as iproute2
// does ("ip netns"). On Debian /var/run is a link to /run; the VM's /init
// makes the same link.
const NetnsDir = "/run/netns"

// prepareNetnsDir makes dir exist and be a shared mount point, the way
// "ip netns add" prepares it, so namespace bind mounts made under it are seen
// by every mount namespace that shares it. A file lock on the directory
// keeps concurrent test processes from stacking bind mounts.
func prepareNetnsDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer d.Close()
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", dir, err)
	}
	defer unix.Flock(int(d.Fd()), unix.LOCK_UN) //nolint:errcheck // closing the fd unlocks anyway

	mounted, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	if mounted {
		return nil
	}
	if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting %s onto itself: %w", dir, err)
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making %s a shared mount: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether path is listed as a mount point in
// /proc/self/mountinfo.
func isMountPoint(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	clean := filepath.Clean(path)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		if mountPointField(sc.Text()) == clean {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("reading mount table: %w", err)
	}
	return false, nil
}

// mountPointField returns the mount point (fifth field) of a mountinfo
// line, with the kernel's octal escapes (\040 for space...) decoded.
func mountPointField(line string) string {
	fields := strings.Fields(line)
	if len(fields) < 5 {
		return ""
	}
	return unescapeMountinfo(fields[4])
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// createNamedNetns creates a new network namespace and bind-mounts it on
// path (which must not exist). The namespace is made on a throw-away OS
// thread: the goroutine locks its thread and exits without unlocking it,
// so the Go runtime discards the thread and no other goroutine ever runs in
// the new namespace by accident.
func createNamedNetns(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("creating namespace file %s: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked on purpose, see above
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind-mounting the new namespace on %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// deleteNamedNetns unmounts and removes a namespace created by
// createNamedNetns. The kernel frees the namespace (and destroys its veths)
// once nothing else holds it.
func deleteNamedNetns(path string) error {
	var errs []error
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("unmounting %s: %w", path, err))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing %s: %w", path, err))
	}
	return errors.Join(errs...)
}

// doIn runs fn with the calling goroutine's OS thread switched into ns, and
// switches back afterwards. If switching back fails, the thread stays
// locked so that the Go runtime destroys it when the goroutine exits rather
// than reuse a thread in the wrong namespace.
func doIn(ns netns.NsHandle, fn func() error) (err error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("reading the thread's current network namespace: %w", err)
	}
	if err := netns.Set(ns); err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		return fmt.Errorf("entering network namespace: %w", err)
	}
	defer func() {
		rerr := netns.Set(orig)
		orig.Close()
		if rerr != nil {
			err = errors.Join(err, fmt.Errorf("returning to the original network namespace (thread discarded): %w", rerr))
			return
		}
		runtime.UnlockOSThread()
	}()
	return fn()
}
