package control_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
)

type sources struct {
	reloads, resyncs int
	failReload       bool
	lastReload       control.ReloadRequest
}

func (s *sources) IPVSStatus(context.Context) control.IPVS {
	web := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP,
		Address: netip.MustParseAddr("192.168.56.90"), Port: 80}, Scheduler: "rr", Netmask: 0xffffffff}
	web.Destinations = []table.Destination{{Address: netip.MustParseAddr("192.168.56.200"), Port: 80, Family: table.FamilyIPv4,
		Forward: table.ForwardRoute, Weight: 1, ActiveConns: 3}}
	return control.IPVS{Info: table.Info{Version: [3]int{1, 2, 1}, ConnTableSize: 4096}, Table: table.Table{Services: []table.Service{web}},
		Writes: 5, InSync: true}
}

func (s *sources) HealthStatus(context.Context) ([]control.ServiceQuorum, []control.RealServer) {
	w := uint32(0)
	return []control.ServiceQuorum{{Quorum: 1, QuorumUp: true, LiveWeight: 1}},
		[]control.RealServer{{Address: netip.MustParseAddr("192.168.56.201"), Port: 80, ConfiguredWeight: 1, DesiredWeight: &w, Reason: "inhibited: health down"}}
}

// lastCheck is the time of the sample check, with a monotonic reading
// stripped as JSON does.
var lastCheck = time.Date(2024, 5, 1, 10, 30, 15, 123456789, time.UTC)

func (s *sources) CheckStatus(context.Context) []control.CheckStatus {
	key := table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("192.168.56.90"), Port: 80}
	return []control.CheckStatus{
		{Service: key, Address: netip.MustParseAddr("192.168.56.201"), Port: 80, Check: "http#0 GET /health.html",
			Type: "http", Target: "192.168.56.201:80", Result: "status", Reason: "status 500 not in 200-299",
			Duration: 1500 * time.Microsecond, LastCheck: lastCheck, Since: lastCheck.Add(-time.Minute),
			ConsecutiveFailures: 3, Checks: 40, Failures: 3, Shared: 2},
		{Service: key, Address: netip.MustParseAddr("192.168.56.201"), Port: 80, Check: "tcp#1", Type: "tcp",
			Target: "192.168.56.201:80", Up: true, Result: "ok", ConsecutiveSuccesses: 7, Shared: 1},
	}
}

func (s *sources) VRRPStatus(context.Context) []control.VRRPInstance {
	return []control.VRRPInstance{
		{Name: "VI_1", Interface: "eth1", VRID: 51, State: "MASTER", Priority: 100, EffectivePriority: 100,
			AdvertsSent: 120, AdvertsReceived: 2, Drops: map[string]uint64{"auth": 3, "ttl": 1}},
		{Name: "VI_2", Interface: "eth1", VRID: 52, State: "BACKUP", Priority: 90, EffectivePriority: 90, AdvertsReceived: 7},
	}
}

func (s *sources) Reload(_ context.Context, req control.ReloadRequest) (control.ReloadResult, error) {
	s.reloads++
	s.lastReload = req
	if s.failReload {
		return control.ReloadResult{ConfigFile: "/etc/lbd.yaml", Changes: []string{"partial"}}, errors.New("lbd.yaml:3: bad")
	}
	return control.ReloadResult{ConfigFile: "/etc/lbd.yaml", Apply: &control.ApplyResult{Kind: "apply", Writes: 1}}, nil
}

func (s *sources) Resync(context.Context) (control.ApplyResult, error) {
	s.resyncs++
	return control.ApplyResult{Kind: "resync", Writes: 2, Ops: []string{"-a -t 1.2.3.4:80 -r 5.6.7.8:80 -g -w 1"}}, nil
}

// Status is the sample daemon's whole status.
func (s *sources) Status(ctx context.Context) control.Status {
	st := control.Status{Daemon: control.DaemonInfo{PID: 42, RouterID: "LVS_DEVEL"}, IPVS: s.IPVSStatus(ctx),
		Checks: s.CheckStatus(ctx), VRRP: s.VRRPStatus(ctx)}
	st.Services, st.RealServers = s.HealthStatus(ctx)
	return st
}

func serve(t *testing.T, cfg control.ServerConfig) (*control.Client, func()) {
	t.Helper()
	srv := control.NewServer(cfg)
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	return control.NewClient(cfg.Path), stop
}

