//go:build netns

package daemon

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/birdconf"
	"github.com/lvsd/lb/internal/netnslab"
)

// The BGP netns test (issue 16): a router namespace runs Debian's bird2
// with merge paths (real ECMP in its kernel), three director namespaces
// each run the real daemon on the fake IPVS kernel (fakelbd: the host has
// no IPVS) with GoBGP embedded, all on one LAN.

const (
	bgpVIP    = "192.0.2.10"
	routerIP  = "10.9.0.254"
	checkPort = 8080
)

// bgpDirectorConfig is director i's lbd.yaml: one service at the VIP whose
// one real server's check connects to 127.0.0.1:8080 in the director's
// namespace (the test owns that listener: closing it loses the quorum).
func bgpDirectorConfig(dir string, i int, bfd bool) string {
	peerBFD := ""
	if bfd {
		peerBFD = "\n      bfd: {min_rx: 100ms, min_tx: 100ms, multiplier: 3}"
	}
	return fmt.Sprintf(`global:
  control_socket: %[1]s/lbd.sock
  state_dir: %[1]s
  metrics_address: ""
virtual_servers:
  - address: %[2]s
    port: 80
    scheduler: mh
    scheduler_flags: [mh-fallback]
    announce: true
    delay_loop: 200ms
    connect_timeout: 1s
    retry: 0
    real_servers:
      - address: 10.9.1.1
        checks:
          - type: tcp
            connect_ip: 127.0.0.1
            connect_port: %[3]d
bgp:
  asn: 65001
  router_id: 10.9.0.%[4]d
  drain_period: 2s
  peers:
    - address: %[5]s
      asn: 65000
      hold_time: 3s%[6]s
`, dir, bgpVIP, checkPort, i, routerIP, peerBFD)
}

type bgpDirector struct {
	ns    *netnslab.Namespace
	cmd   *exec.Cmd
	logs  *syncBuf
	check net.Listener
	done  chan error
}

// nextHops is the router's next hops for the VIP (none: no route).
func nextHops(t *testing.T, r *netnslab.Namespace) []string {
	t.Helper()
	out, err := r.Run(context.Background(), "ip", "route", "show", bgpVIP+"/32")
	if err != nil {
		t.Fatal(err)
	}
	var hops []string
	for _, m := range regexp.MustCompile(`via (\S+)`).FindAllStringSubmatch(out, -1) {
		hops = append(hops, m[1])
	}
	slices.Sort(hops)
	return hops
}

