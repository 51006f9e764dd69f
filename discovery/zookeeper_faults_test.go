//go:build zookeeper

package discovery

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/lvsd/lb/internal/zklab"
)

// faultSession is the session timeout of the watcher and the AppServers
// in the ensemble fault tests: the seed's 5 s (the ensemble grants 0.5-5 s).
const faultSession = 5 * time.Second

// A fault step done to the ensemble; each returns what it did, for the log.
type faultStep func(t *testing.T, e *zklab.Ensemble, killed *[]int) string

func killFollower(t *testing.T, e *zklab.Ensemble, killed *[]int) string {
	t.Helper()
	i := e.Follower()
	if i < 0 {
		t.Fatal("no follower serving")
	}
	e.Kill(i)
	*killed = append(*killed, i)
	return fmt.Sprintf("killed node %d (a follower)", i+1)
}

func killLeader(t *testing.T, e *zklab.Ensemble, killed *[]int) string {
	t.Helper()
	i := e.Leader()
	if i < 0 {
		t.Fatal("no leader serving")
	}
	e.Kill(i)
	*killed = append(*killed, i)
	return fmt.Sprintf("killed node %d (the leader)", i+1)
}

func restartKilled(t *testing.T, e *zklab.Ensemble, killed *[]int) string {
	t.Helper()
	i := (*killed)[len(*killed)-1]
	*killed = (*killed)[:len(*killed)-1]
	e.StartNode(i)
	e.WaitServing(60*time.Second, e.Nodes[i])
	return fmt.Sprintf("restarted node %d", i+1)
}

// TestZooKeeperEnsembleFaults is the issue's "one ensemble node killed,
// then the leader killed -> no change": AppServers registered as the seed's
// (each its own session), a watcher with the default hold rule; the faults
// keep a quorum, so every session survives or reconnects and the watcher
// reports no member change (no removal, no held update), then still
// follows a new registration. Each step is followed by a quiet period
// longer than the session timeout, so an expired session would show.
func TestZooKeeperEnsembleFaults(t *testing.T) {
	cases := []struct {
		name  string
		nodes int
		steps []faultStep
	}{
		{"5 nodes, a follower then the leader", 5, []faultStep{killFollower, killLeader}},
		{"3 nodes, a follower killed and restarted, then the leader", 3, []faultStep{killFollower, restartKilled, killLeader}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := zklab.Start(t, zklab.Options{Nodes: tc.nodes})
			f := startFaultWatch(t, e)
			const members = 8
			var apps []*zk.Conn
			var want []string
			for i := range members {
				addr := fmt.Sprintf("10.0.0.%d:80", i+1)
				apps = append(apps, register(t, e.Servers(), addr))
				want = append(want, addr)
			}
			await(t, f.updates, want...)
			f.stale.Store(0) // the session's own start reports Connecting, Connected
			var killed []int
			for _, step := range tc.steps {
				did := step(t, e, &killed)
				at := time.Now()
				e.WaitServing(60*time.Second, e.Running()...)
				t.Logf("%s: the %d left serving after %v", did, len(e.Running()), time.Since(at).Round(time.Millisecond))
				f.quiet(t, faultSession+2*time.Second)
			}
			f.check(t, apps, want)
			c := register(t, e.Servers(), "10.0.0.99:80")
			defer c.Close()
			await(t, f.updates, slices.Concat(want, []string{"10.0.0.99:80"})...)
		})
	}
}

// register is a seed AppServer on its own session of faultSession.
func register(t *testing.T, servers []string, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect(servers, faultSession, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitSession(t, c)
	if _, err := c.Create("/sgroup/sub", []byte(addr), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("AppServer %s: create: %v", addr, err)
	}
	return c
}

// faultWatch is a watcher of /sgroup with the default hold rule; it counts
// the times it went stale.
type faultWatch struct {
	w       *Watcher
	conn    *zk.Conn
	updates chan Update
	stale   atomic.Int32
}

func startFaultWatch(t *testing.T, e *zklab.Ensemble) *faultWatch {
	t.Helper()
	admin, _, err := zk.Connect(e.Servers(), faultSession, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	waitSession(t, admin)
	if _, err := admin.Create("/sgroup", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /sgroup: %v", err)
	}
	conn, kick, err := Dial(e.Servers(), faultSession, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	f := &faultWatch{conn: conn, updates: make(chan Update, 1000)}
	f.w, err = NewWatcher(conn, kick, WatchConfig{Path: "/sgroup", Format: FormatSeed, Defaults: Defaults{Weight: 1},
		Retry: 200 * time.Millisecond, OnUpdate: func(u Update) { f.updates <- u },
		OnStale: func(Status) { f.stale.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	await(t, f.updates)
	return f
}

// quiet fails on any update that changes the members or is held, for d.
func (f *faultWatch) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	lists := 0
	for deadline := time.After(d); ; {
		select {
		case u := <-f.updates:
			lists++
			if !u.Result.Apply.Empty() || u.Result.Held {
				t.Fatalf("the ensemble fault changed the members: held %v, apply %+v (listed %v)",
					u.Result.Held, u.Result.Apply, addrsOf(u.Members))
			}
		case <-deadline:
			t.Logf("quiet %v: %d re-lists, none changing the members; stale reported %d times since the members listed (watcher on %s)",
				d, lists, f.stale.Load(), f.conn.Server())
			return
		}
	}
}

// check: the watcher fresh with every member, every session alive.
func (f *faultWatch) check(t *testing.T, apps []*zk.Conn, want []string) {
	t.Helper()
	if st := f.w.Status(); st.Stale || st.Holding || !slices.Equal(addrsOf(st.Applied), want) {
		t.Fatalf("after the faults: stale %v holding %v applied %v, want fresh with %v",
			st.Stale, st.Holding, addrsOf(st.Applied), want)
	}
	for i, c := range append([]*zk.Conn{f.conn}, apps...) {
		if c.State() != zk.StateHasSession {
			t.Fatalf("session %d: %v after the faults", i, c.State())
		}
	}
}
