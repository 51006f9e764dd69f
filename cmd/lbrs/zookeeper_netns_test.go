//go:build zookeeper && netns

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/lvsd/lb/discovery"
	"github.com/lvsd/lb/internal/netnslab"
	"github.com/lvsd/lb/internal/zklab"
)

// These tests run the real lbrs binary in a network namespace of this host
// (root: the netns tag) against a real 3-node ZooKeeper ensemble on the
// host's 127.0.0.1 (the zookeeper tag), reached from the namespace through
// forwarders whose listening sockets live in the namespace.

var vip = netip.MustParseAddr("10.9.0.100")

const sessionTimeout = 2 * time.Second

// adminSessionTimeout is the test's own reading client's (zklab grants at most 5 s).
const adminSessionTimeout = 20 * time.Second

// zkRig is the ensemble, an admin client on the host and a namespace whose
// 127.0.0.1 ports lead to the ensemble.
type zkRig struct {
	admin *zk.Conn
	ns    *netnslab.Namespace
	via   []string // the ensemble, as seen from the namespace
	fwd   []*zklab.Forwarder
	bin   string
}

func newZKRig(t *testing.T) *zkRig {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: lbrs changes the namespace's lo and sysctls")
	}
	e := zklab.Start(t, zklab.Options{})
	// The admin only reads: a long session, so a busy host's stall never
	// expires it (the lbrs under test keeps the short one).
	admin, _, err := zk.Connect(e.Servers(), adminSessionTimeout, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	for deadline := time.Now().Add(20 * time.Second); admin.State() != zk.StateHasSession; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("admin client: no session: %v", admin.State())
		}
	}
	lab := netnslab.NewT(t, "zr")
	ns, err := lab.AddNamespace("rs1")
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := zklab.ForwardEnsemble(e, func() (net.Listener, error) { return ns.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	r := &zkRig{admin: admin, ns: ns, fwd: fwd}
	for _, f := range fwd {
		t.Cleanup(func() { f.Close() })
		r.via = append(r.via, f.Addr())
	}
	if r.bin, err = netnslab.GoBuild(t.TempDir(), "github.com/lvsd/lb/cmd/lbrs", "CGO_ENABLED=0"); err != nil {
		t.Fatal(err)
	}
	return r
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// syncBuf is a goroutine-safe output sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// lbrsProc is one `lbrs run` in the namespace.
type lbrsProc struct {
	cmd  *exec.Cmd
	logs *syncBuf
	done chan struct{} // closed when it exited; err is then its exit
	err  error
}

// startLbrs runs lbrs with a register section in format f.
func (r *zkRig) startLbrs(t *testing.T, f string, drain time.Duration) *lbrsProc {
	t.Helper()
	dir := t.TempDir()
	weight := ""
	if f == "json" {
		weight = "\n  weight: 2"
	}
	cfg := fmt.Sprintf(`vips: [%s]
state_file: %s/state.json
register:
  zookeeper: ["%s"]
  session_timeout: %s
  path: /sgroup
  format: %s
  address: 10.9.1.1
  port: 80%s
  drain_timeout: %s
`, vip, dir, strings.Join(r.via, `", "`), sessionTimeout, f, weight, drain)
	file := filepath.Join(dir, "lbrs.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &lbrsProc{cmd: r.ns.Command(context.Background(), r.bin, "run", "-c", file), logs: &syncBuf{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("lbrs log:\n%s", p.logs.String())
		}
	})
	return p
}

// members reads /sgroup as a director does; nil when /sgroup is missing.
func (r *zkRig) members(t *testing.T, f discovery.Format) discovery.Set {
	t.Helper()
	var kids []string
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		kids, _, err = r.admin.Children("/sgroup")
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) { // the admin's session may be moving between servers
			t.Fatalf("children of /sgroup: %v", err)
		}
	}
	data := map[string][]byte{}
	for _, k := range kids {
		if d, _, err := r.admin.Get(path.Join("/sgroup", k)); err == nil {
			data[k] = d
		}
	}
	set, errs := discovery.Build(f, data, discovery.Defaults{Port: 80, Weight: 1})
	if len(errs) > 0 {
		t.Fatalf("members: %v", errs)
	}
	return set
}

