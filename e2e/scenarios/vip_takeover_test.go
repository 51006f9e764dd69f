//go:build testbed_guest

package scenarios

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// vipTakeoverWait bounds the wait for a takeover the protocol makes happen
// within one Master_Down_Interval (3.61 s, 3.22 s for d1): three of them
// plus settle. It only stops a takeover that never comes.
const vipTakeoverWait = 3*vipBackupMasterDown + settle

// vipStampSlack is the precision of the wire bounds: the bridge floods a
// frame to d2 and to the client in one loop, which the kernel stamps
// microseconds apart, and the VRRP timers fire on the dot; 2 ms covers
// both. A late stamp (a busy VM) only widens the gap measured.
const vipStampSlack = 2 * time.Millisecond

// vipCheckCutOnWire checks d2's takeover after d1's cable was pulled at
// cut, on the wire: d2 advertises only once Master_Down_Interval has passed
// since the last advert of d1 it could have heard.
func vipCheckCutOnWire(t *testing.T, n *narrator, arp *vipARPSniffer, cut time.Time) {
	t.Helper()
	first, ok := arp.waitAdvert(vipBackupAddr, vipVRID, cut, settle)
	if !ok {
		t.Errorf("the client saw no advert from d2 after the cut")
		return
	}
	last, ok := arp.lastAdvertBefore(vipMasterAddr, vipVRID, first.at)
	if !ok {
		t.Errorf("the client saw no advert from d1 before d2's first")
		return
	}
	gap := first.at.Sub(last.at)
	n.Note("on the wire: d1's last advert, then d2's first %s later (Master_Down_Interval %s)", gap.Round(time.Millisecond), vipBackupMasterDown)
	if gap < vipBackupMasterDown-vipStampSlack {
		t.Errorf("d2 advertised %s after d1's last advert, before its Master_Down_Interval %s", gap, vipBackupMasterDown)
	}
}

// vipCheckStopOnWire checks d2's takeover after lbd on d1 got SIGTERM at
// stop, on the wire: d1's priority-0 advert, then d2's first, no sooner
// than d2's skew after it (the backup waits Skew_Time, no less).
func vipCheckStopOnWire(t *testing.T, n *narrator, arp *vipARPSniffer, stop time.Time) {
	t.Helper()
	zero, ok := vipWaitAdvertPrio(arp, vipMasterAddr, 0, stop)
	if !ok {
		t.Errorf("the client saw no priority-0 advert from d1 after SIGTERM")
		return
	}
	first, ok := arp.waitAdvert(vipBackupAddr, vipVRID, zero.at, settle)
	if !ok {
		t.Errorf("the client saw no advert from d2 after d1's priority-0 advert")
		return
	}
	gap := first.at.Sub(zero.at)
	n.Note("on the wire: d1's priority-0 advert, then d2's first advert %s later (skew %s)", gap.Round(time.Millisecond), vipBackupSkew.Round(time.Millisecond))
	if gap < vipBackupSkew-vipStampSlack {
		t.Errorf("d2 advertised %s after d1's priority-0 advert, before its skew %s", gap, vipBackupSkew)
	}
}

// vipHandoffMax is how long a stopping master keeps the VIP when no
// router takes over: 1.25 advert intervals (vrrp's handoff wait).
const vipHandoffMax = 1250 * time.Millisecond

