package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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
	"github.com/lvsd/lb/director/metrics"
	"github.com/lvsd/lb/internal/runas"
	"github.com/lvsd/lb/vrrp"
)

// The VRRP side of these tests runs the real routers on fake seams: a
// transport nobody else speaks on (each router becomes master), addresses
// kept in a map, links always up.

type quietTransport struct {
	closed chan struct{}
	once   sync.Once
}

func (q *quietTransport) Recv() (vrrp.Datagram, error) {
	<-q.closed
	return vrrp.Datagram{}, net.ErrClosed
}
func (q *quietTransport) Send([]byte, netip.Addr, netip.Addr) error { return nil }
func (q *quietTransport) Primary([]netip.Addr) (netip.Addr, error) {
	return netip.MustParseAddr("192.0.2.1"), nil
}
func (q *quietTransport) Close() error { q.once.Do(func() { close(q.closed) }); return nil }

type mapAddrs struct {
	mu   sync.Mutex
	have map[netip.Addr]bool
}

func (m *mapAddrs) Add(v vrrp.VIP) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.have[v.Prefix.Addr()] = true
	return nil
}
func (m *mapAddrs) Remove(v vrrp.VIP) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.have, v.Prefix.Addr())
	return nil
}
func (m *mapAddrs) Has(v vrrp.VIP) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.have[v.Prefix.Addr()], nil
}
func (m *mapAddrs) Watch(context.Context) (<-chan vrrp.AddrEvent, error) {
	return make(chan vrrp.AddrEvent), nil
}

type upLinks struct{}

func (upLinks) Up(string) (bool, error) { return true, nil }
func (upLinks) Watch(context.Context) (<-chan vrrp.LinkEvent, error) {
	return make(chan vrrp.LinkEvent), nil
}

type noAnnounce struct{}

func (noAnnounce) Announce(string, []netip.Addr, int, time.Duration) error { return nil }

type okRunner struct{}

func (okRunner) Start([]string, runas.Who) error                               { return nil }
func (okRunner) Run(context.Context, []string, runas.Who, time.Duration) error { return nil }

func quietVRRPEnv(addrs *mapAddrs) func(*slog.Logger) (vrrp.Env, error) {
	return func(*slog.Logger) (vrrp.Env, error) {
		return vrrp.Env{
			Listen: func(vrrp.TransportConfig) (vrrp.Transport, error) {
				return &quietTransport{closed: make(chan struct{})}, nil
			},
			Addresses: addrs, Links: upLinks{}, Announcer: noAnnounce{}, Runner: okRunner{},
		}, nil
	}
}

// vrrpOnlyYAML is a file with one VRRP instance and, if services, one
// virtual server.
func vrrpOnlyYAML(dir string, services bool) string {
	y := fmt.Sprintf(`global:
  control_socket: %[1]s/lbd.sock
  state_dir: %[1]s
  metrics_address: ""
  resync_interval: 1s
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      advert_interval: 1
      virtual_ipaddresses: [{address: 192.0.2.100/24}]
`, dir)
	if services {
		y += `virtual_servers:
  - address: 192.0.2.100
    port: 80
    real_servers:
      - address: 198.51.100.1
`
	}
	return y
}

// touchedKernel is a fake IPVS that counts every read and write made on it.
func touchedKernel() (*fake.Kernel, *atomic.Int64) {
	k, n := fake.New(), &atomic.Int64{}
	k.FailRead = func(string) error { n.Add(1); return nil }
	k.FailWrite = func(string) error { n.Add(1); return nil }
	return k, n
}

// closingKernel is a fake IPVS that says when it is closed.
type closingKernel struct {
	*fake.Kernel
	closed atomic.Int64
}

func (c *closingKernel) Close() error { c.closed.Add(1); return nil }

// noIPVS is what kernel.Open returns on a kernel without IPVS.
var noIPVS = fmt.Errorf("open IPVS generic netlink family (is ip_vs loaded?): %w", os.ErrNotExist)

