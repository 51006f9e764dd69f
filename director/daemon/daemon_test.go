package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/internal/buildinfo"
	"github.com/lvsd/lb/vrrp"
)

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// backend is a real HTTP real server whose health page can be broken.
type backend struct {
	srv  *httptest.Server
	fail atomic.Bool
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.fail.Load() {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "OK\n")
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) addrPort() netip.AddrPort {
	return netip.MustParseAddrPort(b.srv.Listener.Addr().String())
}

type fixture struct {
	dir, cfg, sock string
	k              *fake.Kernel
	logs           *syncBuf
	d              *Daemon
	cancel         context.CancelFunc
	done           chan error
}

// yamlFor writes a config with one service whose real servers are given
// as (connect target, weight, inhibit).
func writeConfig(t *testing.T, path, dir string, weight1 int, inhibit bool, extra string) {
	t.Helper()
	b1, b2 := backends[0].addrPort(), backends[1].addrPort()
	y := fmt.Sprintf(`global:
  control_socket: %s/lbd.sock
  state_dir: %s
  metrics_address: ""
  resync_interval: 1h
virtual_servers:
  - address: 192.0.2.10
    port: 80
    scheduler: rr
    delay_loop: 50ms
    connect_timeout: 1s
    retry: 0
    inhibit_on_failure: %v
    real_servers:
      - address: 198.51.100.1
        weight: %d
        checks:
          - type: http
            connect_ip: %s
            connect_port: %d
            urls: [{path: /health, digest: d36f8f9425c4a8000ad9c4a97185aca5}]
          - type: tcp
            connect_ip: %s
            connect_port: %d
      - address: 198.51.100.2
        weight: 1
        checks:
          - type: http
            connect_ip: %s
            connect_port: %d
            urls: [{path: /health}]
%s`, dir, dir, inhibit, weight1, b1.Addr(), b1.Port(), b1.Addr(), b1.Port(), b2.Addr(), b2.Port(), extra)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
}

var backends [2]*backend

func start(t *testing.T, inhibit bool) *fixture {
	t.Helper()
	backends[0], backends[1] = newBackend(t), newBackend(t)
	dir := t.TempDir()
	f := &fixture{dir: dir, cfg: filepath.Join(dir, "lbd.yaml"), sock: filepath.Join(dir, "lbd.sock"),
		k: fake.New(), logs: &syncBuf{}}
	writeConfig(t, f.cfg, dir, 3, inhibit, "")
	d, err := New(f.cfg, Options{Kernel: f.k, LogOutput: f.logs, LogLevel: "debug", Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	f.cancel, f.done = runDaemon(t, d, f.logs.String)
	waitFor(t, "control socket", func() bool { _, err := os.Stat(f.sock); return err == nil })
	return f
}

// runDaemon runs d in a goroutine until the test ends: the cleanup cancels
// it, waits up to 10 s for Run to return and, if the test failed, logs
// what logs returns (logs may be nil). A test that stops the daemon itself
// reads done and then puts a value back for the cleanup.
func runDaemon(t *testing.T, d *Daemon, logs func() string) (context.CancelFunc, chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop")
		}
		if t.Failed() && logs != nil {
			t.Logf("logs:\n%s", logs())
		}
	})
	return cancel, done
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitForLong(t, 10*time.Second, what, cond)
}

