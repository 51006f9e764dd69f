package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
)

// restart stops f's daemon and starts a new one on the same file, state
// directory and kernel (a restart of lbd).
func (f *fixture) restart(t *testing.T) {
	t.Helper()
	f.cancel()
	if err := <-f.done; err != nil {
		t.Fatalf("stop: %v", err)
	}
	f.done <- nil // for the first daemon's cleanup
	d, err := New(f.cfg, Options{Kernel: f.k, LogOutput: f.logs, LogLevel: "debug", Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	f.cancel, f.done = runDaemon(t, d, nil) // the first daemon's cleanup shows the shared log
	waitFor(t, "control socket", func() bool { _, err := os.Stat(f.sock); return err == nil })
}

func (f *fixture) serverState(t *testing.T, addr string) control.RealServer {
	t.Helper()
	st, err := control.NewClient(f.sock).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range st.RealServers {
		if rs.Address.String() == addr {
			return rs
		}
	}
	t.Fatalf("no real server %s in the status", addr)
	return control.RealServer{}
}

// A drain is one write (weight 0) and maintenance removes the server;
// both show in the status, survive a reload and a restart (no write at
// the restart), and a reload that removes the server drops its override.
func TestDaemonOverridesSurviveReloadAndRestart(t *testing.T) {
	f := start(t, false)
	waitFor(t, "table programmed", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1})
	})
	cl := control.NewClient(f.sock)
	ctx := context.Background()
	f.k.ResetCounters()
	res, err := cl.SetOverride(ctx, control.OverrideRequest{Service: "TCP 192.0.2.10:80", Server: "198.51.100.2", State: "drain"})
	if err != nil || !res.Changed || res.State != "drain" {
		t.Fatalf("drain: %+v, %v", res, err)
	}
	if f.k.Writes() != 1 || !eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 0}) {
		t.Errorf("drain: %d writes %v, table %v", f.k.Writes(), f.k.Log(), f.dests())
	}
	if rs := f.serverState(t, "198.51.100.2"); rs.State != "draining" || rs.Override != "drain" || rs.OverrideSince.IsZero() {
		t.Errorf("drained server's status: %+v", rs)
	}
	var drains []string
	for _, e := range f.d.Events().Read(0, 1000) {
		if e.Kind == "drain" {
			drains = append(drains, e.Subject+" "+e.Fields["from"]+"->"+e.Fields["to"]+" writes "+e.Fields["writes"])
		}
	}
	if want := []string{"TCP 192.0.2.10:80 198.51.100.2:80 none->drain writes 1"}; strings.Join(drains, "|") != strings.Join(want, "|") {
		t.Errorf("drain events %q, want %q", drains, want)
	}
	f.k.ResetCounters()
	if _, err := cl.SetOverride(ctx, control.OverrideRequest{Service: "tcp:192.0.2.10:80", Server: "198.51.100.1:80", State: "maintenance"}); err != nil {
		t.Fatal(err)
	}
	if f.k.Writes() != 1 || !eqDests(f.dests(), map[string]uint32{"198.51.100.2": 0}) {
		t.Errorf("maintenance: %d writes %v, table %v", f.k.Writes(), f.k.Log(), f.dests())
	}
	// Refused: nothing written.
	f.k.ResetCounters()
	for _, req := range []control.OverrideRequest{
		{Service: "TCP 192.0.2.10:80", Server: "198.51.100.9", State: "drain"},
		{Service: "TCP 192.0.2.11:80", Server: "198.51.100.1", State: "drain"},
		{Service: "TCP 192.0.2.10:80", Server: "198.51.100.1", State: "off"},
		{Service: "192.0.2.10:80", Server: "198.51.100.1", State: "drain"},
		{Service: "TCP 192.0.2.10:80", Server: "host", State: "drain"},
	} {
		if _, err := cl.SetOverride(ctx, req); err == nil {
			t.Errorf("%+v accepted", req)
		}
	}
	if f.k.Writes() != 0 {
		t.Errorf("refused overrides wrote %v", f.k.Log())
	}
	// A reload keeps both.
	if _, err := cl.Reload(ctx, control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	if !eqDests(f.dests(), map[string]uint32{"198.51.100.2": 0}) {
		t.Errorf("after a reload: %v", f.dests())
	}
	// A restart reads them back from state_dir and writes nothing.
	f.k.ResetCounters()
	f.restart(t)
	time.Sleep(300 * time.Millisecond) // a few check rounds: they must not bring the servers back
	if f.k.Writes() != 0 || !eqDests(f.dests(), map[string]uint32{"198.51.100.2": 0}) {
		t.Errorf("after a restart: %d writes %v, table %v", f.k.Writes(), f.k.Log(), f.dests())
	}
	if rs := f.serverState(t, "198.51.100.1"); rs.State != "maintenance" || rs.Override != "maintenance" {
		t.Errorf("server in maintenance after the restart: %+v", rs)
	}
	// A reload that removes 198.51.100.2 drops its override from the file.
	b, _ := os.ReadFile(f.cfg)
	y := string(b)
	if err := os.WriteFile(f.cfg, []byte(y[:strings.Index(y, "      - address: 198.51.100.2")]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Reload(ctx, control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(filepath.Join(f.dir, overridesFileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(saved), "198.51.100.2") || !strings.Contains(string(saved), `"server": "198.51.100.1:80"`) {
		t.Errorf("the file after the reload that removed 198.51.100.2:\n%s", saved)
	}
	// Undrain: back in with its weight.
	if _, err := cl.SetOverride(ctx, control.OverrideRequest{Service: "TCP 192.0.2.10:80", Server: "198.51.100.1", State: "none"}); err != nil {
		t.Fatal(err)
	}
	if !eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3}) {
		t.Errorf("after the undrain: %v", f.dests())
	}
}

// The file is read back as untrusted input: each defect stops the start
// with the file and the record named.
func TestLoadOverridesRefusesBadFiles(t *testing.T) {
	for _, tt := range []struct{ name, body, want string }{
		{"not json", "drain everything", "not an overrides file"},
		{"version", `{"version": 2, "servers": []}`, "version 2, want 1"},
		{"unknown field", `{"version": 1, "servers": [], "extra": 1}`, "unknown field"},
		{"state", `{"version": 1, "servers": [{"service": "TCP 192.0.2.10:80", "server": "198.51.100.1:80", "state": "off"}]}`, `servers[0]: state "off"`},
		{"none", `{"version": 1, "servers": [{"service": "TCP 192.0.2.10:80", "server": "198.51.100.1:80", "state": ""}]}`, `servers[0]: state ""`},
		{"service", `{"version": 1, "servers": [{"service": "192.0.2.10:80", "server": "198.51.100.1:80", "state": "drain"}]}`, `servers[0]: service "192.0.2.10:80"`},
		{"server", `{"version": 1, "servers": [{"service": "TCP 192.0.2.10:80", "server": "198.51.100.1", "state": "drain"}]}`, `servers[0]: server "198.51.100.1": want ADDRESS:PORT`},
		{"twice", `{"version": 1, "servers": [{"service": "TCP 192.0.2.10:80", "server": "198.51.100.1:80", "state": "drain"},
			{"service": "tcp:192.0.2.10:80", "server": "198.51.100.1:80", "state": "maintenance"}]}`, "servers[1]: TCP 192.0.2.10:80 198.51.100.1:80 listed twice"},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, overridesFileName)
		if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadOverrides(dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want %q and the path", tt.name, err, tt.want)
		}
	}
	s, err := loadOverrides(t.TempDir())
	if err != nil || len(s.servers) != 0 {
		t.Errorf("no file: %v %v", s, err)
	}
}

// An undrained server with slow_start gets its weight back in 4 steps,
// one write each, driven by the Manager's timer.
func TestDaemonUndrainSlowStart(t *testing.T) {
	f := start(t, false)
	writeConfig(t, f.cfg, f.dir, 8, false, "")
	b, _ := os.ReadFile(f.cfg)
	y := strings.Replace(string(b), "    inhibit_on_failure: false\n", "    inhibit_on_failure: false\n    slow_start: 600ms\n", 1)
	if err := os.WriteFile(f.cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cl := control.NewClient(f.sock)
	ctx := context.Background()
	if _, err := cl.Reload(ctx, control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "table programmed", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 8, "198.51.100.2": 1})
	})
	req := control.OverrideRequest{Service: "TCP 192.0.2.10:80", Server: "198.51.100.1", State: "drain"}
	if _, err := cl.SetOverride(ctx, req); err != nil {
		t.Fatal(err)
	}
	f.k.ResetCounters()
	req.State = "none"
	res, err := cl.SetOverride(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if f.dests()["198.51.100.1"] != 2 || res.Apply.Writes != 1 {
		t.Errorf("undrain with slow start: weight %d at once (want 2 of 8), %d writes", f.dests()["198.51.100.1"], res.Apply.Writes)
	}
	if rs := f.serverState(t, "198.51.100.1"); rs.State != "slow-starting" {
		t.Errorf("state %q, want slow-starting (%+v)", rs.State, rs)
	}
	var seen []uint32
	waitFor(t, "full weight", func() bool {
		w := f.dests()["198.51.100.1"]
		if len(seen) == 0 || seen[len(seen)-1] != w {
			seen = append(seen, w)
		}
		return w == 8
	})
	if f.k.Writes() != 4 {
		t.Errorf("the ramp took %d writes, want 4: %v (weights seen %v)", f.k.Writes(), f.k.Log(), seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Errorf("weights went down: %v", seen)
		}
	}
	if rs := f.serverState(t, "198.51.100.1"); rs.State != "up" {
		t.Errorf("after the ramp: %q", rs.State)
	}
	t.Logf("weights seen: %v", seen)
}