// waitHops polls the router's route every 2 ms until its next hops are
// want, and returns how long that took.
func waitHops(t *testing.T, r *netnslab.Namespace, want []string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := nextHops(t, r)
		if slices.Equal(got, want) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			out, _ := r.Run(context.Background(), "ip", "route")
			t.Fatalf("router next hops for %s: %v, want %v after %s\n%s", bgpVIP, got, want, limit, out)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func hops(ids ...int) []string {
	var out []string
	for _, i := range ids {
		out = append(out, fmt.Sprintf("10.9.0.%d", i))
	}
	return out
}

func startBird(t *testing.T, r *netnslab.Namespace, dir string, directors int, bfd bool) {
	t.Helper()
	var ids []int
	for i := 1; i <= directors; i++ {
		ids = append(ids, i)
	}
	conf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(birdconf.Router(routerIP, hops(ids...), bfd)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("bird"); err != nil {
		t.Fatalf("bird2 is not installed (.ci/deps installs it): %v", err)
	}
	var logs syncBuf
	cmd := r.Command(context.Background(), "bird", "-f", "-c", conf, "-s", filepath.Join(dir, "bird.ctl"), "-P", filepath.Join(dir, "bird.pid"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("bird:\n%s", logs.String())
		}
	})
}

func startBGPDirector(t *testing.T, bin string, ns *netnslab.Namespace, i int, bfd bool) *bgpDirector {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(cfg, []byte(bgpDirectorConfig(dir, i, bfd)), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := ns.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", checkPort))
	if err != nil {
		t.Fatal(err)
	}
	go func() { // accept and close: the tcp check passes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	d := &bgpDirector{ns: ns, logs: &syncBuf{}, check: ln, done: make(chan error, 1)}
	d.cmd = ns.Command(context.Background(), bin, "-c", cfg)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		ln.Close()
		_ = d.cmd.Process.Kill()
		<-d.done
		d.done <- nil
		if t.Failed() {
			t.Logf("director %d:\n%s", i, d.logs.String())
		}
	})
	return d
}

// exited reports whether the director's process has ended.
func (d *bgpDirector) exited() bool {
	select {
	case err := <-d.done:
		d.done <- err
		return true
	default:
		return false
	}
}

// TestNetnsBGPECMP proves with a real router (bird2, merge paths) and
// three directors: the VIP is one multipath route with a next hop per
// director; a graceful stop withdraws before the daemon exits; a director
// whose service loses quorum withdraws; a killed director's next hop goes
// when its TCP session closes, and a frozen one's after the hold time (3 s).
func TestNetnsBGPECMP(t *testing.T) {
	bin, err := netnslab.GoBuild(t.TempDir(), "github.com/lvsd/lb/director/daemon/internal/fakelbd")
	if err != nil {
		t.Fatal(err)
	}
	lab, lan, nss := netnslab.LANT(t, "bgp", 3)
	r, err := lab.AddHost("r", lan, netip.MustParsePrefix(routerIP+"/24"))
	if err != nil {
		t.Fatal(err)
	}
	startBird(t, r, t.TempDir(), 3, false)
	ds := make([]*bgpDirector, 3)
	for i := range ds {
		ds[i] = startBGPDirector(t, bin, nss[i], i+1, false)
	}
	up := waitHops(t, r, hops(1, 2, 3), 60*time.Second)
	t.Logf("the router has one route to %s with 3 next hops after %s", bgpVIP, up)
	// The VIP is on lo in each director, with ARP kept quiet for it.
	for i, ns := range nss {
		on, err := ns.HasAddress("lo", netip.MustParseAddr(bgpVIP))
		ignore, _ := ns.ReadSysctl("net.ipv4.conf.all.arp_ignore")
		announce, _ := ns.ReadSysctl("net.ipv4.conf.all.arp_announce")
		if err != nil || !on || ignore != "1" || announce != "2" {
			t.Errorf("director %d: VIP on lo %v (%v), arp_ignore %s, arp_announce %s", i+1, on, err, ignore, announce)
		}
	}

	// Graceful stop of director 3: withdrawn while it still runs (drain 2s).
	stopAt := time.Now()
	if err := ds[2].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	graceful := waitHops(t, r, hops(1, 2), 10*time.Second)
	if ds[2].exited() {
		t.Errorf("director 3 exited before the router dropped its next hop: the withdraw came after the stop")
	}
	select {
	case <-ds[2].done:
		ds[2].done <- nil
	case <-time.After(15 * time.Second):
		t.Fatal("director 3 did not exit after SIGTERM")
	}
	exitAfter := time.Since(stopAt)
	if on, err := nss[2].HasAddress("lo", netip.MustParseAddr(bgpVIP)); err != nil || on {
		t.Errorf("director 3 left the VIP on lo after its stop (%v)", err)
	}
	if !strings.Contains(ds[2].logs.String(), "routes withdrawn for the stop") {
		t.Errorf("director 3 logged no withdraw for the stop")
	}
	t.Logf("graceful stop: next hop gone after %s; the daemon exited after %s (drain_period 2s)", graceful, exitAfter)

	// Quorum loss on director 2: its only real server's check fails.
	lostAt := time.Now()
	ds[1].check.Close()
	quorum := waitHops(t, r, hops(1), 15*time.Second)
	t.Logf("quorum loss: next hop gone %s after the check's listener closed (checks every 200ms)", quorum)
	_ = lostAt

	// A frozen director 1 (SIGSTOP: no FIN, no RST): routed around after the hold time.
	freezeAt := time.Now()
	if err := ds[0].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := waitHops(t, r, nil, 10*time.Second)
	t.Logf("frozen director (hold time 3s): route gone after %s", frozen)
	if frozen < 1500*time.Millisecond {
		t.Errorf("the frozen director's route went after %s: before the hold time could expire", frozen)
	}
	_ = freezeAt
	_ = ds[0].cmd.Process.Signal(syscall.SIGCONT)
	waitHops(t, r, hops(1), 30*time.Second) // the session comes back

	// kill -9 of director 1: the kernel closes its TCP session.
	if err := ds[0].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := waitHops(t, r, nil, 10*time.Second)
	t.Logf("kill -9: route gone after %s", killed)
	var report bytes.Buffer
	fmt.Fprintf(&report, "BGP numbers: graceful withdraw %s, quorum loss %s, frozen (hold 3s) %s, kill -9 %s", graceful, quorum, frozen, killed)
	t.Log(report.String())
}

// TestNetnsBGPBFD proves GoBGP's BFD (bfd: on the peer, 100 ms x 3)
// interoperates with bird2's: a frozen director (SIGSTOP: its BGP session
// stays open, only its packets stop) is routed around in well under the
// hold time (3 s), each of several times; the anchor, bird2 with
// BFD 100 ms x 3 on the directors, is 0.29 s.
func TestNetnsBGPBFD(t *testing.T) {
	bin, err := netnslab.GoBuild(t.TempDir(), "github.com/lvsd/lb/director/daemon/internal/fakelbd")
	if err != nil {
		t.Fatal(err)
	}
	lab, lan, nss := netnslab.LANT(t, "bfd", 2)
	r, err := lab.AddHost("r", lan, netip.MustParsePrefix(routerIP+"/24"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	startBird(t, r, dir, 2, true)
	ds := []*bgpDirector{startBGPDirector(t, bin, nss[0], 1, true), startBGPDirector(t, bin, nss[1], 2, true)}
	waitHops(t, r, hops(1, 2), 60*time.Second)
	ctl := filepath.Join(dir, "bird.ctl")
	waitBFDUp(t, r, ctl, 2, 30*time.Second)

	var times []time.Duration
	for round := range 3 {
		if err := ds[0].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		frozen := waitHops(t, r, hops(2), 10*time.Second)
		times = append(times, frozen)
		t.Logf("round %d: frozen director (BFD 100ms x 3, hold 3s) routed around after %s", round+1, frozen)
		// BFD's bound is 300 ms; 2 s leaves room for a busy machine and
		// still fails when only the hold time (3 s) would have caught it.
		if frozen > 2*time.Second {
			t.Errorf("round %d: the frozen director's route went after %s: the hold time, not BFD", round+1, frozen)
		}
		if err := ds[0].cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		waitHops(t, r, hops(1, 2), 60*time.Second)
		waitBFDUp(t, r, ctl, 2, 30*time.Second)
	}
	t.Logf("BFD numbers: frozen director routed around after %v (anchor: bird2 with BFD 100ms x 3, 0.29 s)", times)
}

// waitBFDUp waits until bird lists n BFD sessions Up.
func waitBFDUp(t *testing.T, r *netnslab.Namespace, ctl string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var out string
	for time.Now().Before(deadline) {
		out, _ = r.Run(context.Background(), "birdc", "-s", ctl, "show", "bfd", "sessions")
		if strings.Count(out, " Up ") >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("bird: %d BFD sessions not up after %s:\n%s", n, limit, out)
}
