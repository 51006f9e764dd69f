//go:build netns

package vrrp_test

import (
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
	"github.com/lvsd/lb/vrrp"
	"github.com/lvsd/lb/vrrp/internal/vrrplab"
)

// TestNetnsBFDTakeover: two `lbd run` (VRRP only, VRRPv2 at 1 s: a backup
// alone waits Master_Down_Interval, 3.61 s at priority 100, after the
// master's last advert) with bfd at 100ms x 3, over multicast (the backup's
// session goes to the master it hears) and with unicast_peers (sessions to
// the peers). When the master's link is cut, or the master is frozen
// (SIGSTOP), the backup becomes MASTER within BFD's detection time plus
// slack for a busy host (1.5 s from the fault), where VRRP alone could not
// take less than 2.61 s (the last advert is at most 1 s before the fault);
// lbctl status --health shows the session down and the takeover; with the
// link back, or the master thawed, the pair converges back to one master
// (a, priority 200).
func TestNetnsBFDTakeover(t *testing.T) {
	bin, err := vrrplab.BuildLbd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lbctl, err := netnslab.GoBuild(t.TempDir(), "github.com/lvsd/lb/cmd/lbctl", "CGO_ENABLED=0")
	if err != nil {
		t.Fatal(err)
	}
	bn := newBench(t)
	bn.Lbd = bin
	for _, mode := range []string{"multicast", "unicast"} {
		t.Run(mode, func(t *testing.T) { bfdTakeover(t, bn, lbctl, mode) })
	}
}

func bfdTakeover(t *testing.T, bn *bench, lbctl, mode string) {
	in := func(prio int, self, peer netip.Addr) vrrplab.KAInstance {
		k := vrrplab.KAInstance{Name: "VI_1", VRID: 51, Version: 2, Priority: prio, Advert: time.Second,
			AuthPass: "1111", VIPs: []netip.Prefix{vip}, BFDInterval: 100 * time.Millisecond}
		if mode == "unicast" {
			k.UnicastSrc, k.UnicastPeers = self, []netip.Addr{peer}
		}
		return k
	}
	start := func(h *vrrplab.Host, name string, k vrrplab.KAInstance) *vrrplab.Proc {
		p, err := bn.StartLbd(h, name, vrrplab.LbdConf(bn.Dir, name, k))
		if err != nil {
			t.Fatal(err)
		}
		bn.procs = append(bn.procs, p)
		t.Cleanup(func() { p.Stop(5 * time.Second) })
		return p
	}
	a := start(bn.a, "lbd-a-"+mode, in(200, addrA.Addr(), addrB.Addr()))
	b := start(bn.b, "lbd-b-"+mode, in(100, addrB.Addr(), addrA.Addr()))
	const bound = 300*time.Millisecond + 1200*time.Millisecond
	ups := 0
	for _, fault := range []string{"link cut", "SIGSTOP"} {
		waitState(t, a, vrrp.StateMaster, 15*time.Second)
		waitState(t, b, vrrp.StateBackup, settle)
		ups = waitBFDUp(t, b, ups)
		// The Poll Sequences that lower the interval to 100ms end within
		// a few packets.
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
		checkHealth(t, lbctl, filepath.Join(bn.Dir, b.Name+".lbd", "lbd.sock"))
		if fault == "link cut" {
			err = bn.a.Link.Restore()
		} else {
			err = a.Signal(syscall.SIGCONT)
		}
		if err != nil {
			t.Fatal(err)
		}
		oneMaster(t, a, b)
	}
}

// checkHealth: lbctl status --health shows b's session to a down and the
// takeover counted.
func checkHealth(t *testing.T, lbctl, sock string) {
	t.Helper()
	out, err := exec.Command(lbctl, "-s", sock, "status", "--health").CombinedOutput()
	want := fmt.Sprintf("VI_1: bfd: %s Down since ", addrA.Addr())
	if err != nil || !strings.Contains(string(out), want) || !strings.Contains(string(out), "takeover(s) by BFD") {
		t.Errorf("lbctl status --health: %v, want a line with %q:\n%s", err, want, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "bfd:") {
			t.Logf("lbctl status --health: %s", strings.TrimSpace(l))
		}
	}
}

// waitBFDUp waits for p's log to report more BFD sessions Up than after,
// and returns how many it reports.
func waitBFDUp(t *testing.T, p *vrrplab.Proc, after int) int {
	t.Helper()
	n := 0
	err := vrrplab.Eventually(15*time.Second, func() error {
		n = 0
		for _, l := range strings.Split(p.Log(), "\n") {
			if strings.Contains(l, `"msg":"bfd: session state changed"`) && strings.Contains(l, `"to":"Up"`) {
				n++
			}
		}
		if n <= after {
			return fmt.Errorf("%s: no new BFD session Up (%d so far)", p.Name, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
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