// vipCheckStopHandoff checks the stopping master's handoff on a real
// kernel: from its priority-0 advert until d2's first advert as master, d1
// still holds the VIP and the client's requests (sent one after another)
// are answered; d1 drops it only after d2 advertised. Before the handoff
// d1 dropped the VIP with the advert and the client's requests were lost
// or delivered late for the whole skew. It returns when the first of those
// requests was answered (false: none was).
func vipCheckStopHandoff(t *testing.T, n *narrator, client *netnslab.Namespace, arp *vipARPSniffer, d1 *vipDirector, stop time.Time) (first time.Time, ok bool) {
	t.Helper()
	zero, ok := vipWaitAdvertPrio(arp, vipMasterAddr, 0, stop)
	if !ok {
		return first, false // vipCheckStopOnWire reports it
	}
	d2Advertised := func() (time.Time, bool) {
		if as := arp.advertsFrom(vipBackupAddr, vipVRID, zero.at); len(as) > 0 {
			return as[0].at, true
		}
		return time.Time{}, false
	}
	held, answered := 0, 0
	type failure struct {
		end  time.Time
		what string
	}
	var failed []failure
	for time.Since(zero.at) < vipHandoffMax {
		if _, ok := d2Advertised(); ok {
			break
		}
		if !d1.hasVIP(t) {
			// d2's advert may be on its way to the client's sniffer.
			time.Sleep(100 * time.Millisecond)
			if _, ok := d2Advertised(); !ok {
				t.Errorf("d1 dropped the VIP %s after its priority-0 advert with no advert from d2: the handoff keeps it until d2 takes over",
					time.Since(zero.at).Round(time.Millisecond))
				return first, !first.IsZero()
			}
			break
		}
		held++
		start := time.Now()
		_, err := vipProbe(t.Context(), client, 900*time.Millisecond)
		switch {
		case err == nil:
			answered++
			if first.IsZero() {
				first = time.Now()
			}
		default: // judged below, against d2's first advert's receive time
			failed = append(failed, failure{time.Now(), fmt.Sprintf("sent %s after the priority-0 advert: %v", start.Sub(zero.at).Round(time.Millisecond), err)})
		}
	}
	at, took := d2Advertised()
	if !took {
		t.Errorf("no advert from d2 within %s of d1's priority-0 advert", vipHandoffMax)
		return first, !first.IsZero()
	}
	n.Note("handoff: d1 held the VIP in %d samples from its priority-0 advert to d2's first advert %s later; %d requests answered meanwhile",
		held, at.Sub(zero.at).Round(time.Millisecond), answered)
	if held == 0 || answered == 0 {
		t.Errorf("d1 held the VIP in %d samples and answered %d requests between its priority-0 advert and d2's first advert, want some", held, answered)
	}
	// A request that failed before d2's first advert reached the client
	// (the kernel's receive time) failed while d1 alone held the VIP:
	// nothing explains it. One still open at the switch may be reset by d2,
	// which has no entry for it (that is the takeover, not the handoff).
	for _, f := range failed {
		if f.end.Before(at) {
			t.Errorf("a request failed while d1 still held the VIP and d2 had not advertised: %s", f.what)
		}
	}
	return first, !first.IsZero()
}

