//go:build zookeeper

package daemon

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/internal/zklab"
)

type nopZKLogger struct{}

func (nopZKLogger) Printf(string, ...any) {}

// appServer registers like the seed's Java AppServer: its own session, an
// EPHEMERAL_SEQUENTIAL child /sgroup/sub holding "host:port".
func appServer(t *testing.T, servers []string, addr string) (*zk.Conn, string) {
	t.Helper()
	c, _, err := zk.Connect(servers, 2*time.Second, zk.WithLogger(nopZKLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for deadline := time.Now().Add(20 * time.Second); c.State() != zk.StateHasSession; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("AppServer %s: no session: %v", addr, c.State())
		}
	}
	p, err := c.Create("/sgroup/sub", []byte(addr), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatalf("AppServer %s: create: %v", addr, err)
	}
	return c, p
}

// TestZooKeeperDaemonFollowsEnsemble: a real 3-node ensemble and lbd (on
// the fake kernel, with the real ZooKeeper client): the seed's AppServer
// layout drives the table, one IPVS write per join; quorum lost (2 of 3
// killed) -> the table unchanged and the status stale, an AppServer dying
// meanwhile; quorum back -> its leave applied as a diff; 4 of a pool of 6
// vanishing at once -> held, then `confirm` applies it.
func TestZooKeeperDaemonFollowsEnsemble(t *testing.T) {
	e := zklab.Start(t, zklab.Options{})
	admin, _, err := zk.Connect(e.Servers(), 2*time.Second, zk.WithLogger(nopZKLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Create("/sgroup", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /sgroup: %v", err)
	}
	servers := `["` + strings.Join(e.Servers(), `", "`) + `"]`
	edit := func(c string) string {
		c = strings.Replace(c, `["zk1:2181", "zk2:2181", "zk3:2181"]`, servers, 1)
		return strings.Replace(c, "      path: /sgroup\n", "      path: /sgroup\n      session_timeout: 2s\n", 1)
	}
	f := startDiscoveryOn(t, nil, nil, edit, "")
	f.awaitDests(t, "198.51.100.1")

	// AppServers register: each join one IPVS write.
	apps := map[string]*zk.Conn{}
	znodes := map[string]string{}
	want := []string{"198.51.100.1"}
	for i := 2; i <= 4; i++ {
		f.settle()
		f.k.ResetCounters()
		a := fmt.Sprintf("198.51.100.%d", i)
		start := time.Now()
		apps[a], znodes[a] = appServer(t, e.Servers(), a+":80")
		want = append(want, a)
		f.awaitDests(t, want...)
		t.Logf("AppServer %s registered as %s: in the table after %v", a, znodes[a], time.Since(start))
		f.settle()
		if w := f.k.Writes(); w != 1 {
			t.Errorf("join of %s: %d IPVS writes, want 1 (%v)", a, w, f.k.Log())
		}
	}
	if st := discStatus(f); st.Session != zk.StateHasSession.String() || st.Stale || st.Members != 3 {
		t.Errorf("discovery status %+v", st)
	}

	// Quorum lost: a follower killed, then the leader.
	leader := e.Leader()
	if leader < 0 {
		t.Fatal("no leader")
	}
	follower := (leader + 1) % 3
	e.Kill(follower)
	e.Kill(leader)
	lost := time.Now()
	waitForLong(t, 20*time.Second, "stale after the quorum loss", func() bool { return discStatus(f).Stale })
	t.Logf("stale %v after the quorum loss; session %s", time.Since(lost), discStatus(f).Session)
	f.k.ResetCounters()
	apps["198.51.100.3"].Close() // an AppServer dies while nobody can record it
	time.Sleep(3 * time.Second)
	f.awaitDests(t, "198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4")
	if w := f.k.Writes(); w != 0 {
		t.Errorf("quorum lost: %d IPVS writes, want 0 (%v)", w, f.k.Log())
	}
	health := f.d.Status(context.Background())
	if len(health.Discovery) != 1 || !health.Discovery[0].Stale || health.Discovery[0].StaleSince.IsZero() {
		t.Errorf("status during the quorum loss: %+v", health.Discovery)
	}

	// Quorum back: re-listed, the dead AppServer's leave applied.
	e.StartNode(follower)
	e.StartNode(leader)
	back := time.Now()
	e.WaitServing(60*time.Second, e.Nodes...)
	waitForLong(t, 60*time.Second, "the leave applied after the recovery", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 1, "198.51.100.2": 1, "198.51.100.4": 1})
	})
	t.Logf("quorum back: the leave applied %v after the restart", time.Since(back))
	waitForLong(t, 20*time.Second, "fresh", func() bool { return !discStatus(f).Stale })

	// A pool of 6 (1 static, 5 members); 4 members vanish at once (one
	// multi): 4/6 > max_removal_share 0.5 -> held.
	for i := 5; i <= 7; i++ {
		a := fmt.Sprintf("198.51.100.%d", i)
		apps[a], znodes[a] = appServer(t, e.Servers(), a+":80")
	}
	all := []string{"198.51.100.1", "198.51.100.2", "198.51.100.4", "198.51.100.5", "198.51.100.6", "198.51.100.7"}
	waitForLong(t, 20*time.Second, "6 in the table", func() bool { return len(f.dests()) == len(all) })
	f.awaitDests(t, all...)
	var ops []any
	for _, a := range []string{"198.51.100.2", "198.51.100.4", "198.51.100.5", "198.51.100.6"} {
		ops = append(ops, &zk.DeleteRequest{Path: znodes[a], Version: -1})
	}
	if _, err := admin.Multi(ops...); err != nil {
		t.Fatalf("multi delete: %v", err)
	}
	waitForLong(t, 20*time.Second, "held", func() bool { return discStatus(f).Held != nil })
	time.Sleep(500 * time.Millisecond)
	f.awaitDests(t, all...)
	if h := discStatus(f).Held; h.Remove != 4 {
		t.Errorf("held update removes %d, want 4", h.Remove)
	}
	res, err := control.NewClient(f.sock).ConfirmDiscovery(context.Background(), "TCP 192.0.2.10:80")
	if err != nil {
		t.Fatal(err)
	}
	f.awaitDests(t, "198.51.100.1", "198.51.100.7")
	t.Logf("confirmed: %d writes", res.Apply.Writes)
}
