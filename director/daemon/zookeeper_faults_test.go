//go:build zookeeper

package daemon

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/internal/zklab"
)

// zkSession is the seed's session timeout, the daemon's and the
// AppServers' (the ensemble grants 0.5-5 s).
const zkSession = 5 * time.Second

// zkWait is waitFor's bound with room for a loaded machine (a JVM ensemble).
const zkWait = 30 * time.Second

// zkQuiet drops the test clients' log lines.
var zkQuiet = zk.WithLogger(zkNopLogger{})

type zkNopLogger struct{}

func (zkNopLogger) Printf(string, ...any) {}

// zkConnect opens a session (closed by the test's cleanup).
func zkConnect(t *testing.T, servers []string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect(servers, zkSession, zkQuiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for deadline := time.Now().Add(20 * time.Second); c.State() != zk.StateHasSession; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no ZooKeeper session (%v)", c.State())
		}
	}
	return c
}

// zkRegister is a seed AppServer: its own session, an EPHEMERAL_SEQUENTIAL
// child of /sgroup holding "host:port".
func zkRegister(t *testing.T, servers []string, addr string) *zk.Conn {
	t.Helper()
	c := zkConnect(t, servers)
	if _, err := c.Create("/sgroup/sub", []byte(addr), zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("AppServer %s: create: %v", addr, err)
	}
	return c
}

// startDiscovered runs the daemon on the fake kernel with one virtual
// service whose real servers all come from /sgroup on the ensemble
// (trusted at once: no checks).
func startDiscovered(t *testing.T, e *zklab.Ensemble) *fixture {
	t.Helper()
	if _, err := zkConnect(t, e.Servers()).Create("/sgroup", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /sgroup: %v", err)
	}
	dir := t.TempDir()
	f := &fixture{dir: dir, cfg: filepath.Join(dir, "lbd.yaml"), sock: filepath.Join(dir, "lbd.sock"), k: fake.New(), logs: &syncBuf{}}
	y := fmt.Sprintf(`global:
  control_socket: %s/lbd.sock
  state_dir: %s
  metrics_address: ""
  resync_interval: 1h
virtual_servers:
  - address: 192.0.2.80
    port: 80
    scheduler: rr
    forwarding: DR
    discovery:
      zookeeper: ["%s"]
      session_timeout: %v
      path: /sgroup
      trust_new: true
`, dir, dir, strings.Join(e.Servers(), `", "`), zkSession)
	if err := os.WriteFile(f.cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := New(f.cfg, Options{Kernel: f.k, LogOutput: f.logs, LogLevel: "debug", Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	f.cancel, f.done = runDaemon(t, d, func() string { return zkTail(f.logs.String(), 8000) })
	return f
}

func zkTail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// staleEvents counts the times the daemon's discovery lost the registry.
func (f *fixture) staleEvents() uint64 {
	f.d.disc.mu.Lock()
	defer f.d.disc.mu.Unlock()
	var n uint64
	for k, v := range f.d.disc.events {
		if k.Event == discEventStale {
			n += v
		}
	}
	return n
}

// addrs returns the fake kernel's destination addresses, sorted.
func (f *fixture) addrs() []string {
	return slices.Sorted(maps.Keys(f.dests()))
}

// TestZooKeeperDaemonEnsembleFaults is the issue's "one ensemble node
// killed, then the leader killed -> no change to the table", at the
// daemon: lbd on the fake kernel follows /sgroup; the faults keep a
// quorum, so not one IPVS write is made while they happen (quiet periods
// longer than the session timeout after each), and a registration after
// them still reaches the table.
func TestZooKeeperDaemonEnsembleFaults(t *testing.T) {
	type step struct {
		name string
		do   func(e *zklab.Ensemble, killed *[]int) int // the node acted on
	}
	killFollower := step{"killed (a follower)", func(e *zklab.Ensemble, killed *[]int) int {
		i := e.Follower()
		if i >= 0 {
			e.Kill(i)
			*killed = append(*killed, i)
		}
		return i
	}}
	killLeader := step{"killed (the leader)", func(e *zklab.Ensemble, killed *[]int) int {
		i := e.Leader()
		if i >= 0 {
			e.Kill(i)
			*killed = append(*killed, i)
		}
		return i
	}}
	restart := step{"restarted", func(e *zklab.Ensemble, killed *[]int) int {
		i := (*killed)[len(*killed)-1]
		*killed = (*killed)[:len(*killed)-1]
		e.StartNode(i)
		return i
	}}
	cases := []struct {
		name  string
		nodes int
		steps []step
	}{
		{"5 nodes, a follower then the leader", 5, []step{killFollower, killLeader}},
		{"3 nodes, a follower killed and restarted, then the leader", 3, []step{killFollower, restart, killLeader}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := zklab.Start(t, zklab.Options{Nodes: tc.nodes})
			f := startDiscovered(t, e)
			var want []string
			for i := range 8 {
				zkRegister(t, e.Servers(), fmt.Sprintf("10.0.0.%d:80", i+1))
				want = append(want, fmt.Sprintf("10.0.0.%d", i+1))
			}
			slices.Sort(want)
			waitForLong(t, zkWait, "the 8 members in the table", func() bool { return slices.Equal(f.addrs(), want) })
			time.Sleep(time.Second) // writes of the start done
			f.k.ResetCounters()
			stale0 := f.staleEvents() // the session's own start counts one
			var killed []int
			for _, s := range tc.steps {
				i := s.do(e, &killed)
				if i < 0 {
					t.Fatalf("no node to act on for %q", s.name)
				}
				e.WaitServing(60*time.Second, e.Running()...)
				time.Sleep(zkSession + 2*time.Second) // an expired session would show
				t.Logf("node %d %s: %d IPVS writes since the members were in, table %v; the daemon's discovery went stale %d times since",
					i+1, s.name, f.k.Writes(), f.addrs(), f.staleEvents()-stale0)
				if w := f.k.Writes(); w != 0 {
					t.Fatalf("the ensemble fault wrote the table: %d writes %v", w, f.k.Log())
				}
			}
			if got := f.addrs(); !slices.Equal(got, want) {
				t.Fatalf("table after the faults %v, want %v", got, want)
			}
			zkRegister(t, e.Servers(), "10.0.0.99:80")
			waitForLong(t, zkWait, "the new member in the table", func() bool { return slices.Contains(f.addrs(), "10.0.0.99") })
			if w := f.k.Writes(); w != 1 {
				t.Errorf("the new member took %d writes, want 1: %v", w, f.k.Log())
			}
		})
	}
}
