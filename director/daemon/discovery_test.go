package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/discovery"
	"github.com/lvsd/lb/discovery/discoverytest"
	"github.com/lvsd/lb/internal/config"
)

// discFixture is lbd on the fake kernel with its discovery on the fake
// ZooKeeper: one service, one static real server, members from /sgroup
// checked (tcp) against a local listener.
type discFixture struct {
	*fixture
	zk    *discoverytest.ZK
	check string       // host:port of the checks' listener
	ln    net.Listener // the checks' listener: closed, every member's check fails
	edit  func(string) string
}

func discoveryConfig(dir, check, discovery string) string {
	host, port, _ := net.SplitHostPort(check)
	return fmt.Sprintf(`global:
  control_socket: %s/lbd.sock
  state_dir: %s
  metrics_address: ""
  resync_interval: 1h
virtual_servers:
  - address: 192.0.2.10
    port: 80
    scheduler: rr
    real_servers:
      - address: 198.51.100.1
    discovery:
      zookeeper: ["zk1:2181", "zk2:2181", "zk3:2181"]
      path: /sgroup
      delay_loop: 50ms
      connect_timeout: 1s
      retry: 0
      checks:
        - type: tcp
          connect_ip: %s
          connect_port: %s
%s`, dir, dir, host, port, discovery)
}

func startDiscovery(t *testing.T, extra string) *discFixture {
	t.Helper()
	z := discoverytest.New()
	z.Mkdir("/sgroup")
	return startDiscoveryOn(t, z.Dial, z, func(c string) string { return c }, extra)
}

// startDiscoveryOn starts lbd with dial as its ZooKeeper dialer; edit
// changes the configuration written (the ensemble's addresses).
func startDiscoveryOn(t *testing.T, dial DiscoveryDialer, z *discoverytest.ZK, edit func(string) string, extra string) *discFixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dir := t.TempDir()
	f := &discFixture{fixture: &fixture{dir: dir, cfg: filepath.Join(dir, "lbd.yaml"), sock: filepath.Join(dir, "lbd.sock"),
		k: fake.New(), logs: &syncBuf{}}, zk: z, check: ln.Addr().String(), ln: ln, edit: edit}
	f.write(t, extra)
	d, err := New(f.cfg, Options{Kernel: f.k, LogOutput: f.logs, LogLevel: "debug", Notify: func(string) {},
		Discovery: dial})
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	f.cancel, f.done = runDaemon(t, d, f.logs.String)
	waitFor(t, "control socket", func() bool { _, err := os.Stat(f.sock); return err == nil })
	return f
}

func (f *discFixture) write(t *testing.T, extra string) {
	t.Helper()
	if err := os.WriteFile(f.cfg, []byte(f.edit(discoveryConfig(f.dir, f.check, extra))), 0o600); err != nil {
		t.Fatal(err)
	}
}

// awaitDests waits until the table holds exactly addrs (weight 1 each).
func (f *discFixture) awaitDests(t *testing.T, addrs ...string) {
	t.Helper()
	want := map[string]uint32{}
	for _, a := range addrs {
		want[a] = 1
	}
	waitFor(t, fmt.Sprintf("destinations %v", addrs), func() bool { return eqDests(f.dests(), want) })
}

// settle waits until the table has not been written for a while.
func (f *discFixture) settle() {
	last, stable := f.k.Writes(), 0
	for stable < 5 {
		time.Sleep(40 * time.Millisecond)
		if w := f.k.Writes(); w != last {
			last, stable = w, 0
			continue
		}
		stable++
	}
}

