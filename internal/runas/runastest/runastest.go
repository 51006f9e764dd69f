// Package runastest gives the root tests of the packages that run
// configured commands a script that records who it ran as.
package runastest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// IDScript writes, in a fresh directory every user can enter, a script
// that writes "uid:gid" (id -u, id -g) to the file given as its first
// argument, and that file (empty, writable by all). It needs root: the
// callers run it as other users.
func IDScript(t *testing.T) (script, out string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (it runs a script as another user)")
	}
	dir := t.TempDir()
	for d := dir; d != filepath.Clean(os.TempDir()) && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script = filepath.Join(dir, "id.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$(id -u):$(id -g)\" > \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(dir, "out")
	if err := os.WriteFile(out, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(out, 0o666); err != nil { // past the umask
		t.Fatal(err)
	}
	return script, out
}

// ID returns what the script wrote to out ("" if it has not run), waiting
// up to wait for it.
func ID(t *testing.T, out string, wait time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.TrimSpace(string(b)); s != "" || time.Now().After(deadline) {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
}
