//go:build netns

package nginxlab

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestNetnsNginxPair is the seed's nginx pair end to end on this host (root;
// no IPVS: lbd runs VRRP-only): real nginx on both proxies, the client
// probing the VIP every 20 ms. For lbd (the shipped example) and then
// keepalived (the seed's keepalived.conf), tracking nginx with the 1 s
// script, in the seed's set-up (d1 preempts) and with nopreempt on both;
// then lbd tracking nginx's process (the example's track_process
// alternative; keepalived's cannot work in a namespace: KeepalivedConfig).
// nginx is killed on the master d1, d1 goes FAULT, d2 becomes MASTER and
// the client is answered again, by d2, within the protocol's bound; nginx
// started again, d1 takes the VIP back (preempt) or stays BACKUP while d2
// keeps it (nopreempt).
func TestNetnsNginxPair(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces)")
	}
	dir := t.TempDir()
	lbd, err := BuildLBD(dir)
	if err != nil {
		t.Fatal(err)
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	l, err := New("ngx", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	pb := l.StartProber(20*time.Millisecond, 500*time.Millisecond)
	t.Cleanup(pb.Stop)
	for _, s := range []Setup{
		{LBD, TrackScript, Preempt},
		{LBD, TrackScript, NoPreempt},
		{Keepalived, TrackScript, Preempt},
		{Keepalived, TrackScript, NoPreempt},
		{LBD, TrackProcess, Preempt},
	} {
		t.Run(s.String(), func(t *testing.T) {
			r := runPairRound(t, l, pb, s, lbd, root)
			t.Logf("%s: kill to first answer %v (protocol bound %v)", s, r.FailoverTime().Round(time.Millisecond), FailoverBound(s.Track))
			t.Logf("%s: from the kill: %s", s, Timeline(r))
			if s.Variant == Preempt {
				t.Logf("%s: nginx up to d1's first answer %v (protocol bound %v)", s, r.PreemptTime().Round(time.Millisecond), PreemptBound(s.Track))
			}
		})
	}
}

// runPairRound starts the pair, waits until d1 serves, runs one round and
// checks it, and stops the pair.
func runPairRound(t *testing.T, l *Lab, pb *Prober, s Setup, lbd, root string) Round {
	t.Helper()
	for _, p := range l.Proxies() {
		if err := p.EnsureNginx(); err != nil { // after an earlier subtest's failure
			t.Fatal(err)
		}
	}
	start := time.Now()
	pr, err := l.StartPair(s, lbd, root)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = pr.Stop(l)
		}
		if t.Failed() {
			t.Logf("events: %v\n%s", pr.Events(), pr.Logs())
		}
	}()
	// Preempt: d1 starts MASTER; NoPreempt: both BACKUP, d1 wins after
	// its Master_Down_Interval.
	if err := l.WaitServedBy(pb, "d1", MasterDown(D1Priority, Advert)+2*Slack); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: the client served by d1 %v after the start", s, time.Since(start).Round(time.Millisecond))
	r, err := pr.RunRound(l, pb, rand.N(CheckInterval))
	if err != nil {
		t.Fatalf("%v\nclient: %v", err, Whos(Sequence(r.Results, r.Kill, time.Time{})))
	}
	for _, p := range r.Problems() {
		t.Error(p)
	}
	if why := pr.Polling(); why != "" {
		t.Logf("%s: lbd had no process events, it read the process table every second: %s", s, why)
	}
	if t.Failed() {
		t.Logf("client from the kill: %v", Whos(Sequence(r.Results, r.Kill, time.Time{})))
	}
	stopped = true
	t.Logf("%s: round done %v after the start", s, time.Since(start).Round(time.Millisecond))
	if err := pr.Stop(l); err != nil {
		t.Errorf("stopping %s: %v", s.Kind, err)
	}
	return r
}
