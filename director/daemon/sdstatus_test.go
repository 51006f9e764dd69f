package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel/fake"
)

// TestReloadStatusNotification: every reload sends STATUS= (what systemctl
// status shows as "Status:"): a refused file's reason with its file:line,
// then an applied reload's result replaces it.
func TestReloadStatusNotification(t *testing.T) {
	backends[0], backends[1] = newBackend(t), newBackend(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "lbd.yaml")
	writeConfig(t, path, dir, 3, false, "")
	var mu sync.Mutex
	var status []string
	notify := func(s string) {
		if strings.HasPrefix(s, "STATUS=") {
			mu.Lock()
			status = append(status, s)
			mu.Unlock()
		}
	}
	logs := &syncBuf{}
	d, err := New(path, Options{Kernel: fake.New(), LogOutput: logs, Notify: notify})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d, logs.String)
	waitFor(t, "control socket", func() bool { _, err := os.Stat(filepath.Join(dir, "lbd.sock")); return err == nil })
	last := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(status) == 0 {
			return ""
		}
		return status[len(status)-1]
	}

	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(good), "\n")
	steps := []struct {
		name  string
		file  string
		want  []string
		wantN int
	}{
		{"broken", string(good) + "no_such_key: 1\n", []string{"STATUS=reload invalid at ", path + ":" + itoa(lines+1) + ":", `unknown field "no_such_key"`}, 1},
		{"fixed", string(good), []string{"STATUS=reload applied at ", ": 0 changes"}, 2},
	}
	for _, s := range steps {
		if err := os.WriteFile(path, []byte(s.file), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, rerr := d.Reload(ctx, control.ReloadRequest{})
		cancel()
		got := last()
		for _, w := range s.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s (reload error %v): STATUS %q, want it to hold %q", s.name, rerr, got, w)
			}
		}
		if strings.Contains(got, "\n") {
			t.Errorf("%s: STATUS %q spans lines", s.name, got)
		}
		mu.Lock()
		n := len(status)
		mu.Unlock()
		if n != s.wantN {
			t.Errorf("%s: %d STATUS notifications so far, want %d (one per reload)", s.name, n, s.wantN)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