// A drained discovered member that leaves the registry and comes back is
// still drained (a discovery update keeps the overrides of its service); a
// reload while it is gone drops the override.
func TestDaemonDiscoveredMemberKeepsDrain(t *testing.T) {
	f := startDiscovery(t, "")
	kid := f.zk.Create("/sgroup", "sub", "198.51.100.2:80")
	f.awaitDests(t, "198.51.100.1", "198.51.100.2")
	cl := control.NewClient(f.sock)
	ctx := context.Background()
	req := control.OverrideRequest{Service: "TCP 192.0.2.10:80", Server: "198.51.100.2", State: "drain"}
	if _, err := cl.SetOverride(ctx, req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "drained", func() bool { return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 1, "198.51.100.2": 0}) })
	f.zk.Delete("/sgroup", kid)
	f.awaitDests(t, "198.51.100.1")
	kid = f.zk.Create("/sgroup", "sub", "198.51.100.2:80")
	waitFor(t, "back, still drained", func() bool { return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 1, "198.51.100.2": 0}) })
	// Gone again, then a reload: the override goes with it.
	f.zk.Delete("/sgroup", kid)
	f.awaitDests(t, "198.51.100.1")
	if _, err := cl.Reload(ctx, control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	f.zk.Create("/sgroup", "sub", "198.51.100.2:80")
	f.awaitDests(t, "198.51.100.1", "198.51.100.2")
}