func TestStatusReloadResync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "lbd.sock")
	src := &sources{}
	c, stop := serve(t, control.ServerConfig{Path: path, Daemon: src})
	defer stop()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want socket 0600", fi.Mode())
	}

	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Daemon.PID != 42 || len(st.IPVS.Table.Services) != 1 || st.IPVS.Table.Services[0].Destinations[0].ActiveConns != 3 ||
		st.IPVS.Writes != 5 || len(st.VRRP) != 2 || st.VRRP[0].State != "MASTER" || len(st.RealServers) != 1 ||
		*st.RealServers[0].DesiredWeight != 0 || st.RealServers[0].KernelWeight != nil || len(st.Services) != 1 {
		t.Errorf("status %+v", st)
	}
	if v := st.VRRP[0]; v.AdvertsSent != 120 || v.AdvertsReceived != 2 || len(v.Drops) != 2 || v.Drops["auth"] != 3 || v.Drops["ttl"] != 1 {
		t.Errorf("VRRP counters after JSON: %+v", v)
	}
	if v := st.VRRP[1]; v.Drops != nil || v.AdvertsReceived != 7 {
		t.Errorf("VRRP instance without drops after JSON: %+v", v)
	}
	if want := src.CheckStatus(ctx); !reflect.DeepEqual(st.Checks, want) {
		t.Errorf("checks after JSON:\n got %+v\nwant %+v", st.Checks, want)
	}
	if got := st.IPVS.Table.Services[0].Key().String(); got != "TCP 192.168.56.90:80" {
		t.Errorf("service key after JSON: %s", got)
	}

	rr, err := c.Reload(ctx, control.ReloadRequest{})
	if err != nil || rr.Apply == nil || rr.Apply.Writes != 1 || src.reloads != 1 || src.lastReload.Force {
		t.Errorf("reload %+v %v (request %+v)", rr, err, src.lastReload)
	}
	if _, err := c.Reload(ctx, control.ReloadRequest{Force: true}); err != nil || !src.lastReload.Force {
		t.Errorf("reload --force: %v, the daemon got %+v", err, src.lastReload)
	}
	ar, err := c.Resync(ctx)
	if err != nil || ar.Writes != 2 || len(ar.Ops) != 1 || src.resyncs != 1 {
		t.Errorf("resync %+v %v", ar, err)
	}

	src.failReload = true
	rr, err = c.Reload(ctx, control.ReloadRequest{})
	if err == nil || err.Error() != "lbd: lbd.yaml:3: bad" || len(rr.Changes) != 1 {
		t.Errorf("failed reload: %+v %v", rr, err)
	}
}

func TestActionsMissingAnswer501(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	c, stop := serve(t, control.ServerConfig{Path: path})
	defer stop()
	if _, err := c.Resync(context.Background()); err == nil || err.Error() != "lbd: resync is not available" {
		t.Errorf("err %v", err)
	}
	st, err := c.Status(context.Background())
	if err != nil || len(st.IPVS.Table.Services) != 0 {
		t.Errorf("empty status: %+v %v", st, err)
	}
}

func TestGroupSocketMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	gid := os.Getgid()
	_, stop := serve(t, control.ServerConfig{Path: path, Group: strconv.Itoa(gid)})
	defer stop()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("mode %v, want 0660", fi.Mode().Perm())
	}
	if _, err := control.NewServer(control.ServerConfig{Path: path + "2", Group: "no-such-group-lbd"}).Listen(); err == nil {
		t.Error("unknown group accepted")
	}
}

func TestClientNotRunning(t *testing.T) {
	dir := t.TempDir()
	c := control.NewClient(filepath.Join(dir, "missing.sock"))
	if _, err := c.Status(context.Background()); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("missing socket: %v", err)
	}
	// A stale socket: the file exists, nobody listens.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := control.NewClient(stale).Status(context.Background()); !errors.Is(err, control.ErrNotRunning) {
		t.Errorf("stale socket: %v", err)
	}
	// The server replaces a stale socket.
	_, stop := serve(t, control.ServerConfig{Path: stale})
	if _, err := control.NewClient(stale).Status(context.Background()); err != nil {
		t.Errorf("after replacing the stale socket: %v", err)
	}
	// It refuses to start while another one listens.
	if _, err := control.NewServer(control.ServerConfig{Path: stale}).Listen(); err == nil {
		t.Error("second server on a live socket")
	}
	stop()
	// Stopping removes the socket.
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after stop: %v", err)
	}
	// A regular file is never removed.
	reg := filepath.Join(dir, "file")
	os.WriteFile(reg, []byte("x"), 0o644)
	if _, err := control.NewServer(control.ServerConfig{Path: reg}).Listen(); err == nil {
		t.Error("regular file replaced")
	}
	if b, _ := os.ReadFile(reg); string(b) != "x" {
		t.Error("regular file changed")
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	srv := control.NewServer(control.ServerConfig{Path: path})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socket never appeared")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
}