// TestDaemonDiscoveryFollowsRegistry: members registered as the seed's
// AppServer does enter the table, each join and leave one IPVS write; the
// registry lost changes nothing and is stale; back, the diff is applied; a
// removal of too large a share is held until confirmed.
func TestDaemonDiscoveryFollowsRegistry(t *testing.T) {
	f := startDiscovery(t, "")
	f.awaitDests(t, "198.51.100.1")

	var znodes []string
	for i := 2; i <= 4; i++ {
		f.settle()
		f.k.ResetCounters()
		znodes = append(znodes, f.zk.Create("/sgroup", "sub", fmt.Sprintf("198.51.100.%d:80", i)))
		want := []string{}
		for j := 1; j <= i; j++ {
			want = append(want, fmt.Sprintf("198.51.100.%d", j))
		}
		f.awaitDests(t, want...)
		f.settle()
		if w := f.k.Writes(); w != 1 {
			t.Errorf("join of member %d: %d IPVS writes, want 1 (%v)", i, w, f.k.Log())
		}
	}
	st := f.d.Status(context.Background())
	sources := map[string]string{}
	for _, rs := range st.RealServers {
		sources[rs.Address.String()] = rs.Source
	}
	if sources["198.51.100.1"] != "static" || sources["198.51.100.2"] != "zk:/sgroup/"+znodes[0] {
		t.Errorf("sources %v", sources)
	}

	// One leave: one write.
	f.settle()
	f.k.ResetCounters()
	f.zk.Delete("/sgroup", znodes[2])
	f.awaitDests(t, "198.51.100.1", "198.51.100.2", "198.51.100.3")
	f.settle()
	if w := f.k.Writes(); w != 1 {
		t.Errorf("leave: %d IPVS writes, want 1 (%v)", w, f.k.Log())
	}

	// The registry lost: nothing changes, the state is stale.
	f.zk.SetState(zk.StateDisconnected)
	waitFor(t, "stale", func() bool { return discStatus(f).Stale })
	f.zk.Delete("/sgroup", znodes[1]) // unseen while lost
	time.Sleep(300 * time.Millisecond)
	f.awaitDests(t, "198.51.100.1", "198.51.100.2", "198.51.100.3")
	if !strings.Contains(f.logs.String(), "discovery stale") {
		t.Error("no \"discovery stale\" log")
	}
	if ms := f.d.discoveryMetrics(); len(ms) != 1 || !ms[0].Stale || ms[0].SessionUp || ms[0].Members != 2 || ms[0].Static != 1 ||
		ms[0].Events["stale"] != 1 || ms[0].Events["applied"] < 4 {
		t.Errorf("metrics while stale: %+v", ms)
	}
	// Back: re-listed, the diff applied.
	f.zk.SetState(zk.StateHasSession)
	f.awaitDests(t, "198.51.100.1", "198.51.100.2")
	waitFor(t, "fresh", func() bool { return !discStatus(f).Stale })

	// Confirm with nothing held is refused (over the control socket, as
	// lbctl asks).
	client := control.NewClient(f.sock)
	if _, err := client.ConfirmDiscovery(context.Background(), "TCP 192.0.2.10:80"); err == nil || !strings.Contains(err.Error(), errNothingHeld.Error()) {
		t.Errorf("confirm with nothing held: %v, want %v", err, errNothingHeld)
	}
	if _, err := client.ConfirmDiscovery(context.Background(), "TCP 192.0.2.99:80"); err == nil || !strings.Contains(err.Error(), "has no discovery") {
		t.Errorf("confirm of a service without discovery: %v", err)
	}
	// 2 of a pool of 3 (1 static) vanishing is 2/3 > 1/2: held...
	f.zk.Create("/sgroup", "sub", "198.51.100.5:80")
	f.awaitDests(t, "198.51.100.1", "198.51.100.2", "198.51.100.5")
	f.settle()
	f.zk.Delete("/sgroup", f.zk.Children("/sgroup")...)
	waitFor(t, "held", func() bool { return discStatus(f).Held != nil })
	f.awaitDests(t, "198.51.100.1", "198.51.100.2", "198.51.100.5")
	if h := discStatus(f).Held; h.Remove != 2 {
		t.Errorf("held update removes %d, want 2", h.Remove)
	}
	// ... until an operator confirms it.
	res, err := client.ConfirmDiscovery(context.Background(), "TCP 192.0.2.10:80")
	if err != nil {
		t.Fatal(err)
	}
	if res.Apply == nil || res.Apply.Writes != 2 {
		t.Errorf("confirm applied %+v, want 2 writes (2 members removed)", res.Apply)
	}
	f.awaitDests(t, "198.51.100.1")
	if discStatus(f).Held != nil {
		t.Error("still held after confirm")
	}
}

// discStatus is the first service's discovery status.
func discStatus(f *discFixture) control.Discovery {
	ds := f.d.Status(context.Background()).Discovery
	if len(ds) == 0 {
		return control.Discovery{}
	}
	return ds[0]
}

