package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeFile writes a generated hostile file of about size bytes: lines
// made by line(i), and returns its path.
func writeFile(t *testing.T, name string, size int, line func(i int) string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		b.WriteString(line(i))
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func unknownKey(i int) string { return fmt.Sprintf("key%d: 1\n", i) }

// TestHostileFiles: every hostile file of issue 12 gets a clear error, at
// most MaxErrors lines and a count, without blocking and with bounded
// allocations (before: 833,558 lines, 545 MB RSS and 24 s for the 479
// bytes of alias-bomb-errors.yaml; /dev/zero exhausted memory; a FIFO
// blocked forever).
func TestHostileFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	director := func(p string) error { _, err := LoadDirector(p); return err }
	agent := func(p string) error { _, err := LoadAgent(p); return err }
	tests := []struct {
		name     string
		path     func(t *testing.T) string
		load     func(string) error
		want     string
		maxAlloc uint64 // bytes allocated by the load
	}{
		{"aliases expanding into errors", func(*testing.T) string { return "testdata/alias-bomb-errors.yaml" }, director,
			"more errors not shown: checking stopped after 1000 errors", 64 << 20},
		{"aliases expanding into valid values", func(*testing.T) string { return "testdata/alias-bomb-valid.yaml" }, director,
			"aliases expand to more than 100000 values", 128 << 20},
		{"50 MB of unknown keys", func(t *testing.T) string { return writeFile(t, "big.yaml", 50<<20, unknownKey) }, director,
			"file too large: larger than 8 MiB", 1 << 20},
		{"8 MiB of unknown keys, under the size limit", func(t *testing.T) string { return writeFile(t, "8m.yaml", 8<<20-64, unknownKey) }, director,
			"document too large", 24 << 20},
		{"1 MB of unknown keys", func(t *testing.T) string { return writeFile(t, "1m.yaml", 1<<20, unknownKey) }, director,
			"more errors not shown: checking stopped after 1000 errors", 256 << 20},
		{"a 1 MB value", func(t *testing.T) string {
			return writeFile(t, "long.yaml", 1, func(int) string { return "global: {log_level: " + strings.Repeat("k", 1<<20) + "}\n" })
		}, director, "... (", 64 << 20},
		{"/dev/zero", func(*testing.T) string { return "/dev/zero" }, director, "not a regular file (a character device)", 1 << 20},
		{"a FIFO", func(*testing.T) string { return fifo }, director, "not a regular file (a FIFO)", 1 << 20},
		{"a directory", func(t *testing.T) string { return t.TempDir() }, director, "not a regular file (a directory)", 1 << 20},
		{"lbrs: /dev/zero", func(*testing.T) string { return "/dev/zero" }, agent, "not a regular file (a character device)", 1 << 20},
		{"lbrs: 2 MiB", func(t *testing.T) string { return writeFile(t, "2m.yaml", 2<<20, unknownKey) }, agent,
			"larger than 1 MiB", 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.path(t)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			done := make(chan error, 1)
			go func() { done <- tt.load(p) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("loading did not return within a minute")
			}
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("loaded without an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error lacks %q:\n%s", tt.want, Clip(msg, 2000))
			}
			if lines := strings.Count(msg, "\n") + 1; lines > MaxErrors+1 {
				t.Errorf("%d error lines, want at most %d", lines, MaxErrors+1)
			}
			if len(msg) > (MaxErrors+1)*(maxMessage+maxPath+100) {
				t.Errorf("error of %d bytes", len(msg))
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > tt.maxAlloc {
				t.Errorf("loading allocated %d MB, want at most %d MB", alloc>>20, tt.maxAlloc>>20)
			}
		})
	}
}

// TestErrorsCapped: past MaxErrors errors, the first are kept (sorted by
// line) and a last line counts the others.
func TestErrorsCapped(t *testing.T) {
	var b strings.Builder
	for i := range 150 {
		fmt.Fprintf(&b, "k%d: 1\n", i)
	}
	_, err := ParseDirector("t.yaml", []byte(b.String()))
	es, ok := err.(Errors)
	if !ok {
		t.Fatalf("error %T %v, want Errors", err, err)
	}
	if len(es) != MaxErrors+1 {
		t.Fatalf("%d errors, want %d", len(es), MaxErrors+1)
	}
	if got, want := es[MaxErrors-1].Error(), `t.yaml:100: unknown field "k99"`; got != want {
		t.Errorf("last kept error %q, want %q", got, want)
	}
	if got, want := es[MaxErrors].Error(), "t.yaml: 50 more errors not shown (only the first 100 are)"; got != want {
		t.Errorf("count line %q, want %q", got, want)
	}
}

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"0123456789abc", 10, "0123456789... (13 bytes)"},
		{"ééééé", 3, "é... (10 bytes)"}, // not inside a character
	} {
		if got := Clip(tt.in, tt.n); got != tt.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
