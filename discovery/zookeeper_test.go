//go:build zookeeper

package discovery

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/lvsd/lb/internal/zklab"
)

// appServer registers like the seed's Java AppServer: its own session,
// an EPHEMERAL_SEQUENTIAL child /sgroup/sub holding "host:port".
// It returns its session, its znode and when it asked to create it.
func appServer(t *testing.T, servers []string, addr string) (*zk.Conn, string, time.Time) {
	t.Helper()
	c, _, err := zk.Connect(servers, 2*time.Second, quiet)
	if err != nil {
		t.Fatal(err)
	}
	waitSession(t, c)
	start := time.Now()
	p, err := c.Create("/sgroup/sub", []byte(addr), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		c.Close()
		t.Fatalf("AppServer %s: create: %v", addr, err)
	}
	return c, p, start
}

// quiet drops the test clients' log lines (the watcher's go to slog).
var quiet = zk.WithLogger(nopLogger{})

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

func waitSession(t *testing.T, c *zk.Conn) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); c.State() != zk.StateHasSession; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no session: %v", c.State())
		}
	}
}

// zkAdmin is a test client of the ensemble with a session, closed when the
// test ends.
func zkAdmin(t *testing.T, e *zklab.Ensemble) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect(e.Servers(), 2*time.Second, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitSession(t, c)
	return c
}

