//go:build netns

package vrrp_test

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/vrrp"
	"github.com/lvsd/lb/vrrp/internal/vrrplab"
)

// TestNetnsBFDTakeover: two `lbd run` (VRRP only, VRRPv2 at 1 s: a backup
// alone waits Master_Down_Interval, 3.61 s at priority 100, after the
// master's last advert) with bfd at 100ms x 3. When the master's link is
// cut, or the master is frozen (SIGSTOP), the backup becomes MASTER within
// BFD's detection time plus slack for a busy host (1.5 s from the fault),
// where VRRP alone could not take less than 2.61 s (the last advert is at
// most 1 s before the fault); with the link back, or the master thawed,
// the pair converges back to one master (a, priority 200).
func TestNetnsBFDTakeover(t *testing.T) {
	bin, err := vrrplab.BuildLbd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bn := newBench(t)
	bn.Lbd = bin
	in := func(prio int) vrrplab.KAInstance {
		return vrrplab.KAInstance{Name: "VI_1", VRID: 51, Version: 2, Priority: prio, Advert: time.Second,
			AuthPass: "1111", VIPs: []netip.Prefix{vip}, BFDInterval: 100 * time.Millisecond}
	}
	start := func(h *vrrplab.Host, name string, prio int) *vrrplab.Proc {
		p, err := bn.StartLbd(h, name, vrrplab.LbdConf(bn.Dir, name, in(prio)))
		if err != nil {
			t.Fatal(err)
		}
		bn.procs = append(bn.procs, p)
		return p
	}
	a := start(bn.a, "lbd-a", 200)
	b := start(bn.b, "lbd-b", 100)
	const bound = 300*time.Millisecond + 1200*time.Millisecond
	for _, fault := range []string{"link cut", "SIGSTOP"} {
		t.Run(fault, func(t *testing.T) {
			waitState(t, a, vrrp.StateMaster, 15*time.Second)
			waitState(t, b, vrrp.StateBackup, settle)
			waitBFDUp(t, b)
			// The Poll Sequences that lower the interval to 100ms end
			// within a few packets.
			time.Sleep(1500 * time.Millisecond)
			event := time.Now()
			var err error
			if fault == "link cut" {
				err = bn.a.Link.Cut()
			} else {
				err = a.Signal(syscall.SIGSTOP)
			}
			if err != nil {
				t.Fatal(err)
			}
			waitState(t, b, vrrp.StateMaster, 10*time.Second)
			took := b.History()[len(b.History())-1].At.Sub(event)
			t.Logf("%s: b MASTER %v after the fault (BFD 100ms x 3; Master_Down_Interval 3.61s)", fault, took)
			if took > bound {
				t.Errorf("b took over %v after the %s, want within %v (BFD detection 300ms + slack)", took, fault, bound)
			}
			if !strings.Contains(b.Log(), "BFD says the master is down") {
				t.Errorf("b's takeover was not BFD's:\n%s", b.Log())
			}
			if fault == "link cut" {
				err = bn.a.Link.Restore()
			} else {
				err = a.Signal(syscall.SIGCONT)
			}
			if err != nil {
				t.Fatal(err)
			}
			oneMaster(t, a, b)
		})
	}
}

// waitBFDUp waits for b's log to report a BFD session Up.
func waitBFDUp(t *testing.T, p *vrrplab.Proc) {
	t.Helper()
	err := vrrplab.Eventually(15*time.Second, func() error {
		for _, l := range strings.Split(p.Log(), "\n") {
			if strings.Contains(l, `"msg":"bfd: session state changed"`) && strings.Contains(l, `"to":"Up"`) {
				return nil
			}
		}
		return fmt.Errorf("%s: no BFD session Up", p.Name)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// oneMaster waits until a is MASTER and b BACKUP and checks they stay so
// for a few adverts.
func oneMaster(t *testing.T, a, b *vrrplab.Proc) {
	t.Helper()
	err := vrrplab.Eventually(15*time.Second, func() error {
		if sa, sb := a.State("VI_1"), b.State("VI_1"); sa != vrrp.StateMaster || sb != vrrp.StateBackup {
			return fmt.Errorf("a %v, b %v; want MASTER, BACKUP", sa, sb)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if sa, sb := a.State("VI_1"), b.State("VI_1"); sa != vrrp.StateMaster || sb != vrrp.StateBackup {
		t.Fatalf("not settled: a %v, b %v", sa, sb)
	}
}
