//go:build netns

package vrrp_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/proctest"
	"github.com/lvsd/lb/vrrp"
	"github.com/lvsd/lb/vrrp/internal/vrrplab"
)

// TestNetnsTrackProcessVsKeepalived runs vrrpd and keepalived side by side,
// each in its own namespace (as on two directors), each with one instance
// following a process by the process events connector (track_process) and
// one following it by a track script run every second (pgrep), all with
// weight 0: the process's death is a FAULT. It kills the process at a
// random point of the scripts' period, several times, and reports the
// time from the kill to each instance's FAULT.
func TestNetnsTrackProcessVsKeepalived(t *testing.T) {
	bn := newBench(t)
	bin, comm := proctest.CopiedSleep(t, t.TempDir(), "lbdka")
	const rounds = 5
	withProc := func(c *vrrp.Config) { c.TrackProcesses = []vrrp.TrackProcess{{Name: "p"}} }
	withScript := func(c *vrrp.Config) {
		c.Name, c.VRID, c.VIPs = "VI_2", 52, []vrrp.VIP{{Prefix: netip.MustParsePrefix("10.77.0.102/32")}}
		c.TrackScripts = []vrrp.TrackScript{{Name: "chk"}}
	}
	ours := bn.ours(t, bn.a, vrrplab.Config{
		Instances:      []vrrp.Config{instance(200, withProc), instance(200, withScript)},
		TrackProcesses: []vrrp.ProcessConfig{{Name: "p", Process: []string{comm}}},
		Scripts: []vrrp.ScriptConfig{{Name: "chk", Command: []string{"/usr/bin/pgrep", "-x", comm},
			Interval: time.Second, Rise: 1, Fall: 1}},
	})
	ka := bn.keepalivedTracking(t, comm)

	p := startSleep(t, bin)
	speakers := []struct {
		p        *vrrplab.Proc
		instance string
		what     string
	}{
		{ours, "VI_1", "lbd track_process"}, {ours, "VI_2", "lbd track script 1s"},
		{ka, "VI_2", "keepalived track script 1s"},
	}
	// keepalived's own track_process does not work in a network namespace:
	// the kernel refuses its subscription to process events (ECONNREFUSED:
	// they are sent in the initial namespace only) and, without them, it
	// takes the process for absent: its VI_1 stays in FAULT while the
	// process runs. (Debian's keepalived is built without net_namespace,
	// its way to subscribe before entering a namespace.) lbd subscribes
	// from the initial namespace.
	if err := ka.WaitState("VI_2", vrrp.StateMaster, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(ka.Log(), "\n") {
		if strings.Contains(line, "process event listen") || strings.Contains(line, "quorum not achieved") {
			t.Logf("keepalived's track_process in a namespace: %s", line)
		}
	}
	lat := make([][]time.Duration, len(speakers))
	for range rounds {
		for _, s := range speakers {
			if err := s.p.WaitState(s.instance, vrrp.StateMaster, 10*time.Second); err != nil {
				t.Fatalf("%s: %v", s.what, err)
			}
		}
		time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
		killed := time.Now()
		if err := p.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_, _ = p.Process.Wait()
		for i, s := range speakers {
			if err := s.p.WaitState(s.instance, vrrp.StateFault, 10*time.Second); err != nil {
				t.Fatalf("%s: %v", s.what, err)
			}
			lat[i] = append(lat[i], faultAfter(s.p, s.instance, killed).Sub(killed))
		}
		p = startSleep(t, bin)
	}
	var report []string
	for i, s := range speakers {
		l := slices.Sorted(slices.Values(lat[i]))
		report = append(report, fmt.Sprintf("%s median %v max %v", s.what, l[len(l)/2].Round(100*time.Microsecond), l[len(l)-1].Round(100*time.Microsecond)))
	}
	t.Logf("kill -> FAULT, %d kills: %s", rounds, strings.Join(report, "; "))
	if strings.Contains(ours.Log(), "process events are not available") {
		t.Errorf("vrrpd polls the process table instead of following its events:\n%s", ours.Log())
	}
	if m := slices.Max(lat[0]); m >= time.Second {
		t.Errorf("lbd's track_process took %v (>= the 1 s fallback period): not event-driven", m)
	}
}

// faultAfter returns when instance of p entered FAULT after t.
func faultAfter(p *vrrplab.Proc, instance string, t time.Time) time.Time {
	for _, e := range p.History() {
		if e.Instance == instance && e.State == vrrp.StateFault && e.At.After(t) {
			return e.At
		}
	}
	return time.Time{}
}

// keepalivedTracking runs keepalived on host b with VI_1 (VRID 61) following
// process comm by vrrp_track_process and VI_2 (VRID 62) by a 1 s
// vrrp_script, both weight 0.
func (bn *bench) keepalivedTracking(t *testing.T, comm string) *vrrplab.Proc {
	t.Helper()
	conf := vrrplab.KeepalivedConf("ka-b",
		vrrplab.KAInstance{Name: "VI_1", VRID: 61, Version: 3, Priority: 200, Advert: 100 * time.Millisecond,
			VIPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.161/32")}},
		vrrplab.KAInstance{Name: "VI_2", VRID: 62, Version: 3, Priority: 200, Advert: 100 * time.Millisecond,
			VIPs: []netip.Prefix{netip.MustParsePrefix("10.77.0.162/32")}})
	head, rest, _ := strings.Cut(conf, "vrrp_instance VI_1 {\n")
	vi1, vi2, _ := strings.Cut(rest, "vrrp_instance VI_2 {\n")
	conf = head +
		fmt.Sprintf("vrrp_track_process p {\n  process %s\n  weight 0\n}\n", comm) +
		fmt.Sprintf("vrrp_script chk {\n  script \"/usr/bin/pgrep -x %s\"\n  interval 1\n  weight 0\n  rise 1\n  fall 1\n}\n", comm) +
		"vrrp_instance VI_1 {\n  track_process {\n    p\n  }\n" + vi1 +
		"vrrp_instance VI_2 {\n  track_script {\n    chk\n  }\n" + vi2
	p, err := bn.StartKeepalived(bn.b, "keepalived-b", conf)
	if err != nil {
		t.Fatal(err)
	}
	bn.procs = append(bn.procs, p)
	return p
}

func startSleep(t *testing.T, bin string) *exec.Cmd {
	t.Helper()
	c := exec.Command(bin, "3600")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _, _ = c.Process.Wait() })
	return c
}