// zkWatch runs a watcher of /sgroup on the ensemble; updates come on the
// returned channel.
func zkWatch(t *testing.T, e *zklab.Ensemble) (*Watcher, *zk.Conn, chan Update) {
	t.Helper()
	conn, kick, err := Dial(e.Servers(), 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	updates := make(chan Update, 1000)
	w, err := NewWatcher(conn, kick, WatchConfig{Path: "/sgroup", Format: FormatSeed, Defaults: Defaults{Weight: 1},
		Policy: Policy{HoldShare: 1}, Retry: 200 * time.Millisecond, OnUpdate: func(u Update) { updates <- u }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, conn, updates
}

// await waits for an update listing exactly want (znode paths' data) and
// returns when it came.
func await(t *testing.T, updates chan Update, want ...string) time.Time {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var last []string
	for {
		select {
		case u := <-updates:
			last = addrsOf(u.Members)
			if slices.Equal(last, want) {
				return time.Now()
			}
		case <-deadline:
			t.Fatalf("no update with members %v; last %v", want, last)
		}
	}
}

// TestZooKeeperSeedLayout: a real 3-node ensemble; AppServers register as
// the seed's Java does; the watcher follows joins and a closed session's
// leave; one ensemble node killed (the watcher's own) changes nothing.
func TestZooKeeperSeedLayout(t *testing.T) {
	e := zklab.Start(t, zklab.Options{})
	admin, _, err := zk.Connect(e.Servers(), 2*time.Second, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Create("/sgroup", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /sgroup: %v", err)
	}
	w, conn, updates := zkWatch(t, e)
	await(t, updates) // the empty group

	var apps []*zk.Conn
	var want []string
	for i := 1; i <= 3; i++ {
		addr := fmt.Sprintf("127.0.0.%d:418%d", i, i)
		c, p, start := appServer(t, e.Servers(), addr)
		defer c.Close()
		apps = append(apps, c)
		want = append(want, addr)
		got := await(t, updates, want...)
		t.Logf("AppServer %s registered as %s: create to the watcher's list %v", addr, p, got.Sub(start))
	}
	if st := w.Status(); len(st.Applied) != 3 || st.Applied[0].Znode[:3] != "sub" {
		t.Fatalf("applied %+v", st.Applied)
	}

	start := time.Now()
	apps[1].Close() // a graceful AppServer exit: its session and its znode go
	got := await(t, updates, want[0], want[2])
	t.Logf("AppServer %s closed its session: out of the list after %v", want[1], got.Sub(start))

	checkNodeLoss(t, e, w, conn, updates, []string{want[0], want[2]})
}

// checkNodeLoss kills the ensemble node the watcher is connected to: the
// client moves to another, the re-list changes nothing, and a new
// registration still arrives.
func checkNodeLoss(t *testing.T, e *zklab.Ensemble, w *Watcher, conn *zk.Conn, updates chan Update, members []string) {
	t.Helper()
	victim := slices.Index(e.Servers(), conn.Server())
	if victim < 0 {
		t.Fatalf("watcher connected to %q, not an ensemble node", conn.Server())
	}
	before := w.Status().Applied
	e.Kill(victim)
	t.Logf("killed node %d (%s), the watcher's", victim+1, conn.Server())
	deadline := time.After(6 * time.Second) // past the 2 s session timeout
	for done := false; !done; {
		select {
		case u := <-updates:
			if !u.Result.Apply.Empty() || u.Result.Held {
				t.Fatalf("node loss changed the members: %+v", u.Result)
			}
		case <-deadline:
			done = true
		}
	}
	if st := w.Status(); st.Stale || !slices.Equal(addrsOf(st.Applied), addrsOf(before)) {
		t.Fatalf("after the node loss: %+v, want fresh with %v", st, addrsOf(before))
	}
	if conn.State() != zk.StateHasSession || conn.Server() == e.Nodes[victim].Client {
		t.Fatalf("watcher's client %v on %s", conn.State(), conn.Server())
	}
	c, _, _ := appServer(t, e.Servers(), "127.0.0.9:80")
	defer c.Close()
	await(t, updates, slices.Concat(members, []string{"127.0.0.9:80"})...)
}

// TestZooKeeperQuorumLoss: a follower killed, then the leader: quorum
// lost, the watcher keeps its members and reports stale; an AppServer
// dies meanwhile; quorum back -> fresh, and its leave comes as a diff.
func TestZooKeeperQuorumLoss(t *testing.T) {
	e := zklab.Start(t, zklab.Options{})
	admin, _, err := zk.Connect(e.Servers(), 2*time.Second, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Create("/sgroup", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /sgroup: %v", err)
	}
	w, _, updates := zkWatch(t, e)
	want := []string{"127.0.0.1:80", "127.0.0.2:80", "127.0.0.3:80"}
	var apps []*zk.Conn
	for _, a := range want {
		c, _, _ := appServer(t, e.Servers(), a)
		defer c.Close()
		apps = append(apps, c)
	}
	await(t, updates, want...)

	leader := e.Leader()
	if leader < 0 {
		t.Fatal("no leader")
	}
	follower := (leader + 1) % 3
	e.Kill(follower)
	e.Kill(leader)
	lost := time.Now()
	t.Logf("killed node %d (follower) then node %d (leader): quorum lost", follower+1, leader+1)
	for !w.Status().Stale {
		if time.Since(lost) > 20*time.Second {
			t.Fatal("never stale after the quorum loss")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("watcher stale %v after the quorum loss", time.Since(lost))
	apps[1].Close() // an AppServer dies while nobody can record it
	time.Sleep(3 * time.Second)
	if st := w.Status(); !st.Stale || !slices.Equal(addrsOf(st.Applied), want) {
		t.Fatalf("during the quorum loss: %+v, want stale with %v", st, want)
	}
	drainNoChange(t, updates)

	e.StartNode(follower)
	e.StartNode(leader)
	back := time.Now()
	e.WaitServing(60*time.Second, e.Nodes...)
	t.Logf("quorum back after %v", time.Since(back))
	got := await(t, updates, want[0], want[2])
	t.Logf("the dead AppServer's leave applied %v after the restart", got.Sub(back))
	if st := w.Status(); st.Stale {
		t.Fatalf("still stale after recovery: %+v", st)
	}
}

// drainNoChange fails on any queued update that changed the members.
func drainNoChange(t *testing.T, updates chan Update) {
	t.Helper()
	for {
		select {
		case u := <-updates:
			if !u.Result.Apply.Empty() {
				t.Fatalf("members changed while stale: %+v", u.Result)
			}
		default:
			return
		}
	}
}

// severable is a dialer whose connections can all be cut at once, after
// which it refuses to dial: an AppServer's host dying (kill -9, power off)
// as ZooKeeper sees it, with no closeSession sent.
type severable struct {
	mu    sync.Mutex
	dead  bool
	conns []net.Conn
}

func (s *severable) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return nil, fmt.Errorf("host is dead")
	}
	c, err := net.DialTimeout(network, addr, timeout)
	if err == nil {
		s.conns = append(s.conns, c)
	}
	return c, err
}

func (s *severable) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = true
	for _, c := range s.conns {
		c.Close()
	}
}

// TestZooKeeperDeadAppServer: an AppServer that vanishes without closing
// its session leaves the list once the session times out (2 s), within
// the timeout + 1 s.
func TestZooKeeperDeadAppServer(t *testing.T) {
	e := zklab.Start(t, zklab.Options{})
	admin, _, err := zk.Connect(e.Servers(), 2*time.Second, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Create("/sgroup", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /sgroup: %v", err)
	}
	_, _, updates := zkWatch(t, e)
	live, _, _ := appServer(t, e.Servers(), "127.0.0.1:80")
	defer live.Close()
	host := &severable{}
	dying, _, err := zk.Connect(e.Servers(), 2*time.Second, quiet, zk.WithDialer(host.dial))
	if err != nil {
		t.Fatal(err)
	}
	defer dying.Close()
	waitSession(t, dying)
	if _, err := dying.Create("/sgroup/sub", []byte("127.0.0.2:80"), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	await(t, updates, "127.0.0.1:80", "127.0.0.2:80")
	timeout := 2 * time.Second // asked; the ensemble grants 0.5-5 s (2-20 ticks of 250 ms)
	host.kill()
	died := time.Now()
	got := await(t, updates, "127.0.0.1:80")
	lag := got.Sub(died)
	t.Logf("dead AppServer out of the list %v after its death (session timeout %v)", lag, timeout)
	if lag > timeout+time.Second {
		t.Fatalf("left after %v, more than the session timeout %v + 1 s", lag, timeout)
	}
}

// TestZooKeeperThousandMembers: 1,000 members registered at once (16
// writers on one session) -> time until the watcher lists them all, and
// how many lists it took. A figure for the benchmark (the IPVS side
// is not here), asserted only as convergence.
func TestZooKeeperThousandMembers(t *testing.T) {
	e := zklab.Start(t, zklab.Options{})
	admin := zkAdmin(t, e)
	if _, err := admin.Create("/sgroup", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /sgroup: %v", err)
	}
	w, _, updates := zkWatch(t, e)
	await(t, updates)
	const n = 1000
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := range 16 {
		wg.Go(func() {
			for i := g; i < n; i += 16 {
				addr := fmt.Sprintf("10.%d.%d.1:80", i/256, i%256)
				if _, err := admin.Create("/sgroup/sub", []byte(addr), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	written := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	lists := 0
	for deadline := time.After(30 * time.Second); ; {
		select {
		case u := <-updates:
			lists++
			if len(u.Members) == n {
				t.Logf("%d members: written in %v, all in the watcher's list %v after the first create, in %d lists",
					n, written, time.Since(start), lists)
				if st := w.Status(); len(st.Applied) != n {
					t.Fatalf("applied %d", len(st.Applied))
				}
				return
			}
		case <-deadline:
			t.Fatalf("after 30 s: %d lists, applied %d of %d", lists, len(w.Status().Applied), n)
		}
	}
}
