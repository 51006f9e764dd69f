//go:build netns

package vrrp_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lvsd/lb/vrrp"
	"github.com/lvsd/lb/vrrp/internal/vrrplab"
)

// TestNetnsSplitBrainOneWay: b stops hearing a (a tc filter on b's
// switch no longer floods multicast to b's port: a one-way loss, as a firewall gives), takes
// over, and both are MASTER. a keeps hearing b's lower adverts: it counts
// one split-brain episode however long it lasts and names b and itself
// as the winner; b, which hears nothing, counts none. When b hears a
// again it steps down; a's count stays at one.
func TestNetnsSplitBrainOneWay(t *testing.T) {
	bn := newBench(t)
	a := bn.ours(t, bn.a, vrrplab.Config{Instances: []vrrp.Config{instance(200)}})
	b := bn.ours(t, bn.b, vrrplab.Config{Instances: []vrrp.Config{instance(100)}})
	waitState(t, a, vrrp.StateMaster, 5*time.Second)
	waitState(t, b, vrrp.StateBackup, 5*time.Second)

	// One way: the switch stops flooding multicast to b's port (its own
	// adverts still reach a). A bridge port flag, no module needed.
	sw, err := bn.Topo.SwitchNamespace()
	if err != nil {
		t.Fatal(err)
	}
	flood := func(on string) {
		t.Helper()
		if out, err := sw.Run(context.Background(), "bridge", "link", "set", "dev", bn.b.Link.Port, "mcast_flood", on); err != nil {
			t.Fatalf("bridge link set mcast_flood %s: %v\n%s", on, err, out)
		}
	}
	flood("off")
	cut := time.Now()
	waitState(t, b, vrrp.StateMaster, settle)
	var tookOver time.Time
	for _, e := range b.History() {
		if e.State == vrrp.StateMaster && e.At.After(cut) {
			tookOver = e.At
		}
	}
	var sa vrrp.InstanceStats
	err = vrrplab.Eventually(settle, func() error {
		s, err := a.Stats()
		if err != nil {
			return err
		}
		if sa = s.Instances[0]; sa.SplitBrains == 0 {
			return fmt.Errorf("a has counted no split brain (adverts received %d)", sa.AdvertsReceived)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("b took over %v after the cut; a reported the split brain %v after that (adverts every 100 ms, reported after 50 ms of them)",
		tookOver.Sub(cut).Round(time.Millisecond), sa.SplitBrainAt.Sub(tookOver).Round(time.Millisecond))
	if sa.SplitBrainPeer != bn.b.IP() || sa.SplitBrainPeerPriority != 100 || sa.SplitBrainWinner != "this router: priority 200 > 100" {
		t.Errorf("a's split brain: peer %v priority %d winner %q", sa.SplitBrainPeer, sa.SplitBrainPeerPriority, sa.SplitBrainWinner)
	}
	waitAdverts(t, a, 10) // ten more of b's adverts: still one episode
	if s, err := a.Stats(); err != nil || s.Instances[0].SplitBrains != 1 || s.Instances[0].State != vrrp.StateMaster {
		t.Fatalf("a after ten more adverts: %+v %v, want MASTER and one episode", s.Instances, err)
	}
	if s, err := b.Stats(); err != nil || s.Instances[0].SplitBrains != 0 {
		t.Fatalf("b (which hears nothing) counted a split brain: %+v %v", s.Instances, err)
	}

	flood("on")
	waitState(t, b, vrrp.StateBackup, settle)
	if s, err := a.Stats(); err != nil || s.Instances[0].SplitBrains != 1 || s.Instances[0].State != vrrp.StateMaster {
		t.Fatalf("a after healing: %+v %v, want MASTER and one episode", s.Instances, err)
	}
}