// vipWaitCount polls count until it reaches n, at most settle.
func vipWaitCount(count func() int, n int) bool {
	deadline := time.Now().Add(settle)
	for count() < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// vipWaitAdvertPrio waits up to settle for an advert of VI_1 from src with
// priority prio seen from t0 on.
func vipWaitAdvertPrio(s *vipARPSniffer, src string, prio uint8, t0 time.Time) (vipAdvert, bool) {
	deadline := time.Now().Add(settle)
	for {
		for _, a := range s.advertsFrom(src, vipVRID, t0) {
			if a.prio == prio {
				return a, true
			}
		}
		if time.Now().After(deadline) {
			return vipAdvert{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScenarioVIPTakeover is the director pair of deploy/examples on a real
// kernel (issue 4): lbd-master.yaml (priority 200) on d1 and lbd-backup.yaml
// (priority 100, nopreempt) on d2, advert 1 s, PASS authentication, the same
// IPVS DR service on both, two web nodes with lbrs.
//
//   - d1 becomes MASTER and holds the VIP as eth0:0, d2 stays BACKUP without
//     it; the client's requests are spread over both web nodes.
//   - d1's cable is pulled: d2 takes the VIP, its first advert on the wire
//     no sooner than Master_Down_Interval (3 x 1 s + skew 0.61 s) after
//     d1's last (the client's packet socket stamps both), announces it
//     with gratuitous ARP, and the client's ARP entry for the VIP moves to
//     d2's MAC without any flush on the client. The takeover time seen from
//     the client is printed as MEASURE vip_takeover_linkcut.
//   - The cable is plugged back: d1 (priority 200, preempt on: nopreempt is
//     on the backup, where it changes nothing) takes the VIP back.
//   - lbd on d1 gets SIGTERM: it sends a priority-0 advert and keeps the
//     VIP, answering the client, until d2 advertises as master; d2's first
//     advert comes after that one, no sooner than its skew
//     (MEASURE vip_takeover_stop: the first answer after SIGTERM).
//
// How long a takeover took is measured, not asserted: the waits are
// multiples of Master_Down_Interval and only stop a takeover that never
// comes; the bounds asserted are the protocol's lower ones, on the wire.
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
	// One advert of d1 seen first: the last before the cut is on record.
	if _, ok := arp.waitAdvert(vipMasterAddr, vipVRID, time.Now(), settle); !ok {
		t.Fatalf("the client saw no advert from d1")
	}
	n.Step("Pulling d1's cable (carrier lost on d1's eth0); the client probes the VIP every 50 ms")
	cut := time.Now()
	must(t, d1.link.Cut())
	took, who := vipFirstAnswer(t, l.client, cut, vipTakeoverWait)
	fmt.Printf("MEASURE vip_takeover_linkcut=%.3fs\n", took.Seconds())
	n.Note("first answer %s after the cut (from %s); d2's Master_Down_Interval is %s after d1's last advert",
		took.Round(time.Millisecond), who, vipBackupMasterDown.Round(time.Millisecond))
	vipCheckCutOnWire(t, n, arp, cut)
	l.waitStates(t, settle, map[*vipDirector]string{d1: "FAULT", d2: "MASTER"})
	l.checkVIPOn(t, d2)
	g, ok := arp.waitGratuitous(vipAddr, d2.mac, cut, settle)
	if !ok {
		t.Errorf("the client saw no gratuitous ARP for %s from d2 (%s) after the cut", vipAddr, d2.mac)
	} else {
		// garp.master_repeat (default 5) in the first burst, sent back to
		// back; the second burst comes garp.master_delay (5 s) later. The
		// burst's exact size is the netns GARP schedule test's (from the
		// router's own record); here: at least the burst, counted.
		if !vipWaitCount(func() int { return len(arp.gratuitous(vipAddr, d2.mac, g.at)) }, 5) {
			t.Errorf("d2 sent %d gratuitous ARPs after the cut, want at least garp.master_repeat's default 5", len(arp.gratuitous(vipAddr, d2.mac, g.at)))
		}
		n.Note("client received d2's gratuitous ARPs (%s is-at %s) %s after the cut",
			vipAddr, d2.mac, g.at.Sub(cut).Round(time.Millisecond))
	}
	n.Block(d1.checkHealthText(t, "FAULT", 200))
	if mac := vipWaitNeigh(t, l.client, "eth0", vipAddr, d2.mac, settle); mac.String() != d2.mac.String() {
		t.Errorf("client's ARP entry for the VIP is %s after the takeover, want d2's %s (gratuitous ARP)", mac, d2.mac)
	}
	n.Note("client's ARP entry moved to %s (d2) with no flush on the client; d1 is FAULT and dropped the VIP", d2.mac)
	vipSpread(t, n, l.client, 4, map[string]int{"web1": 2, "web2": 2})

	// Restore: preemption.
	n.Step("Plugging d1's cable back: d1 (priority 200, preempt) takes the VIP back")
	restore := time.Now()
	must(t, d1.link.Restore())
	back := l.waitStates(t, vipTakeoverWait, map[*vipDirector]string{d1: "MASTER", d2: "BACKUP"})
	fmt.Printf("MEASURE vip_preempt_restore=%.3fs\n", back.Seconds())
	l.checkVIPOn(t, d1)
	if mac := vipWaitNeigh(t, l.client, "eth0", vipAddr, d1.mac, settle); mac.String() != d1.mac.String() {
		t.Errorf("client's ARP entry for the VIP is %s after d1 took it back, want d1's %s", mac, d1.mac)
	}
	if _, ok := arp.waitGratuitous(vipAddr, d1.mac, restore, settle); !ok {
		t.Errorf("the client saw no gratuitous ARP for %s from d1 after it took the VIP back", vipAddr)
	}
	n.Note("d1 MASTER again %s after the cable came back (FAULT -> BACKUP, then Master_Down_Interval: d2's adverts carry a lower priority); client's ARP entry back at %s",
		back.Round(10*time.Millisecond), d1.mac)
	vipSpread(t, n, l.client, 4, map[string]int{"web1": 2, "web2": 2})

	// Graceful stop.
	n.Step("SIGTERM to lbd on d1: it sends a priority-0 advert and keeps serving the VIP until d2 takes over after its skew")
	stop := time.Now()
	d1.signal(t, syscall.SIGTERM)
	if first, ok := vipCheckStopHandoff(t, n, l.client, arp, d1, stop); ok {
		took, who = first.Sub(stop), "d1, still holding the VIP"
	} else {
		took, who = vipFirstAnswer(t, l.client, stop, vipTakeoverWait)
	}
	fmt.Printf("MEASURE vip_takeover_stop=%.3fs\n", took.Seconds())
	n.Note("first answer %s after SIGTERM (from %s); d2's skew is %s", took.Round(time.Millisecond), who, vipBackupSkew.Round(time.Millisecond))
	vipCheckStopOnWire(t, n, arp, stop)
	if exited, err := d1.waitExit(settle); !exited {
		t.Fatalf("lbd run on d1 still running 10 s after SIGTERM; log:\n%s", d1.lbd.log.String())
	} else if err != nil {
		t.Errorf("lbd run on d1 exited with %v after SIGTERM, want status 0", err)
	}
	n.Note("lbd on d1 exited 0 %s after SIGTERM", d1.lbd.exitAt.Sub(stop).Round(time.Millisecond))
	l.waitStates(t, settle, map[*vipDirector]string{d2: "MASTER"})
	l.checkVIPOn(t, d2)
	if mac := vipWaitNeigh(t, l.client, "eth0", vipAddr, d2.mac, settle); mac.String() != d2.mac.String() {
		t.Errorf("client's ARP entry for the VIP is %s after the stop, want d2's %s", mac, d2.mac)
	}
	n.Block(d2.checkHealthText(t, "MASTER", 100))
	n.Note("d2's transitions: %v; d1's: %v", d2.vrrpLogLines(), d1.vrrpLogLines())
	vipSpread(t, n, l.client, 4, map[string]int{"web1": 2, "web2": 2})
}