// TestDaemonDiscoveryReload: a reload that leaves the discovery settings
// unchanged (or changes only the check templates) keeps the watch and the
// connection, and the members stay; a new path re-subscribes on the same
// connection; removing discovery drops the members and closes it.
func TestDaemonDiscoveryReload(t *testing.T) {
	f := startDiscovery(t, "")
	f.zk.Create("/sgroup", "sub", "198.51.100.2:80")
	f.zk.Create("/other", "sub", "198.51.100.7:80")
	f.awaitDests(t, "198.51.100.1", "198.51.100.2")
	reload := func(cfg string) {
		t.Helper()
		if err := os.WriteFile(f.cfg, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := f.d.Reload(context.Background(), control.ReloadRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	base := discoveryConfig(f.dir, f.check, "")
	f.settle()
	f.k.ResetCounters()
	reload(base) // unchanged
	reload(strings.Replace(base, "retry: 0", "retry: 1", 1))
	f.settle()
	if w := f.k.Writes(); w != 0 {
		t.Errorf("reloads that keep the discovery: %d writes, want 0 (%v)", w, f.k.Log())
	}
	if dials, closed := f.zk.Dials(); dials != 1 || closed != 0 {
		t.Errorf("after unchanged reloads: %d dials, %d closed; want 1, 0", dials, closed)
	}
	f.awaitDests(t, "198.51.100.1", "198.51.100.2")

	reload(strings.Replace(base, "path: /sgroup", "path: /other", 1))
	f.awaitDests(t, "198.51.100.1", "198.51.100.7")
	if dials, closed := f.zk.Dials(); dials != 1 || closed != 0 {
		t.Errorf("after a new path: %d dials, %d closed; want 1, 0 (the same ensemble)", dials, closed)
	}
	st := f.d.Status(context.Background())
	for _, rs := range st.RealServers {
		if rs.Address.String() == "198.51.100.7" && rs.Source != "zk:/other/sub0000000002" {
			t.Errorf("source %q", rs.Source)
		}
	}

	noDisc := base[:strings.Index(base, "    discovery:")]
	reload(noDisc)
	f.awaitDests(t, "198.51.100.1")
	if dials, closed := f.zk.Dials(); dials != 1 || closed != 1 {
		t.Errorf("after removing discovery: %d dials, %d closed; want 1, 1", dials, closed)
	}
	if ds := f.d.Status(context.Background()).Discovery; len(ds) != 0 {
		t.Errorf("discovery status after removing it: %+v", ds)
	}
}

// TestDaemonDiscoveryThousandMembers: 1,000 members registering at once
// reach the table with one IPVS write each (the applies coalesce); the
// time is logged.
func TestDaemonDiscoveryThousandMembers(t *testing.T) {
	f := startDiscovery(t, "")
	f.awaitDests(t, "198.51.100.1")
	f.settle()
	f.k.ResetCounters()
	const n = 1000
	start := time.Now()
	for i := range n {
		f.zk.Create("/sgroup", "sub", fmt.Sprintf("10.1.%d.%d:80", i/250, i%250+1))
	}
	waitFor(t, "1,000 members in the table", func() bool { return len(f.dests()) == n+1 })
	took := time.Since(start)
	f.settle()
	if w := f.k.Writes(); w != n {
		t.Errorf("%d IPVS writes for %d joins, want %d", w, n, n)
	}
	applies, longest := 0, time.Duration(0)
	for _, line := range strings.Split(f.logs.String(), "\n") {
		if _, rest, ok := strings.Cut(line, `msg="discovery applied" writes=`); ok {
			if _, d, ok := strings.Cut(rest, "took="); ok {
				if dd, err := time.ParseDuration(d); err == nil {
					applies++
					longest = max(longest, dd)
				}
			}
		}
	}
	t.Logf("%d members: in the table %v after the first registration; %d IPVS writes; %d discovery applies, the longest %v",
		n, took, f.k.Writes(), applies, longest)
}

// TestDaemonDiscoveryRestartKeepsMembers: lbd restarted while ZooKeeper is
// unreachable keeps the members the kernel holds (no write, not stale
// removal); when ZooKeeper answers, the first list applies the difference
// only.
func TestDaemonDiscoveryRestartKeepsMembers(t *testing.T) {
	f := startDiscovery(t, "")
	f.zk.Create("/sgroup", "sub", "198.51.100.2:80")
	f.zk.Create("/sgroup", "sub", "198.51.100.3:80")
	f.awaitDests(t, "198.51.100.1", "198.51.100.2", "198.51.100.3")
	f.settle()
	f.cancel()
	if err := <-f.done; err != nil {
		t.Fatal(err)
	}
	f.done <- nil // for the first fixture's cleanup

	// lbd starts again on the same kernel, ZooKeeper lost.
	f.zk.SetState(zk.StateDisconnected)
	f.k.ResetCounters()
	d, err := New(f.cfg, Options{Kernel: f.k, LogOutput: f.logs, LogLevel: "debug", Notify: func(string) {}, Discovery: f.zk.Dial})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d, nil) // the first fixture's cleanup shows the shared log
	waitFor(t, "stale", func() bool {
		ds := d.Status(context.Background()).Discovery
		return len(ds) == 1 && ds[0].Stale
	})
	time.Sleep(300 * time.Millisecond)
	f.awaitDests(t, "198.51.100.1", "198.51.100.2", "198.51.100.3")
	if w := f.k.Writes(); w != 0 {
		t.Errorf("restart with ZooKeeper lost: %d writes, want 0 (%v)", w, f.k.Log())
	}
	// ZooKeeper back, one member gone meanwhile: one write.
	f.zk.Delete("/sgroup", f.zk.Children("/sgroup")[0])
	f.zk.SetState(zk.StateHasSession)
	f.awaitDests(t, "198.51.100.1", "198.51.100.3")
	f.settle()
	if w := f.k.Writes(); w != 1 {
		t.Errorf("first list after the restart: %d writes, want 1 (%v)", w, f.k.Log())
	}
}

// TestDaemonDiscoveryHeldConfirmedByHealth: an update held by the hold
// rule is released by itself when the health checks already have every
// member it removes down.
func TestDaemonDiscoveryHeldConfirmedByHealth(t *testing.T) {
	f := startDiscovery(t, "")
	for i := 2; i <= 4; i++ {
		f.zk.Create("/sgroup", "sub", fmt.Sprintf("198.51.100.%d:80", i))
	}
	f.awaitDests(t, "198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4")
	f.ln.Close() // the members' checks fail: they leave the table (the static one has none)
	f.awaitDests(t, "198.51.100.1")
	f.zk.Delete("/sgroup", f.zk.Children("/sgroup")...) // 3 of 4: beyond the hold rule
	waitFor(t, "the members gone", func() bool { return discStatus(f).Members == 0 })
	if ds := discStatus(f); ds.Held != nil {
		t.Errorf("still held: %+v", ds.Held)
	}
	if ms := f.d.discoveryMetrics(); ms[0].Events["held"] != 1 || ms[0].Events["confirmed"] != 1 {
		t.Errorf("events %v, want held 1, confirmed 1", ms[0].Events)
	}
	// The log line follows the state change (written after its lock): wait for it.
	waitFor(t, "the log of the confirmation by health checks", func() bool {
		return strings.Contains(f.logs.String(), "confirmed by health checks")
	})
}

func TestMemberServer(t *testing.T) {
	vs := config.VirtualServer{Address: netip.MustParseAddr("192.0.2.10"), Port: 80, Family: config.IPv4, Forwarding: config.DR,
		RealServers: []config.RealServer{{Address: netip.MustParseAddr("198.51.100.1"), Port: 80}},
		Discovery:   &config.Discovery{Path: "/sgroup", Forwarding: config.DR, Checks: []config.Check{{Type: config.CheckTCP}}}}
	member := func(ap, fwd string) discovery.Member {
		return discovery.Member{Znode: "sub0000000001", Addr: netip.MustParseAddrPort(ap), Weight: 2, Forwarding: fwd}
	}
	for _, tt := range []struct {
		name     string
		m        discovery.Member
		trustNew bool
		trusted  bool
		why      string // "" = a real server
		alpha    bool
	}{
		{name: "new member: alpha", m: member("198.51.100.2:80", ""), alpha: true},
		{name: "trusted (up): no alpha", m: member("198.51.100.2:80", ""), trusted: true},
		{name: "trust_new: no alpha", m: member("198.51.100.2:80", ""), trustNew: true},
		{name: "the static one wins", m: member("198.51.100.1:80", ""), why: "a static real server has the same address and port"},
		{name: "another family", m: member("[2001:db8::1]:80", ""), why: "ipv6 member in an ipv4 service"},
		{name: "loopback", m: member("127.0.0.1:80", ""), why: "not a real server's address"},
		{name: "the VIP", m: member("192.0.2.10:80", ""), why: "the service's own address"},
		{name: "DR port differs", m: member("198.51.100.2:8080", ""), why: "DR port 8080 differs from the service port 80"},
		{name: "NAT may change the port", m: member("198.51.100.2:8080", "NAT"), alpha: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := vs
			dc := *vs.Discovery
			dc.TrustNew = tt.trustNew
			v.Discovery = &dc
			rs, why := memberServer(&v, tt.m, tt.trusted)
			if !strings.HasPrefix(why, tt.why) || (tt.why == "") != (why == "") {
				t.Fatalf("why %q, want %q", why, tt.why)
			}
			if why != "" {
				return
			}
			if rs.Source != "/sgroup/sub0000000001" || rs.Weight != 2 || len(rs.Checks) != 1 || (rs.Alpha != nil && *rs.Alpha) != tt.alpha {
				t.Errorf("real server %+v (alpha %v), want source /sgroup/sub0000000001, weight 2, the template, alpha %v",
					rs, rs.Alpha != nil && *rs.Alpha, tt.alpha)
			}
		})
	}
}