type vrrpOnlyFixture struct {
	d     *Daemon
	addrs *mapAddrs
	logs  *syncBuf
	path  string
}

// runVRRPOnly starts a daemon on the file y with opts (the VRRP seams and
// logs added), and stops it at the end of the test.
func runVRRPOnly(t *testing.T, dir, y string, opts Options) *vrrpOnlyFixture {
	t.Helper()
	f := &vrrpOnlyFixture{addrs: &mapAddrs{have: map[netip.Addr]bool{}}, logs: &syncBuf{}, path: filepath.Join(dir, "lbd.yaml")}
	if err := os.WriteFile(f.path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.VRRPEnv, opts.LogOutput, opts.Notify = quietVRRPEnv(f.addrs), f.logs, func(string) {}
	d, err := New(f.path, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop")
		}
		if t.Failed() {
			t.Logf("logs:\n%s", f.logs.String())
		}
	})
	waitFor(t, "VI_1 MASTER holding its VIP", func() bool {
		st := d.Status(context.Background())
		has, _ := f.addrs.Has(vrrp.VIP{Prefix: netip.MustParsePrefix("192.0.2.100/24")})
		return len(st.VRRP) == 1 && st.VRRP[0].State == "MASTER" && has
	})
	return f
}

func (f *vrrpOnlyFixture) reload(t *testing.T, y string, force bool) (control.ReloadResult, error) {
	t.Helper()
	if err := os.WriteFile(f.path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return f.d.Reload(context.Background(), control.ReloadRequest{Force: force})
}

// Without virtual servers lbd runs VRRP and never touches IPVS: a kernel
// it is given is not read or written, an opener is not called; the status
// says VRRP only, a resync says there is no table, and the metrics have
// no IPVS series.
func TestVRRPOnlyLeavesIPVSAlone(t *testing.T) {
	k, touched := touchedKernel()
	var opened atomic.Int64
	tests := []struct {
		name string
		opts Options
	}{
		{name: "a kernel given", opts: Options{Kernel: k}},
		{name: "an opener given", opts: Options{OpenKernel: func() (Kernel, error) { opened.Add(1); return k, nil }}},
		{name: "an opener on a kernel without IPVS", opts: Options{OpenKernel: func() (Kernel, error) { opened.Add(1); return nil, noIPVS }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			f := runVRRPOnly(t, dir, vrrpOnlyYAML(dir, false), tt.opts)
			st := f.d.Status(context.Background())
			if !st.IPVS.VRRPOnly || st.IPVS.Error != "" || len(st.IPVS.Table.Services) != 0 {
				t.Errorf("status IPVS %+v, want VRRP only", st.IPVS)
			}
			if _, err := f.d.Resync(context.Background()); err == nil || !strings.Contains(err.Error(), "VRRP only") {
				t.Errorf("resync: %v, want the VRRP-only refusal", err)
			}
			rec := httptest.NewRecorder()
			metrics.Handler(f.d.metricsSources()).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if body := rec.Body.String(); strings.Contains(body, "lbd_ipvs_up") || !strings.Contains(body, "lbd_vrrp_") {
				t.Errorf("metrics: want VRRP series and no lbd_ipvs_up:\n%s", body)
			}
			// A resync interval of 1s: a resync loop would have read by now.
			time.Sleep(1500 * time.Millisecond)
			if n, o := touched.Load(), opened.Load(); n != 0 || o != 0 {
				t.Errorf("IPVS touched %d times, opened %d times, want 0 and 0", n, o)
			}
		})
	}
}

// A file with virtual servers on a kernel without IPVS fails at start with
// the message lbd has always given.
func TestServicesNeedIPVS(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(path, []byte(vrrpOnlyYAML(dir, true)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(path, Options{LogOutput: io.Discard, OpenKernel: func() (Kernel, error) { return nil, noIPVS }})
	if err == nil || !strings.Contains(err.Error(), "this kernel has no IPVS (load the ip_vs module: modprobe ip_vs)") ||
		!errors.Is(err, os.ErrNotExist) {
		t.Fatalf("New = %v, want the no-IPVS error", err)
	}
}

// A reload that adds the first virtual server opens IPVS then; on a kernel
// without IPVS it is refused and nothing changes. One that removes the
// last (forced past the removal guard) empties the table and closes IPVS:
// lbd is back to VRRP only.
func TestReloadIntoAndOutOfVRRPOnly(t *testing.T) {
	dir := t.TempDir()
	var kernels []*closingKernel
	haveIPVS := false
	open := func() (Kernel, error) {
		if !haveIPVS {
			return nil, noIPVS
		}
		k := &closingKernel{Kernel: fake.New()}
		kernels = append(kernels, k)
		return k, nil
	}
	f := runVRRPOnly(t, dir, vrrpOnlyYAML(dir, false), Options{OpenKernel: open})
	before := f.d.Config()
	trans := fmt.Sprint(f.d.Transitions())

	// No IPVS: refused, the file in force and VRRP untouched.
	_, err := f.reload(t, vrrpOnlyYAML(dir, true), false)
	if err == nil || !strings.Contains(err.Error(), "this kernel has no IPVS (load the ip_vs module: modprobe ip_vs)") {
		t.Fatalf("reload adding a service without IPVS = %v", err)
	}
	if f.d.Config() != before || !f.d.Status(context.Background()).IPVS.VRRPOnly || fmt.Sprint(f.d.Transitions()) != trans {
		t.Errorf("a refused reload changed something")
	}
	if got := f.d.Reloads()["refused"] + f.d.Reloads()["failed"]; got != 1 {
		t.Errorf("reload results %v, want the refusal counted", f.d.Reloads())
	}

	// With IPVS: opened, the service programmed, the resync loop running.
	haveIPVS = true
	if _, err := f.reload(t, vrrpOnlyYAML(dir, true), false); err != nil {
		t.Fatalf("reload adding a service with IPVS: %v", err)
	}
	if len(kernels) != 1 || len(kernels[0].Table().Services) != 1 {
		t.Fatalf("IPVS opened %d times, table %+v", len(kernels), kernels)
	}
	if st := f.d.Status(context.Background()); st.IPVS.VRRPOnly || len(st.IPVS.Table.Services) != 1 {
		t.Errorf("status after adding a service: %+v", st.IPVS)
	}
	kernels[0].ResetCounters()
	waitFor(t, "a resync read", func() bool { return kernels[0].Reads().Total() > 0 })

	// The last service removed (forced): the table emptied, IPVS closed.
	if _, err := f.reload(t, vrrpOnlyYAML(dir, false), false); err == nil {
		t.Errorf("the removal guard let the last service go unforced")
	}
	if _, err := f.reload(t, vrrpOnlyYAML(dir, false), true); err != nil {
		t.Fatalf("forced reload back to VRRP only: %v", err)
	}
	if len(kernels[0].Table().Services) != 0 || kernels[0].closed.Load() != 1 {
		t.Errorf("after the last service went: table %+v, closed %d times", kernels[0].Table(), kernels[0].closed.Load())
	}
	if st := f.d.Status(context.Background()); !st.IPVS.VRRPOnly || len(st.VRRP) != 1 || st.VRRP[0].State != "MASTER" {
		t.Errorf("status back in VRRP only: %+v %+v", st.IPVS, st.VRRP)
	}
	if fmt.Sprint(f.d.Transitions()) != trans {
		t.Errorf("the reloads flapped VRRP: %s -> %v", trans, f.d.Transitions())
	}
	kernels[0].ResetCounters()
	time.Sleep(1500 * time.Millisecond)
	if r := kernels[0].Reads().Total(); r != 0 {
		t.Errorf("%d reads after IPVS was closed: the resync loop still runs", r)
	}
}