func TestCheckStatusJSON(t *testing.T) {
	in := control.Status{Checks: (&sources{}).CheckStatus(context.Background())}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"checks":[`, `"check":"http#0 GET /health.html"`, `"result":"status"`,
		`"reason":"status 500 not in 200-299"`, `"duration":1500000`, `"last_check":"2024-05-01T10:30:15.123456789Z"`,
		`"consecutive_failures":3`, `"shared":2`, `"up":false`} {
		if !strings.Contains(string(b), w) {
			t.Errorf("%s lacks %s", b, w)
		}
	}
	var out control.Status
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Checks, in.Checks) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out.Checks, in.Checks)
	}
	// No checks: no key.
	b, _ = json.Marshal(control.Status{})
	if strings.Contains(string(b), `"checks"`) {
		t.Errorf("empty checks marshalled: %s", b)
	}
}

func TestVRRPInstanceJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   control.VRRPInstance
		want []string // substrings of the JSON
		not  []string
	}{
		{
			name: "drops by reason",
			in:   control.VRRPInstance{Name: "VI_1", AdvertsSent: 4, AdvertsReceived: 1, Drops: map[string]uint64{"ttl": 2, "auth": 3}},
			want: []string{`"adverts_sent":4`, `"adverts_received":1`, `"drops":{"auth":3,"ttl":2}`},
		},
		{
			name: "no drops",
			in:   control.VRRPInstance{Name: "VI_1"},
			want: []string{`"adverts_sent":0`, `"adverts_received":0`},
			not:  []string{`"drops"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s lacks %s", b, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(b), n) {
					t.Errorf("%s has %s", b, n)
				}
			}
		})
	}
}

// The body of a reload is optional (SIGHUP's zero request, an old lbctl);
// a malformed or oversized one is refused with 400 and reaches no daemon.
func TestReloadRequestBody(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	src := &sources{}
	_, stop := serve(t, control.ServerConfig{Path: path, Daemon: src})
	defer stop()
	tests := []struct {
		name      string
		body      string
		wantCode  int
		wantForce bool
	}{
		{name: "no body", body: "", wantCode: 200},
		{name: "empty object", body: "{}", wantCode: 200},
		{name: "force", body: `{"force": true}`, wantCode: 200, wantForce: true},
		{name: "not JSON", body: "force", wantCode: 400},
		{name: "unknown field", body: `{"forse": true}`, wantCode: 400},
		{name: "wrong type", body: `{"force": "yes"}`, wantCode: 400},
		{name: "too large", body: `{"force": true}` + strings.Repeat(" ", control.MaxReloadRequest), wantCode: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := src.reloads
			src.lastReload = control.ReloadRequest{}
			code, body := rawPost(t, path, "/v1/reload", tt.body)
			if code != tt.wantCode {
				t.Fatalf("HTTP %d %s, want %d", code, body, tt.wantCode)
			}
			if got := src.reloads - before; (tt.wantCode == 200) != (got == 1) {
				t.Errorf("the daemon reloaded %d times", got)
			}
			if src.lastReload.Force != tt.wantForce {
				t.Errorf("force = %v, want %v", src.lastReload.Force, tt.wantForce)
			}
		})
	}
}

// rawPost sends body to the socket at path by hand (HTTP/1.1) and returns
// the status code and the body of the answer.
func rawPost(t *testing.T, path, url, body string) (int, string) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "POST " + url + " HTTP/1.1\r\nHost: lbd\r\nConnection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// confirmer is a Daemon with the discovery command.
type confirmer struct {
	sources
	asked string
}

func (c *confirmer) ConfirmDiscovery(_ context.Context, service string) (control.ReloadResult, error) {
	c.asked = service
	if service != "TCP 192.168.56.90:80" {
		return control.ReloadResult{}, errors.New("service " + service + ": no discovery update is held")
	}
	return control.ReloadResult{Apply: &control.ApplyResult{Kind: "apply", Writes: 3}}, nil
}

func TestDiscoveryConfirm(t *testing.T) {
	ctx := context.Background()
	src := &confirmer{}
	c, stop := serve(t, control.ServerConfig{Path: filepath.Join(t.TempDir(), "lbd.sock"), Daemon: src})
	defer stop()
	res, err := c.ConfirmDiscovery(ctx, "TCP 192.168.56.90:80")
	if err != nil || res.Apply == nil || res.Apply.Writes != 3 || src.asked != "TCP 192.168.56.90:80" {
		t.Errorf("confirm: %+v %v (asked %q)", res, err, src.asked)
	}
	if _, err := c.ConfirmDiscovery(ctx, "TCP 10.0.0.1:80"); err == nil || err.Error() != "lbd: service TCP 10.0.0.1:80: no discovery update is held" {
		t.Errorf("confirm with nothing held: %v", err)
	}
	if _, err := c.ConfirmDiscovery(ctx, ""); err == nil || !strings.Contains(err.Error(), "invalid discovery confirm request") {
		t.Errorf("confirm without a service: %v", err)
	}
	// A daemon without the command answers 501.
	c2, stop2 := serve(t, control.ServerConfig{Path: filepath.Join(t.TempDir(), "lbd.sock"), Daemon: &sources{}})
	defer stop2()
	if _, err := c2.ConfirmDiscovery(ctx, "TCP 192.168.56.90:80"); err == nil || err.Error() != "lbd: discovery confirm is not available" {
		t.Errorf("confirm on a daemon without it: %v", err)
	}
}