// waitForLong polls cond every 20 ms until it holds, failing the test
// after d.
func waitForLong(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dests returns the fake kernel's destinations of the service as addr -> weight.
func (f *fixture) dests() map[string]uint32 {
	out := map[string]uint32{}
	for _, s := range f.k.Table().Services {
		for _, d := range s.Destinations {
			out[d.Address.String()] = d.Weight
		}
	}
	return out
}

func eqDests(got map[string]uint32, want map[string]uint32) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

func TestDaemonHealthRemovesAndRestores(t *testing.T) {
	f := start(t, false)
	waitFor(t, "table programmed", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1})
	})
	// One check of two failing takes the server out (all must pass).
	backends[0].fail.Store(true)
	waitFor(t, "server 1 removed", func() bool { return eqDests(f.dests(), map[string]uint32{"198.51.100.2": 1}) })
	if !strings.Contains(f.logs.String(), "status 500 not in 200-299") {
		t.Errorf("no reason logged:\n%s", f.logs.String())
	}
	// Status over the real socket shows the server down with its reason.
	st, err := control.NewClient(f.sock).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, rs := range st.RealServers {
		if rs.Address.String() == "198.51.100.1" {
			found = true
			if rs.Up || rs.DesiredWeight != nil || rs.KernelWeight != nil || !strings.Contains(rs.Reason, "status 500") {
				t.Errorf("status of the failed server = %+v", rs)
			}
		}
	}
	if !found || len(st.IPVS.Table.Services) != 1 {
		t.Errorf("status = %+v", st)
	}
	backends[0].fail.Store(false)
	waitFor(t, "server 1 restored", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1})
	})
}

func TestDaemonInhibitOnFailure(t *testing.T) {
	f := start(t, true)
	waitFor(t, "table programmed", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1})
	})
	backends[1].fail.Store(true)
	waitFor(t, "server 2 inhibited", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 0})
	})
	backends[1].fail.Store(false)
	waitFor(t, "server 2 restored", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1})
	})
}

func TestDaemonReload(t *testing.T) {
	f := start(t, false)
	waitFor(t, "table programmed", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1})
	})
	cl := control.NewClient(f.sock)
	// A bad file changes nothing and the errors come back to lbctl.
	good, _ := os.ReadFile(f.cfg)
	if err := os.WriteFile(f.cfg, append(good, []byte("bogus_key: 1\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	f.k.ResetCounters()
	_, err := cl.Reload(context.Background(), control.ReloadRequest{})
	if err == nil || !strings.Contains(err.Error(), "bogus_key") {
		t.Fatalf("reload of a bad file: err = %v", err)
	}
	if f.k.Writes() != 0 {
		t.Errorf("bad reload wrote %d times: %v", f.k.Writes(), f.k.Log())
	}
	if !strings.Contains(f.logs.String(), "lbd.yaml:") {
		t.Errorf("file:line error not logged")
	}
	// A weight change costs exactly one write; checks keep their state.
	runners := f.d.sched.Stats().Runners
	before, err := cl.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	writeConfig(t, f.cfg, f.dir, 5, false, "")
	f.k.ResetCounters()
	res, err := cl.Reload(context.Background(), control.ReloadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// It reads back that service alone, not the whole table.
	if reads := f.k.Reads(); reads != (fake.Reads{Service: 1, Destinations: 1}) {
		t.Errorf("weight reload read %+v, want the changed service and its destinations", reads)
	}
	if after, err := cl.Status(context.Background()); err != nil || !after.Daemon.LastReload.After(before.Daemon.LastReload) ||
		after.Daemon.Started != before.Daemon.Started {
		t.Errorf("last reload %v -> %v (started %v), %v", before.Daemon.LastReload, after.Daemon.LastReload, after.Daemon.Started, err)
	}
	if res.Apply == nil || res.Apply.Writes != 1 || f.k.Writes() != 1 {
		t.Errorf("weight reload: apply %+v, fake writes %d %v", res.Apply, f.k.Writes(), f.k.Log())
	}
	if got := f.dests(); got["198.51.100.1"] != 5 {
		t.Errorf("weight not applied: %v", got)
	}
	if r := f.d.sched.Stats().Runners; r != runners {
		t.Errorf("runners %d -> %d after a reload without check changes", runners, r)
	}
	// Same file again: zero writes.
	f.k.ResetCounters()
	if _, err := cl.Reload(context.Background(), control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	if f.k.Writes() != 0 {
		t.Errorf("identical reload wrote: %v", f.k.Log())
	}
}

func TestDaemonAdoptsMatchingTable(t *testing.T) {
	f := start(t, false)
	waitFor(t, "table programmed", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1})
	})
	f.cancel()
	<-f.done
	// The table stays after stop (no flush_on_stop).
	if len(f.k.Table().Services) != 1 {
		t.Fatalf("table flushed on stop: %+v", f.k.Table())
	}
	// A new daemon on the same kernel adopts it with zero writes.
	f.k.ResetCounters()
	logs := &syncBuf{}
	d, err := New(f.cfg, Options{Kernel: f.k, LogOutput: logs, Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	// The table is adopted before the socket listens; then every check
	// reports once (against the same healthy backends): none may write.
	waitFor(t, "every check of the new daemon ran", func() bool {
		st, err := control.NewClient(f.sock).Status(context.Background())
		if err != nil || len(st.Checks) != 3 {
			return false
		}
		for _, c := range st.Checks {
			if c.Checks == 0 {
				return false
			}
		}
		return true
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f.done <- nil // let the cleanup's wait return
	if f.k.Writes() != 0 {
		t.Errorf("restart on a matching table wrote: %v", f.k.Log())
	}
}

// TestDaemonServesFollowsHealth: the routers' Options.Serves says an
// instance's VIP can be served while its service has a live real server,
// and no longer once every one failed its checks (a later gratuitous ARP
// burst is then skipped); a VIP with no service is always served.
func TestDaemonServesFollowsHealth(t *testing.T) {
	f := start(t, false)
	serves := f.d.serves([]vrrp.Config{
		{Name: "VI_1", VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("192.0.2.10/32")}}},
		{Name: "VI_2", VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("192.0.2.99/32")}}},
	})
	waitFor(t, "table programmed", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1})
	})
	if !serves("VI_1") || !serves("VI_2") {
		t.Fatalf("serves with both real servers up: VI_1 %v, VI_2 %v; want true, true", serves("VI_1"), serves("VI_2"))
	}
	backends[0].fail.Store(true)
	waitFor(t, "server 1 removed", func() bool { return eqDests(f.dests(), map[string]uint32{"198.51.100.2": 1}) })
	if !serves("VI_1") {
		t.Fatal("serves false with one real server up")
	}
	backends[1].fail.Store(true)
	waitFor(t, "every server removed", func() bool { return len(f.dests()) == 0 })
	if serves("VI_1") || !serves("VI_2") {
		t.Fatalf("serves with every real server down: VI_1 %v, VI_2 %v; want false, true", serves("VI_1"), serves("VI_2"))
	}
	backends[0].fail.Store(false)
	backends[1].fail.Store(false)
	waitFor(t, "servers restored", func() bool { return len(f.dests()) == 2 })
	if !serves("VI_1") {
		t.Fatal("serves false after the real servers came back")
	}
}

