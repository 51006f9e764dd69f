//go:build testbed_guest

package scenarios

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// TestScenarioZooKeeperReach proves the VM's way to the host's ensemble:
// from a lab namespace, through its proxy on the seed's 127.0.0.1:4180-4182,
// a session registers as the seed's AppServer (EPHEMERAL_SEQUENTIAL
// /…/sub0000000000 holding "host:port"); a second session, from the VM's
// root namespace straight to 10.0.2.2, sees the znode and its data; the
// first session's close removes it at once. The ensemble missing fails
// the test (zkServers).
func TestScenarioZooKeeperReach(t *testing.T) {
	n := newNarrator(t)
	servers := zkServers(t)
	const base = "/lbtestbed/reach"

	n.Step("Root namespace: a session on the host's ensemble %v (qemu user network)", servers)
	start := time.Now()
	root := zkSession(t, nil, servers, 5*time.Second)
	n.Note("session in %v", time.Since(start).Round(time.Millisecond))
	zkEnsurePath(t, root, base)
	zkClearChildren(t, root, base)

	n.Step("A lab namespace with a proxy on 127.0.0.1:4180-4182, the seed's ensemble addresses")
	lab := netnslab.NewT(t, "zkreach")
	web, err := lab.AddNamespace("web1")
	must(t, err)
	local, _ := zkProxy(t, web, servers)
	n.Note("web1 dials %v", local)

	n.Step("web1 registers as the seed's AppServer: %s/sub, EPHEMERAL_SEQUENTIAL, data \"10.0.0.11:80\"", base)
	app := zkSession(t, web, local, 5*time.Second)
	path := appServer(t, app, base, "10.0.0.11:80")
	n.Note("created %s", path)
	name := path[len(base)+1:]
	kids, took, ok := zkWaitChildren(t, root, base, settle, func(k []string) bool { return slices.Contains(k, name) })
	if !ok {
		t.Fatalf("the root session does not see %s after %v: children %v", path, took, kids)
	}
	data, _, err := root.Get(path)
	must(t, err)
	n.Note("the root session sees %v; %s holds %q", kids, name, data)
	if string(data) != "10.0.0.11:80" {
		t.Errorf("%s holds %q, want \"10.0.0.11:80\"", path, data)
	}

	n.Step("web1 closes its session: the ephemeral znode goes with it")
	closed := time.Now()
	app.Close()
	kids, took, ok = zkWaitChildren(t, root, base, settle, func(k []string) bool { return !slices.Contains(k, name) })
	fmt.Printf("MEASURE zk_close_to_gone=%.3fs\n", time.Since(closed).Seconds())
	if !ok {
		t.Errorf("%s still there %v after its session closed: %v", path, took, kids)
	}
	n.Note("gone after %v", took.Round(time.Millisecond))
}
