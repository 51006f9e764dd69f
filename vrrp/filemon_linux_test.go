package vrrp

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nextFileEvent returns the next event of ch for path, failing after 5 s.
func nextFileEvent(t *testing.T, ch <-chan FileEvent, want func(FileEvent) bool) FileEvent {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-ch:
			if want(e) {
				return e
			}
		case <-deadline:
			t.Fatal("timed out waiting for a track file event")
		}
	}
}

func TestLinuxFilesWatch(t *testing.T) {
	dir := t.TempDir()
	watched, polled := filepath.Join(dir, "w"), filepath.Join(dir, "later", "p")
	var logs lockedBuffer
	l := &LinuxFiles{PollInterval: 20 * time.Millisecond, Log: quietLogTo(&logs)}
	if err := l.Create(watched, []byte("3\n"), false); err != nil {
		t.Fatal(err)
	}
	if err := l.Create(watched, []byte("4\n"), false); err != nil { // exists: kept
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := l.Watch(ctx, []string{watched, polled})
	if err != nil {
		t.Fatal(err)
	}
	is := func(p, data string, missing bool) func(FileEvent) bool {
		return func(e FileEvent) bool { return e.Path == p && string(e.Data) == data && e.Missing == missing }
	}
	nextFileEvent(t, ch, is(watched, "3\n", false)) // read at once
	nextFileEvent(t, ch, is(polled, "", true))
	// Its directory does not exist: inotify cannot watch it, it is read
	// every PollInterval, and the log says so.
	if !strings.Contains(logs.String(), "reading the file periodically") {
		t.Errorf("no log line says the file is polled:\n%s", logs.String())
	}
	if err := os.MkdirAll(filepath.Dir(polled), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(polled, []byte("9"), 0o644); err != nil {
		t.Fatal(err)
	}
	nextFileEvent(t, ch, is(polled, "9", false))
	if err := l.Create(watched, []byte("5\n"), true); err != nil { // overwrite
		t.Fatal(err)
	}
	nextFileEvent(t, ch, is(watched, "5\n", false))
	// A rename over it and a removal are seen (a missing file is 0).
	if err := os.WriteFile(watched+".new", []byte("6"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(watched+".new", watched); err != nil {
		t.Fatal(err)
	}
	nextFileEvent(t, ch, is(watched, "6", false))
	if err := os.Remove(watched); err != nil {
		t.Fatal(err)
	}
	nextFileEvent(t, ch, is(watched, "", true))
}
