//go:build zookeeper

package zklab

import "testing"

// TestZooKeeperLaunch starts a real ensemble outside a test's TB (as
// e2e/cmd/testbed does), finds a leader, and stop kills every node.
func TestZooKeeperLaunch(t *testing.T) {
	e, stop, err := Launch(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Leader() < 0 {
		stop()
		t.Fatal("no leader after Launch")
	}
	stop()
	for i := range e.Nodes {
		if _, err := e.Mode(i); err == nil {
			t.Errorf("node %d still answers after stop", i+1)
		}
	}
}