// TestDaemonBuildInfo: lbd's first log line names its build, and the
// control socket's status reports it (lbctl status --json).
func TestDaemonBuildInfo(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "lbd.yaml")
	if err := os.WriteFile(cfg, []byte("global:\n  router_id: t\n  metrics_address: \"\"\nremoval_guard:\n  allow_remove_all: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	b := buildinfo.Info{Version: "v1.2.0", Revision: "abc123", Dirty: true, Time: "2026-12-07T10:33:58Z", GoVersion: "go1.26.8"}
	d, err := New(cfg, Options{Kernel: fake.New(), LogOutput: logs, Notify: func(string) {}, Version: b.Version, Build: b})
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(logs.String(), "\n")
	for _, want := range []string{`msg="lbd v1.2.0"`, "version=v1.2.0", "revision=abc123+dirty", "date=2026-12-07T10:33:58Z", "go=go1.26.8"} {
		if !strings.Contains(first, want) {
			t.Errorf("first log line %q lacks %q", first, want)
		}
	}
	got := d.Status(context.Background()).Daemon
	if got.Version != "v1.2.0" || got.Revision != "abc123+dirty" || got.Date != "2026-12-07T10:33:58Z" || got.GoVersion != "go1.26.8" {
		t.Errorf("status daemon = %+v", got)
	}
}
