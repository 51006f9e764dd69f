package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/bgp"
	"github.com/lvsd/lb/bgp/bgptest"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel/fake"
)

// fakeVIPs records the VIPs put on devices.
type fakeVIPs struct {
	mu  sync.Mutex
	on  map[netip.Prefix]string
	log []string
}

func (f *fakeVIPs) Add(dev string, p netip.Prefix) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on[p] = dev
	f.log = append(f.log, "add "+p.String()+" "+dev)
	return true, nil
}

func (f *fakeVIPs) Remove(dev string, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.on, p)
	f.log = append(f.log, "remove "+p.String()+" "+dev)
	return nil
}

func (f *fakeVIPs) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

const bgpSection = `bgp:
  asn: 65001
  router_id: 10.0.0.9
  drain_period: 300ms
  announce: [192.0.2.10]
  peers:
    - address: 10.0.0.1
      asn: 65000
      hold_time: 3s
`

// TestDaemonBGP: the VIP is announced once its service is programmed,
// withdrawn when the service loses quorum and announced again when it is
// back; a graceful stop withdraws, waits the drain period and only then
// stops the speaker and takes the VIP off its device.
func TestDaemonBGP(t *testing.T) {
	backends[0], backends[1] = newBackend(t), newBackend(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lbd.yaml")
	writeConfig(t, cfg, dir, 3, false, bgpSection)
	sp, vips, logs := &bgptest.Speaker{}, &fakeVIPs{on: map[netip.Prefix]string{}}, &syncBuf{}
	d, err := New(cfg, Options{Kernel: fake.New(), LogOutput: logs, LogLevel: "debug", Notify: func(string) {},
		BGPSpeaker: func(*slog.Logger) bgp.Speaker { return sp }, BGPAddrs: vips})
	if err != nil {
		t.Fatal(err)
	}
	cancel, done := runDaemon(t, d, logs.String)
	vip := netip.MustParsePrefix("192.0.2.10/32")
	announced := func() bool { r := sp.Routes(); return len(r) == 1 && r[0].Prefix == vip }
	waitFor(t, "VIP announced", announced)
	if running, g := sp.Running(); !running || g.ASN != 65001 || g.RouterID != netip.MustParseAddr("10.0.0.9") {
		t.Errorf("speaker running %v as %+v", running, g)
	}
	if p := sp.PeerConfigs(); len(p) != 1 || p[0].HoldTime != 3*time.Second || p[0].Keepalive != time.Second || p[0].Port != 179 {
		t.Errorf("peers %+v", p)
	}
	if got := vips.Log(); !reflect.DeepEqual(got, []string{"add 192.0.2.10/32 lo"}) {
		t.Errorf("VIP device: %q", got)
	}

	cst, err := control.NewClient(filepath.Join(dir, "lbd.sock")).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b := cst.BGP; b == nil || b.ASN != 65001 || len(b.Peers) != 1 || b.Peers[0].State != bgp.Established ||
		len(b.Prefixes) != 1 || !b.Prefixes[0].Announced {
		t.Errorf("control status BGP: %+v", cst.BGP)
	}
	if m := d.bgpMetrics(); m == nil || len(m.Prefixes) != 1 || !m.Prefixes[0].Announced || m.Peers[0].State != "established" {
		t.Errorf("metrics BGP: %+v", m)
	}

	backends[0].fail.Store(true)
	backends[1].fail.Store(true)
	waitFor(t, "VIP withdrawn on quorum loss", func() bool { return len(sp.Routes()) == 0 })
	st, err := d.bgpStatus(context.Background())
	if err != nil || st == nil || len(st.Prefixes) != 1 || st.Prefixes[0].Reason != bgp.QuorumLost {
		t.Errorf("status after quorum loss: %+v, %v", st, err)
	}
	backends[0].fail.Store(false)
	waitFor(t, "VIP announced again", announced)

	// lbctl drain-director over the socket (POST /v1/director/drain):
	// every route withdrawn (draining), saved in state_dir, then back.
	cl := control.NewClient(filepath.Join(dir, "lbd.sock"))
	dd, err := cl.SetDirectorDrain(context.Background(), control.DirectorDrainRequest{Drain: true})
	if err != nil || !dd.Drained || dd.BGP == nil || !dd.BGP.Draining || len(sp.Routes()) != 0 ||
		len(dd.BGP.Prefixes) != 1 || dd.BGP.Prefixes[0].Reason != string(bgp.Draining) {
		t.Errorf("director drain: %+v (routes %v), %v", dd, sp.Routes(), err)
	}
	if saved, err := os.ReadFile(filepath.Join(dir, overridesFileName)); err != nil || !strings.Contains(string(saved), `"drained": true`) {
		t.Errorf("director drain not saved: %s %v", saved, err)
	}
	if dd, err := cl.SetDirectorDrain(context.Background(), control.DirectorDrainRequest{}); err != nil || dd.BGP == nil || dd.BGP.Draining || !dd.BGP.Prefixes[0].Announced {
		t.Errorf("director undrain: %+v, %v", dd, err)
	}
	waitFor(t, "announced after the director's drain was undone", announced)

	sp.Calls()
	stopAt := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	took := time.Since(stopAt)
	done <- nil // for the cleanup's wait
	calls := sp.Calls()
	if len(calls) < 2 || calls[0] != "Withdraw 192.0.2.10/32" || calls[len(calls)-1] != "Stop " {
		t.Errorf("stop calls %q: want the withdraw first and the speaker's stop last", calls)
	}
	if took < 300*time.Millisecond {
		t.Errorf("the stop took %s: less than the drain period", took)
	}
	if got := vips.Log(); got[len(got)-1] != "remove 192.0.2.10/32 lo" {
		t.Errorf("VIP device at stop: %q", got)
	}
	if !strings.Contains(logs.String(), "routes withdrawn for the stop") {
		t.Errorf("no drain log")
	}
}

// announceCounter is the fake speaker that also records, at each
// announce, how many real servers the kernel's service has.
type announceCounter struct {
	*bgptest.Speaker
	dests func() int
	mu    sync.Mutex
	at    []int
}

func (s *announceCounter) Announce(ctx context.Context, r bgp.Route) error {
	s.mu.Lock()
	s.at = append(s.at, s.dests())
	s.mu.Unlock()
	return s.Speaker.Announce(ctx, r)
}

func (s *announceCounter) counts() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.at)
}

