//go:build testbed_guest

package scenarios

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestScenarioVIPTakeover is the director pair of deploy/examples on a real
// kernel (issue 4): lbd-master.yaml (priority 200) on d1 and lbd-backup.yaml
// (priority 100, nopreempt) on d2, advert 1 s, PASS authentication, the same
// IPVS DR service on both, two web nodes with lbrs.
//
//   - d1 becomes MASTER and holds the VIP as eth0:0, d2 stays BACKUP without
//     it; the client's requests are spread over both web nodes.
//   - d1's cable is pulled: d2 takes the VIP after Master_Down_Interval
//     (3 x 1 s + skew 0.61 s after d1's last advert), announces it with
//     gratuitous ARP, and the client's ARP entry for the VIP moves to d2's
//     MAC without any flush on the client. The takeover time seen from the
//     client is printed as MEASURE vip_takeover_linkcut.
//   - The cable is plugged back: d1 (priority 200, preempt on: nopreempt is
//     on the backup, where it changes nothing) takes the VIP back.
//   - lbd on d1 gets SIGTERM: it sends a priority-0 advert and drops the VIP;
//     d2 takes over after its skew alone (MEASURE vip_takeover_stop).
func TestScenarioVIPTakeover(t *testing.T) {
	n := newNarrator(t)
	l := buildVIPLab(t, n, "vip")
	d1, d2 := l.master, l.backup

	n.Step("lbctl status -n --health on each director")
	n.Block(d1.checkHealthText(t, "MASTER", 200))
	n.Block(d2.checkHealthText(t, "BACKUP", 100))

	n.Step("Client traffic: 10 new connections to http://%s/", vipAddr)
	vipSpread(t, n, l.client, 10, map[string]int{"web1": 5, "web2": 5})
	if mac := neighMAC(t, l.client, "eth0", vipAddr); mac.String() != d1.mac.String() {
		t.Errorf("client's ARP entry for the VIP is %s, want d1's %s", mac, d1.mac)
	}
	n.Note("client's ARP entry: %s is at %s (d1)", vipAddr, d1.mac)

	// Cut.
	arp := vipSniffARP(t, l.client, "eth0")
	n.Step("Pulling d1's cable (carrier lost on d1's eth0); the client probes the VIP every 50 ms")
	cut := time.Now()
	must(t, d1.link.Cut())
	took, who := vipFirstAnswer(t, l.client, cut, 10*time.Second)
	fmt.Printf("MEASURE vip_takeover_linkcut=%.3fs\n", took.Seconds())
	n.Note("first answer %s after the cut (from %s); d2's Master_Down_Interval is %s after d1's last advert",
		took.Round(time.Millisecond), who, vipBackupMasterDown.Round(time.Millisecond))
	// The backup cannot take over before 3 adverts went missing (2 x 1 s +
	// skew after the cut at the earliest) nor much after Master_Down_Interval.
	if lo, hi := 2*time.Second+vipBackupSkew-200*time.Millisecond, vipBackupMasterDown+1500*time.Millisecond; took < lo || took > hi {
		t.Errorf("takeover after the cut seen from the client: %s, want between %s and %s", took, lo, hi)
	}
	l.waitStates(t, 3*time.Second, map[*vipDirector]string{d1: "FAULT", d2: "MASTER"})
	l.checkVIPOn(t, d2)
	g, ok := arp.waitGratuitous(vipAddr, d2.mac, cut, 2*time.Second)
	if !ok {
		t.Errorf("the client saw no gratuitous ARP for %s from d2 (%s) after the cut", vipAddr, d2.mac)
	} else {
		// garp.master_repeat (default 5) in the first burst; the second
		// burst comes garp.master_delay (5 s) later.
		time.Sleep(500 * time.Millisecond)
		burst := 0
		for _, p := range arp.gratuitous(vipAddr, d2.mac, g.at) {
			if p.at.Sub(g.at) < time.Second {
				burst++
			}
		}
		if burst != 5 {
			t.Errorf("d2 sent %d gratuitous ARPs in its first burst, want garp.master_repeat's default 5", burst)
		}
		n.Note("client received d2's gratuitous ARPs (%s is-at %s, %d in the burst) %s after the cut",
			vipAddr, d2.mac, burst, g.at.Sub(cut).Round(time.Millisecond))
	}
	n.Block(d1.checkHealthText(t, "FAULT", 200))
	if mac := vipWaitNeigh(t, l.client, "eth0", vipAddr, d2.mac, 2*time.Second); mac.String() != d2.mac.String() {
		t.Errorf("client's ARP entry for the VIP is %s after the takeover, want d2's %s (gratuitous ARP)", mac, d2.mac)
	}
	n.Note("client's ARP entry moved to %s (d2) with no flush on the client; d1 is FAULT and dropped the VIP", d2.mac)
	vipSpread(t, n, l.client, 4, map[string]int{"web1": 2, "web2": 2})

	// Restore: preemption.
	n.Step("Plugging d1's cable back: d1 (priority 200, preempt) takes the VIP back")
	restore := time.Now()
	must(t, d1.link.Restore())
	back := l.waitStates(t, 10*time.Second, map[*vipDirector]string{d1: "MASTER", d2: "BACKUP"})
	fmt.Printf("MEASURE vip_preempt_restore=%.3fs\n", back.Seconds())
	l.checkVIPOn(t, d1)
	if mac := vipWaitNeigh(t, l.client, "eth0", vipAddr, d1.mac, 2*time.Second); mac.String() != d1.mac.String() {
		t.Errorf("client's ARP entry for the VIP is %s after d1 took it back, want d1's %s", mac, d1.mac)
	}
	if _, ok := arp.waitGratuitous(vipAddr, d1.mac, restore, time.Second); !ok {
		t.Errorf("the client saw no gratuitous ARP for %s from d1 after it took the VIP back", vipAddr)
	}
	n.Note("d1 MASTER again %s after the cable came back (FAULT -> BACKUP, then Master_Down_Interval: d2's adverts carry a lower priority); client's ARP entry back at %s",
		back.Round(10*time.Millisecond), d1.mac)
	vipSpread(t, n, l.client, 4, map[string]int{"web1": 2, "web2": 2})

	// Graceful stop.
	n.Step("SIGTERM to lbd on d1: it sends a priority-0 advert and drops the VIP; d2 takes over after its skew")
	stop := time.Now()
	d1.signal(t, syscall.SIGTERM)
	took, who = vipFirstAnswer(t, l.client, stop, 5*time.Second)
	fmt.Printf("MEASURE vip_takeover_stop=%.3fs\n", took.Seconds())
	n.Note("first answer %s after SIGTERM (from %s); d2's skew is %s", took.Round(time.Millisecond), who, vipBackupSkew.Round(time.Millisecond))
	// The backup waits its skew after the priority-0 advert, no less.
	if lo, hi := vipBackupSkew-100*time.Millisecond, vipBackupSkew+1500*time.Millisecond; took < lo || took > hi {
		t.Errorf("takeover after a graceful stop seen from the client: %s, want between skew - 0.1 s = %s and skew + 1.5 s = %s", took, lo, hi)
	}
	if exited, err := d1.waitExit(10 * time.Second); !exited {
		t.Fatalf("lbd run on d1 still running 10 s after SIGTERM; log:\n%s", d1.lbd.log.String())
	} else if err != nil {
		t.Errorf("lbd run on d1 exited with %v after SIGTERM, want status 0", err)
	}
	n.Note("lbd on d1 exited 0 %s after SIGTERM", d1.lbd.exitAt.Sub(stop).Round(time.Millisecond))
	l.waitStates(t, 3*time.Second, map[*vipDirector]string{d2: "MASTER"})
	l.checkVIPOn(t, d2)
	if mac := vipWaitNeigh(t, l.client, "eth0", vipAddr, d2.mac, 2*time.Second); mac.String() != d2.mac.String() {
		t.Errorf("client's ARP entry for the VIP is %s after the stop, want d2's %s", mac, d2.mac)
	}
	n.Block(d2.checkHealthText(t, "MASTER", 100))
	n.Note("d2's transitions: %v; d1's: %v", d2.vrrpLogLines(), d1.vrrpLogLines())
	vipSpread(t, n, l.client, 4, map[string]int{"web1": 2, "web2": 2})
}
