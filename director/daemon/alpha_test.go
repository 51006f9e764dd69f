package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel/fake"
)

// gatedBackend is a real HTTP real server whose health answers wait until
// the test opens the gate: until then its check is in flight and has not
// reported.
type gatedBackend struct {
	srv     *httptest.Server
	gate    chan struct{}
	once    sync.Once
	fail    atomic.Bool
	arrived chan struct{} // closed at the first request
	first   sync.Once
}

func newGatedBackend(t *testing.T) *gatedBackend {
	b := &gatedBackend{gate: make(chan struct{}), arrived: make(chan struct{})}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.first.Do(func() { close(b.arrived) })
		select {
		case <-b.gate:
		case <-r.Context().Done():
			return
		}
		if b.fail.Load() {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "OK\n")
	}))
	t.Cleanup(func() { b.open(false); b.srv.Close() })
	return b
}

// open lets the health answers through: 200, or 500 when fail.
func (b *gatedBackend) open(fail bool) {
	b.once.Do(func() {
		b.fail.Store(fail)
		close(b.gate)
	})
}

// writeAlphaConfig writes a service with two real servers: 198.51.100.1
// (weight 2), checked against b when checked, its check with alpha when
// alpha; 198.51.100.2 (weight 1) unchecked.
func writeAlphaConfig(t *testing.T, path, dir string, b *gatedBackend, checked, alpha bool) {
	t.Helper()
	checks := ""
	if checked {
		ap := b.srv.Listener.Addr().String()
		i := strings.LastIndex(ap, ":")
		checks = fmt.Sprintf(`        checks:
          - type: http
            connect_ip: %s
            connect_port: %s
            alpha: %t
            urls: [{path: /health}]
`, ap[:i], ap[i+1:], alpha)
	}
	y := fmt.Sprintf(`global:
  control_socket: %[1]s/lbd.sock
  state_dir: %[1]s
  metrics_address: ""
  resync_interval: 1h
virtual_servers:
  - address: 192.0.2.10
    port: 80
    scheduler: rr
    delay_loop: 100ms
    connect_timeout: 30s
    retry: 0
    real_servers:
      - address: 198.51.100.1
        weight: 2
%[2]s      - address: 198.51.100.2
        weight: 1
`, dir, checks)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writesFor counts the kernel writes that name server.
func writesFor(k *fake.Kernel, server string) int {
	n := 0
	for _, w := range k.Log() {
		if strings.Contains(w, server+":") {
			n++
		}
	}
	return n
}

// serverStatus is lbd's status of the real server at addr.
func serverStatus(t *testing.T, sock, addr string) (control.RealServer, bool) {
	st, err := control.NewClient(sock).Status(context.Background())
	if err != nil {
		return control.RealServer{}, false
	}
	for _, rs := range st.RealServers {
		if rs.Address.String() == addr {
			return rs, true
		}
	}
	return control.RealServer{}, false
}

// TestDaemonAlphaStartAndRestart: a static real server whose check has
// alpha gets no traffic, and costs no write, before its check passes; a
// restart that finds it serving in the kernel (weight > 0) keeps it with no
// write until its check reports down. The check is gated: the test decides
// when it reports, and what.
func TestDaemonAlphaStartAndRestart(t *testing.T) {
	const server = "198.51.100.1"
	for _, tt := range []struct {
		name    string
		alpha   bool
		restart bool // the kernel already serves the server (a first lbd put it there)
		drain   bool // the first lbd drained it (weight 0 in the kernel, the override saved)
		fail    bool // the check's first report: down (else up)
		// The server's weight in the kernel (-1: absent) and the writes that
		// name it, before the check reports and after.
		before, after             int
		writesBefore, writesAfter int
	}{
		{name: "first start, alpha, passes: added after the pass", alpha: true, before: -1, after: 2, writesBefore: 0, writesAfter: 1},
		{name: "first start, alpha, fails: never added", alpha: true, fail: true, before: -1, after: -1, writesBefore: 0, writesAfter: 0},
		{name: "first start, no alpha: added at once", before: 2, after: 2, writesBefore: 1, writesAfter: 1},
		{name: "first start, no alpha, fails: added, removed on the report", fail: true, before: 2, after: -1, writesBefore: 1, writesAfter: 2},
		{name: "restart, alpha, passes: kept, no write", alpha: true, restart: true, before: 2, after: 2, writesBefore: 0, writesAfter: 0},
		{name: "restart, alpha, fails: kept until the report, then removed", alpha: true, restart: true, fail: true, before: 2, after: -1, writesBefore: 0, writesAfter: 1},
		{name: "restart, alpha, drained (weight 0 in the kernel): kept, no write", alpha: true, restart: true, drain: true, before: 0, after: 0, writesBefore: 0, writesAfter: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, sock := filepath.Join(dir, "lbd.yaml"), filepath.Join(dir, "lbd.sock")
			k := fake.New()
			b := newGatedBackend(t)
			if tt.restart {
				// A first lbd programs the table (the server unchecked), then stops.
				writeAlphaConfig(t, cfg, dir, b, false, false)
				runAlphaDaemon(t, cfg, sock, k, func() {
					if !tt.drain {
						return
					}
					if _, err := control.NewClient(sock).SetOverride(context.Background(),
						control.OverrideRequest{Service: "TCP 192.0.2.10:80", Server: server, State: "drain"}); err != nil {
						t.Fatal(err)
					}
				})
				if w, want := fakeWeight(k, server), map[bool]int{false: 2, true: 0}[tt.drain]; w != want {
					t.Fatalf("the first lbd left %s at weight %d, want %d", server, w, want)
				}
			}
			k.ResetCounters()
			writeAlphaConfig(t, cfg, dir, b, true, tt.alpha)
			runAlphaDaemon(t, cfg, sock, k, func() {
				// The check is in flight: it has not reported.
				select {
				case <-b.arrived:
				case <-time.After(10 * time.Second):
					t.Fatal("the check never reached the backend")
				}
				time.Sleep(300 * time.Millisecond) // an initial event would have been applied by now
				if w, n := fakeWeight(k, server), writesFor(k, server); w != tt.before || n != tt.writesBefore {
					t.Errorf("before the check reports: %s at weight %d (-1: absent) after %d writes naming it, want %d after %d; writes %v",
						server, w, n, tt.before, tt.writesBefore, k.Log())
				}
				b.open(tt.fail)
				waitFor(t, "the check's report applied", func() bool {
					rs, ok := serverStatus(t, sock, server)
					return ok && checkRan(sock, server) && rs.Up == !tt.fail && !strings.Contains(rs.Reason, "not checked yet")
				})
				if w, n := fakeWeight(k, server), writesFor(k, server); w != tt.after || n != tt.writesAfter {
					t.Errorf("after the check reported: %s at weight %d (-1: absent) after %d writes naming it, want %d after %d; writes %v",
						server, w, n, tt.after, tt.writesAfter, k.Log())
				}
			})
			if tt.restart && !tt.fail && k.Writes() != 0 {
				t.Errorf("a restart on a matching table wrote: %v", k.Log())
			}
		})
	}
}

