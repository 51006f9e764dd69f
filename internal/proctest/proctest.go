// Package proctest is test infrastructure for the process-tracking tests
// (vrrp's track_process, lbd's): a binary under a name no other process on
// the host has, so that only the test's own processes match it.
package proctest

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CopiedSleep copies sleep into dir as prefix + this process's id (mod
// 100000) and returns the copy's path and name (its comm: keep prefix within
// 10 bytes so the name fits the kernel's 15). It fails tb at once on error.
func CopiedSleep(tb testing.TB, dir, prefix string) (path, comm string) {
	tb.Helper()
	src, err := exec.LookPath("sleep")
	if err != nil {
		tb.Fatalf("sleep is needed: %v", err)
	}
	comm = fmt.Sprintf("%s%d", prefix, os.Getpid()%100000)
	path = filepath.Join(dir, comm)
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	return path, comm
}