// TestDaemonBGPQuorumLossAndReturn: an announced service that loses
// quorum is withdrawn at once and keeps its last real server in the table
// for drain_period (what the routers still send meanwhile is served:
// removed with the withdraw, it was refused), then the table follows the
// checks; when its real servers come back the VIP is announced only with
// both in the table (bgpSettle: announced at the first, the director took
// flows with a table the other directors did not have).
func TestDaemonBGPQuorumLossAndReturn(t *testing.T) {
	backends[0], backends[1] = newBackend(t), newBackend(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lbd.yaml")
	writeConfig(t, cfg, dir, 3, false, strings.Replace(bgpSection, "drain_period: 300ms", "drain_period: 2s", 1))
	k, logs := fake.New(), &syncBuf{}
	dests := func() int {
		tb := k.Table()
		if len(tb.Services) != 1 {
			return -1
		}
		return len(tb.Services[0].Destinations)
	}
	sp := &announceCounter{Speaker: &bgptest.Speaker{}, dests: dests}
	d, err := New(cfg, Options{Kernel: k, LogOutput: logs, LogLevel: "debug", Notify: func(string) {},
		BGPSpeaker: func(*slog.Logger) bgp.Speaker { return sp }, BGPAddrs: &fakeVIPs{on: map[netip.Prefix]string{}}})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d, logs.String)
	waitFor(t, "VIP announced with both real servers", func() bool { return len(sp.Routes()) == 1 && dests() == 2 })
	backends[0].fail.Store(true)
	backends[1].fail.Store(true)
	waitFor(t, "VIP withdrawn on quorum loss", func() bool { return len(sp.Routes()) == 0 })
	if n := dests(); n < 1 {
		t.Errorf("at the withdraw the service has %d real servers, want its last ones kept for drain_period (2s)", n)
	}
	waitFor(t, "the last real server removed after drain_period", func() bool { return dests() == 0 })
	// The first back brings the quorum back; the second follows well
	// within bgpSettle.
	backends[0].fail.Store(false)
	waitFor(t, "the first real server back", func() bool { return dests() == 1 })
	time.Sleep(200 * time.Millisecond)
	backends[1].fail.Store(false)
	waitFor(t, "VIP announced again", func() bool { return len(sp.Routes()) == 1 })
	if got := sp.counts(); len(got) != 2 || got[0] != 2 || got[1] != 2 {
		t.Errorf("real servers in the kernel at each announce: %v, want [2 2] (never announced with a table still filling)", got)
	}
}

// TestDaemonBGPReload: a reload applies only what changed (a new peer is
// added, the routes stay), and one that drops the bgp section withdraws
// every route, stops the speaker and takes the VIP off its device.
func TestDaemonBGPReload(t *testing.T) {
	backends[0], backends[1] = newBackend(t), newBackend(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lbd.yaml")
	writeConfig(t, cfg, dir, 3, false, bgpSection)
	sp, vips, logs := &bgptest.Speaker{}, &fakeVIPs{on: map[netip.Prefix]string{}}, &syncBuf{}
	d, err := New(cfg, Options{Kernel: fake.New(), LogOutput: logs, LogLevel: "debug", Notify: func(string) {},
		BGPSpeaker: func(*slog.Logger) bgp.Speaker { return sp }, BGPAddrs: vips})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d, logs.String)
	waitFor(t, "VIP announced", func() bool { return len(sp.Routes()) == 1 })
	sp.Calls()

	writeConfig(t, cfg, dir, 3, false, bgpSection+"    - address: 10.0.0.2\n      asn: 65000\n")
	if _, err := d.Reload(context.Background(), control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := sp.Calls(); !reflect.DeepEqual(got, []string{"AddPeer 10.0.0.2"}) {
		t.Errorf("reload adding a peer called %q", got)
	}

	writeConfig(t, cfg, dir, 3, false, "")
	if _, err := d.Reload(context.Background(), control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := sp.Calls(); !reflect.DeepEqual(got, []string{"Withdraw 192.0.2.10/32", "Stop "}) {
		t.Errorf("reload dropping bgp called %q", got)
	}
	if running, _ := sp.Running(); running {
		t.Error("the speaker still runs")
	}
	if got := vips.Log(); got[len(got)-1] != "remove 192.0.2.10/32 lo" {
		t.Errorf("VIP device: %q", got)
	}
	if st := d.Status(context.Background()); st.BGP != nil {
		t.Errorf("status still has BGP: %+v", st.BGP)
	}
}
