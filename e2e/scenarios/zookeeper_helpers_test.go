//go:build testbed_guest

package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/lvsd/lb/internal/netnslab"
	"github.com/lvsd/lb/internal/zklab"
)

// Helpers of the ZooKeeper scenarios (TestScenarioZooKeeper...): the host
// runs a 3-node ensemble (internal/zklab) for any run that selects them and
// names it in E2E_ZK as the guest dials it over qemu's user network
// (10.0.2.2:port, see e2e/vm/zookeeper.go). The lab's namespaces have no
// route to it: zkProxy gives a namespace the seed's addresses
// 127.0.0.1:4180-4182, relayed to the ensemble by this process (which
// lives in the VM's root namespace, where the NIC is).

// zkEnvVar is vm.ZooKeeperEnv (the scenarios do not import the host side).
const zkEnvVar = "E2E_ZK"

// zkServers returns the ensemble's addresses from E2E_ZK; without them the
// test fails: it cannot run without the host's ensemble.
func zkServers(t *testing.T) []string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(zkEnvVar))
	if v == "" {
		t.Fatalf("%s is empty: this scenario needs the host's ZooKeeper ensemble, which the testbed starts for the tests whose name holds \"ZooKeeper\" (run it through e2e/cmd/testbed or TestTestbed)", zkEnvVar)
	}
	return strings.Split(v, ",")
}

// seedZKPort is the first client port of the seed's ensemble
// (localhost:4180-4182).
const seedZKPort = 4180

// zkProxy listens in ns on 127.0.0.1:4180, 4181... (one port per server,
// the seed's ensemble addresses) and relays each connection to the
// matching server from the root namespace (zklab.Forward). It returns the
// addresses to configure in ns and the forwarders (Pause cuts the
// namespace off the ensemble). They close at the end of the test.
func zkProxy(t *testing.T, ns *netnslab.Namespace, servers []string) ([]string, []*zklab.Forwarder) {
	t.Helper()
	var local []string
	var fs []*zklab.Forwarder
	for i, s := range servers {
		addr := fmt.Sprintf("127.0.0.1:%d", seedZKPort+i)
		l, err := ns.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("zk proxy in %s on %s: %v", ns.Name(), addr, err)
		}
		f := zklab.Forward(l, s)
		t.Cleanup(func() { f.Close() })
		local = append(local, addr)
		fs = append(fs, f)
	}
	return local, fs
}

// zkQuiet drops the go-zookeeper client's log lines.
var zkQuiet = zk.WithLogger(zkNopLogger{})

type zkNopLogger struct{}

func (zkNopLogger) Printf(string, ...any) {}

// zkSession opens a ZooKeeper session on servers (dialed from the root
// namespace, or from ns through its proxy when ns is not nil) and waits
// until it holds one. It closes at the end of the test.
func zkSession(t *testing.T, ns *netnslab.Namespace, servers []string, timeout time.Duration) *zk.Conn {
	t.Helper()
	dial := net.DialTimeout
	if ns != nil {
		dial = func(network, addr string, d time.Duration) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			defer cancel()
			return ns.DialContext(ctx, network, addr)
		}
	}
	c, _, err := zk.Connect(servers, timeout, zkQuiet, zk.WithDialer(dial))
	if err != nil {
		t.Fatalf("zk session on %v: %v", servers, err)
	}
	t.Cleanup(c.Close)
	for deadline := time.Now().Add(30 * time.Second); c.State() != zk.StateHasSession; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("zk: no session on %v after 30 s (state %v)", servers, c.State())
		}
	}
	return c
}

// zkEnsurePath creates path and its parents (persistent, empty) where
// missing.
func zkEnsurePath(t *testing.T, c *zk.Conn, path string) {
	t.Helper()
	cur := ""
	for _, part := range strings.Split(strings.Trim(path, "/"), "/") {
		cur += "/" + part
		_, err := c.Create(cur, nil, zk.FlagPersistent, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			t.Fatalf("zk create %s: %v", cur, err)
		}
	}
}

// zkClearChildren deletes the children of path (a base path left over by
// an earlier scenario of the same run).
func zkClearChildren(t *testing.T, c *zk.Conn, path string) {
	t.Helper()
	kids, _, err := c.Children(path)
	if err != nil {
		t.Fatalf("zk children of %s: %v", path, err)
	}
	for _, k := range kids {
		if err := c.Delete(path+"/"+k, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			t.Fatalf("zk delete %s/%s: %v", path, k, err)
		}
	}
}

// appServer registers as the seed's Java AppServer does: an
// EPHEMERAL_SEQUENTIAL child base+"/sub" holding data ("host:port") on
// session c. It returns the znode's path.
func appServer(t *testing.T, c *zk.Conn, base, data string) string {
	t.Helper()
	p, err := c.Create(base+"/sub", []byte(data), zk.FlagEphemeralSequential, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatalf("AppServer %s: create %s/sub: %v", data, base, err)
	}
	return p
}

// zkWaitChildren polls path's children until ok holds for them, at most
// timeout; it returns them, the time it took and whether ok held.
func zkWaitChildren(t *testing.T, c *zk.Conn, path string, timeout time.Duration, ok func([]string) bool) ([]string, time.Duration, bool) {
	t.Helper()
	start := time.Now()
	for {
		kids, _, err := c.Children(path)
		if err != nil {
			t.Fatalf("zk children of %s: %v", path, err)
		}
		if ok(kids) {
			return kids, time.Since(start), true
		}
		if time.Since(start) > timeout {
			return kids, time.Since(start), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