func (r *zkRig) hasVIP(t *testing.T) bool {
	t.Helper()
	ok, err := r.ns.HasAddress("lo", vip)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// waitFor polls cond every 10 ms up to limit and returns when it held.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Time {
	t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
	}
}

// holdConn opens a TCP connection to the VIP inside the namespace (both
// ends' local address is the VIP: 2 sockets to drain) and returns its
// closer.
func (r *zkRig) holdConn(t *testing.T) func() {
	t.Helper()
	l, err := r.ns.Listen("tcp", netip.AddrPortFrom(vip, 8080).String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.ns.DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	return func() { c.Close(); s.Close() }
}

// TestNetnsZooKeeperLbrsSeed: lbrs registers the seed's layout
// (/sgroup/subNNNNNNNNNN holding host:port) only after its VIP is in
// place; a graceful stop deletes the node first and removes the VIP only
// once the connection to it ended; a second lbrs killed with SIGKILL loses
// its node within the session timeout + 1 s.
func TestNetnsZooKeeperLbrsSeed(t *testing.T) {
	r := newZKRig(t)
	p := r.startLbrs(t, "seed", 20*time.Second)
	waitFor(t, 20*time.Second, "registration", func() bool { return len(r.members(t, discovery.FormatSeed)) == 1 })
	m := r.members(t, discovery.FormatSeed)[0]
	if !r.hasVIP(t) || m.Addr.String() != "10.9.1.1:80" || !strings.HasPrefix(m.Znode, "sub") || len(m.Znode) != 13 {
		t.Fatalf("registered %+v, VIP in place %v", m, r.hasVIP(t))
	}
	logs := p.logs.String()
	if i, j := strings.Index(logs, "lbrs running"), strings.Index(logs, "VIPs and sysctls in place (READY)"); i < 0 || j < i {
		t.Errorf("registration not after the VIPs (lbrs running at %d, READY at %d):\n%s", i, j, logs)
	}

	release := r.holdConn(t)
	term := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	deleted := waitFor(t, 10*time.Second, "node deleted on SIGTERM", func() bool { return len(r.members(t, discovery.FormatSeed)) == 0 })
	if !r.hasVIP(t) {
		t.Fatal("the VIP went with the node: established connections would break")
	}
	time.Sleep(500 * time.Millisecond) // the drain waits for the held connection
	if !r.hasVIP(t) {
		t.Fatal("the VIP went while a connection to it was established")
	}
	closed := time.Now()
	release()
	gone := waitFor(t, 10*time.Second, "VIP removed after the drain", func() bool { return !r.hasVIP(t) })
	if <-p.done; p.err != nil {
		t.Fatalf("lbrs exit: %v", p.err)
	}
	t.Logf("graceful stop (seed): node deleted %v after SIGTERM; connection closed at %v, VIP removed %v after it",
		deleted.Sub(term).Round(time.Millisecond), closed.Sub(term).Round(time.Millisecond), gone.Sub(closed).Round(time.Millisecond))

	k := r.startLbrs(t, "seed", 20*time.Second)
	waitFor(t, 20*time.Second, "registration", func() bool { return len(r.members(t, discovery.FormatSeed)) == 1 })
	kill := time.Now()
	k.cmd.Process.Signal(syscall.SIGKILL)
	<-k.done
	lost := waitFor(t, 20*time.Second, "node gone after SIGKILL", func() bool { return len(r.members(t, discovery.FormatSeed)) == 0 })
	took := lost.Sub(kill)
	t.Logf("SIGKILL: node gone after %v (session timeout %v)", took.Round(time.Millisecond), sessionTimeout)
	if took > sessionTimeout+time.Second {
		t.Errorf("node gone %v after SIGKILL, more than the session timeout + 1 s", took)
	}
}

// TestNetnsZooKeeperLbrsJSON: the json format carries the weight; a
// graceful stop publishes weight 0 first, keeps the node while the
// connection to the VIP lasts, deletes it once drained, and only then
// removes the VIP.
func TestNetnsZooKeeperLbrsJSON(t *testing.T) {
	r := newZKRig(t)
	p := r.startLbrs(t, "json", 20*time.Second)
	waitFor(t, 20*time.Second, "registration", func() bool { return len(r.members(t, discovery.FormatJSON)) == 1 })
	m := r.members(t, discovery.FormatJSON)[0]
	if m.Addr.String() != "10.9.1.1:80" || m.Weight != 2 || m.Forwarding != "DR" || !r.hasVIP(t) {
		t.Fatalf("registered %+v, VIP %v", m, r.hasVIP(t))
	}
	release := r.holdConn(t)
	term := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	zero := waitFor(t, 10*time.Second, "weight 0", func() bool {
		s := r.members(t, discovery.FormatJSON)
		return len(s) == 1 && s[0].Weight == 0
	})
	time.Sleep(500 * time.Millisecond) // the drain waits for the held connection
	if len(r.members(t, discovery.FormatJSON)) != 1 || !r.hasVIP(t) {
		t.Fatal("the node or the VIP went while a connection to the VIP was established")
	}
	closed := time.Now()
	release()
	deleted := waitFor(t, 10*time.Second, "node deleted after the drain", func() bool { return len(r.members(t, discovery.FormatJSON)) == 0 })
	gone := waitFor(t, 10*time.Second, "VIP removed", func() bool { return !r.hasVIP(t) })
	if <-p.done; p.err != nil {
		t.Fatalf("lbrs exit: %v", p.err)
	}
	logs, at := p.logs.String(), -1
	for _, step := range []string{"stop: weight 0 published", "stop: draining", "stop: drained", "stop: node deleted", "stop: VIPs removed"} {
		i := strings.Index(logs, step)
		if i < at {
			t.Errorf("log: %q missing or out of order", step)
		}
		at = i
	}
	t.Logf("graceful stop (json): weight 0 %v after SIGTERM; connection closed at %v; node deleted %v and VIP removed %v after the close",
		zero.Sub(term).Round(time.Millisecond), closed.Sub(term).Round(time.Millisecond),
		deleted.Sub(closed).Round(time.Millisecond), gone.Sub(closed).Round(time.Millisecond))
}

// TestNetnsZooKeeperLbrsUnreachable: with the ensemble unreachable from
// the node, lbrs still puts its VIP in place and says READY; it registers
// once the ensemble is reachable, without a restart.
func TestNetnsZooKeeperLbrsUnreachable(t *testing.T) {
	r := newZKRig(t)
	for _, f := range r.fwd {
		f.Pause()
	}
	p := r.startLbrs(t, "seed", time.Second)
	waitFor(t, 20*time.Second, "VIP in place with the ensemble unreachable", func() bool { return r.hasVIP(t) })
	waitFor(t, 20*time.Second, "READY logged", func() bool {
		return strings.Contains(p.logs.String(), "VIPs and sysctls in place (READY)")
	})
	time.Sleep(3 * time.Second) // several connection attempts
	if m := r.members(t, discovery.FormatSeed); len(m) != 0 {
		t.Fatalf("registered through a cut: %+v", m)
	}
	if !strings.Contains(p.logs.String(), "not registered") {
		t.Errorf("the log does not say the node is not registered:\n%s", p.logs.String())
	}
	open := time.Now()
	for _, f := range r.fwd {
		f.Resume()
	}
	got := waitFor(t, 20*time.Second, "registration once reachable", func() bool { return len(r.members(t, discovery.FormatSeed)) == 1 })
	t.Logf("ensemble reachable again: registered %v later", got.Sub(open).Round(time.Millisecond))
	if !r.hasVIP(t) {
		t.Error("VIP gone")
	}

	// The ensemble unreachable again, then SIGTERM: each ZooKeeper step is
	// bounded, the VIP still goes, lbrs exits; the node goes with its
	// session's expiry.
	for _, f := range r.fwd {
		f.Pause()
	}
	term := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("lbrs did not exit within 30 s of SIGTERM with the ensemble unreachable")
	}
	exited := time.Since(term)
	if p.err != nil || r.hasVIP(t) {
		t.Fatalf("exit %v, VIP still there %v", p.err, r.hasVIP(t))
	}
	gone := waitFor(t, 20*time.Second, "node gone by expiry", func() bool { return len(r.members(t, discovery.FormatSeed)) == 0 })
	t.Logf("SIGTERM with the ensemble unreachable: exited after %v (VIP removed); node gone %v after SIGTERM",
		exited.Round(time.Millisecond), gone.Sub(term).Round(time.Millisecond))
}