// runAlphaDaemon runs lbd on cfg and k until its control socket listens,
// runs during, then stops it.
func runAlphaDaemon(t *testing.T, cfg, sock string, k *fake.Kernel, during func()) {
	t.Helper()
	logs := &syncBuf{}
	d, err := New(cfg, Options{Kernel: k, LogOutput: logs, LogLevel: "debug", Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("lbd: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("lbd did not stop")
		}
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()
	waitFor(t, "control socket", func() bool { _, err := os.Stat(sock); return err == nil })
	waitFor(t, "the table applied", func() bool { _, ok := serverStatus(t, sock, "198.51.100.2"); return ok })
	during()
}

// checkRan reports whether a check of server has completed an attempt.
func checkRan(sock, server string) bool {
	st, err := control.NewClient(sock).Status(context.Background())
	if err != nil {
		return false
	}
	for _, c := range st.Checks {
		if c.Address.String() == server && c.Checks > 0 {
			return true
		}
	}
	return false
}

// fakeWeight is the server's weight in k's table (-1 when absent).
func fakeWeight(k *fake.Kernel, server string) int {
	for _, s := range k.Table().Services {
		for _, d := range s.Destinations {
			if d.Address.String() == server {
				return int(d.Weight)
			}
		}
	}
	return -1
}

// TestDaemonAlphaReload: a reload that gives a real server up now a new
// check with alpha (another target: a new check) re-checks it without
// taking it out first: no write until the new check reports, then one
// removal if it reports down.
func TestDaemonAlphaReload(t *testing.T) {
	const server = "198.51.100.1"
	for _, tt := range []struct {
		name        string
		fail        bool
		after       int
		writesAfter int
	}{
		{name: "the new check passes: kept, no write", after: 2, writesAfter: 0},
		{name: "the new check fails: kept until it reports, then removed", fail: true, after: -1, writesAfter: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, sock := filepath.Join(dir, "lbd.yaml"), filepath.Join(dir, "lbd.sock")
			k := fake.New()
			b1, b2 := newGatedBackend(t), newGatedBackend(t)
			b1.open(false)
			writeAlphaConfig(t, cfg, dir, b1, true, true)
			runAlphaDaemon(t, cfg, sock, k, func() {
				waitFor(t, "the server up after its first check", func() bool { return fakeWeight(k, server) == 2 })
				k.ResetCounters()
				writeAlphaConfig(t, cfg, dir, b2, true, true)
				if _, err := control.NewClient(sock).Reload(context.Background(), control.ReloadRequest{}); err != nil {
					t.Fatal(err)
				}
				select {
				case <-b2.arrived:
				case <-time.After(10 * time.Second):
					t.Fatal("the new check never reached its backend")
				}
				time.Sleep(300 * time.Millisecond) // an initial event would have been applied by now
				if w, n := fakeWeight(k, server), writesFor(k, server); w != 2 || n != 0 {
					t.Errorf("before the new check reports: %s at weight %d after %d writes naming it, want 2 after 0; writes %v",
						server, w, n, k.Log())
				}
				b2.open(tt.fail)
				waitFor(t, "the new check's report applied", func() bool {
					rs, ok := serverStatus(t, sock, server)
					return ok && checkRan(sock, server) && rs.Up == !tt.fail
				})
				if w, n := fakeWeight(k, server), writesFor(k, server); w != tt.after || n != tt.writesAfter {
					t.Errorf("after the new check reported: %s at weight %d after %d writes naming it, want %d after %d; writes %v",
						server, w, n, tt.after, tt.writesAfter, k.Log())
				}
			})
		})
	}
}

// TestPlanStartAlpha: lbd plan says what the start writes: on an empty
// kernel, no destination for the alpha server (it waits for its check);
// on a kernel that serves it, nothing.
func TestPlanStartAlpha(t *testing.T) {
	for _, tt := range []struct {
		name    string
		restart bool
		want    []string
	}{
		{name: "first start", want: []string{"-A -t 192.0.2.10:80 -s rr", "-a -t 192.0.2.10:80 -r 198.51.100.2:80 -g -w 1"}},
		{name: "restart", restart: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, sock := filepath.Join(dir, "lbd.yaml"), filepath.Join(dir, "lbd.sock")
			k := fake.New()
			b := newGatedBackend(t)
			if tt.restart {
				writeAlphaConfig(t, cfg, dir, b, false, false)
				runAlphaDaemon(t, cfg, sock, k, func() {})
			}
			writeAlphaConfig(t, cfg, dir, b, true, true)
			pl, err := PlanStart(cfg, Options{Kernel: k, LogOutput: &syncBuf{}})
			if err != nil {
				t.Fatal(err)
			}
			var planned []string
			for _, w := range pl.Writes {
				planned = append(planned, w.Rule)
			}
			if !slices.Equal(planned, tt.want) {
				t.Errorf("plan %q, want %q", planned, tt.want)
			}
		})
	}
}
