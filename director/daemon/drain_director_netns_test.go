//go:build netns

package daemon

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/internal/netnslab"
)

// drainNetnsYAML is a VRRP-only lbd with VI_1 at prio on eth0.
func drainNetnsYAML(dir string, prio int) string {
	return fmt.Sprintf(`global:
  control_socket: %[1]s/lbd.sock
  state_dir: %[1]s
  metrics_address: ""
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      priority: %[2]d
      advert_interval: 1
      virtual_ipaddresses: [{address: 10.9.0.100/24, label: "eth0:0"}]
`, dir, prio)
}

// Two VRRP-only lbd on a LAN of namespaces (real sockets, real addresses):
// drain-director moves the VIP to the peer, which takes it before the
// drained director lets it go (the answer comes back with VI_1 BACKUP);
// the drained director stays BACKUP, across a restart too, and
// undrain-director gives it back its mastership (it preempts).
func TestNetnsDrainDirector(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root")
	}
	_, _, nss := netnslab.LANT(t, "lbdrain", 2)
	dir1 := t.TempDir()
	d1 := runNetnsDirector(t, nss[0], dir1, drainNetnsYAML(dir1, 200))
	dir2 := t.TempDir()
	d2 := runNetnsDirector(t, nss[1], dir2, drainNetnsYAML(dir2, 100))
	waitFor(t, "d1 MASTER with the VIP, d2 BACKUP", func() bool {
		return d1.vrrpState(t) == "MASTER" && d2.vrrpState(t) == "BACKUP" && d1.hasVIP(t) && !d2.hasVIP(t)
	})
	ctx := context.Background()
	res, err := control.NewClient(d1.sock).SetDirectorDrain(ctx, control.DirectorDrainRequest{Drain: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Instances) != 1 || res.Instances[0].State != "BACKUP" || res.Instances[0].EffectivePriority != 1 {
		t.Fatalf("drain-director's answer: %+v", res)
	}
	waitFor(t, "the VIP on d2 alone", func() bool {
		return d2.vrrpState(t) == "MASTER" && d2.hasVIP(t) && !d1.hasVIP(t)
	})
	v1, _ := d1.vrrpInstance()
	if v1.Reason == "" {
		t.Errorf("d1's status does not say it is drained: %+v", v1)
	}
	// d1 stays BACKUP while d2 advertises (three adverts counted at d1).
	stays := func(what string) {
		t.Helper()
		before, _ := d1.vrrpInstance()
		waitFor(t, what, func() bool {
			now, err := d1.vrrpInstance()
			return err == nil && now.AdvertsReceived >= before.AdvertsReceived+3
		})
		if d1.vrrpState(t) != "BACKUP" || d1.hasVIP(t) {
			t.Fatalf("%s: d1 is %s, VIP %v", what, d1.vrrpState(t), d1.hasVIP(t))
		}
	}
	stays("three adverts of d2 at the drained d1")
	// A restart of d1 keeps the drain (state_dir).
	d1.stop(t)
	d1 = runNetnsDirector(t, nss[0], dir1, drainNetnsYAML(dir1, 200))
	waitFor(t, "d1 back, BACKUP", func() bool { return d1.vrrpState(t) == "BACKUP" })
	stays("three adverts of d2 at the restarted d1")
	if d2.vrrpState(t) != "MASTER" {
		t.Fatalf("d2 is %s", d2.vrrpState(t))
	}
	// Undrain: d1 preempts.
	if _, err := control.NewClient(d1.sock).SetDirectorDrain(ctx, control.DirectorDrainRequest{Drain: false}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "d1 MASTER again", func() bool {
		return d1.vrrpState(t) == "MASTER" && d1.hasVIP(t) && d2.vrrpState(t) == "BACKUP" && !d2.hasVIP(t)
	})
}