// churn opens and closes a new connection to the VIP every 50 ms (inside
// the namespace: a short connection, caught as TIME_WAIT) until stop is
// called; stop returns how many were made.
func (r *zkRig) churn(t *testing.T) (stop func() int) {
	t.Helper()
	l, err := r.ns.Listen("tcp", netip.AddrPortFrom(vip, 8081).String())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	quit, done, n := make(chan struct{}), make(chan struct{}), 0
	go func() {
		defer close(done)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if c, err := r.ns.DialContext(ctx, "tcp", l.Addr().String()); err == nil {
				n++
				c.Close()
			}
			cancel()
			select {
			case <-quit:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() int { close(quit); <-done; l.Close(); return n }
}

// TestNetnsZooKeeperLbrsDrainQuiet: the drain waits for the director.
// With no connection established but new ones arriving every 50 ms (a
// director that has not applied the weight 0), lbrs keeps its VIP and its
// node; once they stop, it ends the drain after drain_quiet (the default,
// 2 s) with none new. When they never stop (a director that never sees
// the change), the drain ends at drain_timeout, logged as such. On the
// former drain (ends on the first zero count) the VIP went at once.
func TestNetnsZooKeeperLbrsDrainQuiet(t *testing.T) {
	r := newZKRig(t)
	const quiet, timeout = 2 * time.Second, 4 * time.Second
	for _, endless := range []bool{false, true} {
		p := r.startLbrs(t, "json", timeout)
		waitFor(t, 20*time.Second, "registration", func() bool { return len(r.members(t, discovery.FormatJSON)) == 1 })
		stop := r.churn(t)
		time.Sleep(300 * time.Millisecond)
		term := time.Now()
		p.cmd.Process.Signal(syscall.SIGTERM)
		var gone time.Time
		if endless {
			gone = waitFor(t, timeout+5*time.Second, "VIP removed", func() bool { return !r.hasVIP(t) })
			n := stop()
			if took := gone.Sub(term); took < timeout {
				t.Errorf("endless arrivals: VIP removed %v after SIGTERM, before drain_timeout %v", took, timeout)
			}
			t.Logf("endless arrivals (%d connections): VIP removed %v after SIGTERM (drain_timeout %v)",
				n, gone.Sub(term).Round(time.Millisecond), timeout)
		} else {
			time.Sleep(1500 * time.Millisecond)
			if !r.hasVIP(t) || len(r.members(t, discovery.FormatJSON)) != 1 {
				t.Fatalf("the VIP or the node went %v after SIGTERM while new connections arrived",
					time.Since(term).Round(time.Millisecond))
			}
			stopped, n := time.Now(), stop()
			gone = waitFor(t, quiet+5*time.Second, "VIP removed after the quiet period", func() bool { return !r.hasVIP(t) })
			if took := gone.Sub(stopped); took < quiet-200*time.Millisecond {
				t.Errorf("VIP removed %v after the last arrival, before the quiet period %v", took, quiet)
			}
			t.Logf("arrivals stopped (%d connections) %v after SIGTERM; VIP removed %v after that (drain_quiet %v)",
				n, stopped.Sub(term).Round(time.Millisecond), gone.Sub(stopped).Round(time.Millisecond), quiet)
		}
		if <-p.done; p.err != nil {
			t.Fatalf("lbrs exit: %v", p.err)
		}
		want := map[bool]string{false: "stop: drained", true: "stop: drain ended by timeout"}[endless]
		if logs := p.logs.String(); !strings.Contains(logs, want) || strings.Contains(logs, "new_connections=0") {
			t.Errorf("log: want %q with new connections counted:\n%s", want, logs)
		}
	}
}
