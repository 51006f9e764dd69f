package nginxlab

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/vrrp"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// res is a request sent at ms, answered 10 ms later by who ("-": failed).
func res(ms int, who string) Result {
	r := Result{Sent: at(ms), Done: at(ms + 10), Director: who, Backend: "web1"}
	if who == Failed {
		r = Result{Sent: at(ms), Done: at(ms + 10), Err: "connection refused"}
	}
	return r
}

func TestFirstAnswer(t *testing.T) {
	slow := res(100, "d2")
	slow.Done = at(900) // sent first, answered last
	rs := []Result{res(0, "d1"), res(50, Failed), slow, res(200, "d2"), res(300, "d1")}
	for _, tt := range []struct {
		name     string
		from     time.Time
		director string
		want     time.Time // the answer's send time; zero: none
	}{
		{"any, from the start", at(0), "", at(0)},
		{"any after a failure: the earliest answered, not the earliest sent", at(50), "", at(200)},
		{"d1 after d2", at(50), "d1", at(300)},
		{"none after the last", at(301), "", time.Time{}},
		{"no d3", at(0), "d3", time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := FirstAnswer(rs, tt.from, tt.director)
			if ok != !tt.want.IsZero() || (ok && !r.Sent.Equal(tt.want)) {
				t.Errorf("got %v %v, want sent at %v", r.Sent, ok, tt.want)
			}
		})
	}
}

func TestSequence(t *testing.T) {
	rs := []Result{res(0, "d1"), res(20, "d1"), res(40, Failed), res(60, Failed), res(80, "d2"), res(100, "d1")}
	for _, tt := range []struct {
		name     string
		from, to time.Time
		want     []string
		wantN    []int
	}{
		{"all", at(0), time.Time{}, []string{"d1", Failed, "d2", "d1"}, []int{2, 2, 1, 1}},
		{"from the failure to before the last", at(40), at(100), []string{Failed, "d2"}, []int{2, 1}},
		{"empty window", at(200), time.Time{}, []string{}, []int{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runs := Sequence(rs, tt.from, tt.to)
			var ns []int
			for _, r := range runs {
				ns = append(ns, r.N)
			}
			if !slices.Equal(Whos(runs), tt.want) || !slices.Equal(ns, tt.wantN) && len(tt.wantN) > 0 {
				t.Errorf("got %v %v, want %v %v", Whos(runs), ns, tt.want, tt.wantN)
			}
		})
	}
}

// goodRound is a round that keeps every promise of its variant.
func goodRound(v Variant) Round {
	r := Round{Setup: Setup{LBD, TrackScript, v}, Kill: at(1000), Restart: at(3000), NginxUp: at(3050)}
	r.Events = []Event{{"d1", "MASTER", at(0)}, {"d2", "BACKUP", at(0)}, {"d1", "FAULT", at(1500)}, {"d2", "MASTER", at(2100)},
		{"d1", "BACKUP", at(3500)}}
	r.Results = []Result{res(900, "d1"), res(1100, Failed), res(2200, "d2"), res(3200, "d2")}
	r.Failover = r.Results[2]
	if v == Preempt {
		r.Events = append(r.Events, Event{"d1", "MASTER", at(6700)}, Event{"d2", "BACKUP", at(6700)})
		r.Results = append(r.Results, res(6800, "d1"))
		r.Back = r.Results[4]
	} else {
		r.Held = at(3500 + 4300)
		r.Results = append(r.Results, res(7000, "d2"))
	}
	return r
}

func TestRoundProblems(t *testing.T) {
	for _, tt := range []struct {
		name   string
		v      Variant
		change func(r *Round)
		want   string // a problem containing this; "" none
	}{
		{"preempt kept", Preempt, func(*Round) {}, ""},
		{"nopreempt kept", NoPreempt, func(*Round) {}, ""},
		{"d1 answered after the kill", Preempt, func(r *Round) { r.Results = append(r.Results, res(2500, "d1")) }, "answers from d1 after the kill"},
		{"first answer from d1", Preempt, func(r *Round) { r.Failover.Director = "d1" }, "want d2"},
		{"over the bound", Preempt, func(r *Round) { r.Failover.Done = r.Kill.Add(FailoverBound(TrackScript) + Slack + time.Millisecond) }, "over the protocol"},
		{"d1 never FAULT", Preempt, func(r *Round) { r.Events = slices.Delete(r.Events, 2, 3) }, "never went FAULT"},
		{"answer before d2 MASTER", Preempt, func(r *Round) { r.Events[3].At = at(2300) }, "before d2 became MASTER"},
		{"no preemption", Preempt, func(r *Round) { r.Events = r.Events[:5] }, "never became MASTER again"},
		{"flapping back to d2", Preempt, func(r *Round) { r.Results = append(r.Results, res(7400, "d2")) }, "flapped"},
		{"d2 just after d1's first answer: no flap", Preempt, func(r *Round) { r.Results = append(r.Results, res(6900, "d2")) }, ""},
		{"nopreempt preempted", NoPreempt, func(r *Round) { r.Events = append(r.Events, Event{"d1", "MASTER", at(6700)}) }, "despite nopreempt"},
		{"nopreempt watched too briefly", NoPreempt, func(r *Round) { r.Held = at(4000) }, "less than d1's Master_Down_Interval"},
		{"nopreempt: d1 answered", NoPreempt, func(r *Round) { r.Results = append(r.Results, res(6000, "d1")) }, "answers from d1 after the kill"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := goodRound(tt.v)
			tt.change(&r)
			got := r.Problems()
			if tt.want == "" {
				if len(got) > 0 {
					t.Errorf("problems %q, want none", got)
				}
				return
			}
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("problems %q, want one saying %q", got, tt.want)
			}
		})
	}
}

// The lab's lbd runs the shipped example, changed only as its comments say
// (d2: the three "backup:" lines) plus where two lbd share a file system.
func TestLBDConfig(t *testing.T) {
	for _, tt := range []struct {
		proxy     string
		v         Variant
		state     vrrp.StartState
		prio      int
		nopreempt bool
	}{
		{"d1", Preempt, vrrp.StartMaster, 200, false},
		{"d2", Preempt, vrrp.StartBackup, 100, true},
		{"d1", NoPreempt, vrrp.StartBackup, 200, true},
		{"d2", NoPreempt, vrrp.StartBackup, 100, true},
	} {
		for _, track := range []Track{TrackScript, TrackProcess} {
			t.Run(tt.proxy+"/"+string(track)+"/"+string(tt.v), func(t *testing.T) {
				dir := t.TempDir()
				s, err := LBDConfig(tt.proxy, dir, Setup{LBD, track, tt.v})
				if err != nil {
					t.Fatal(err)
				}
				d, err := config.ParseDirector("lbd.yaml", []byte(s))
				if err != nil {
					t.Fatalf("%v\n%s", err, s)
				}
				in := d.VRRP.Instances[0]
				if in.InitialState != tt.state || in.Priority != tt.prio || in.NoPreempt != tt.nopreempt {
					t.Errorf("state %v priority %d nopreempt %v", in.InitialState, in.Priority, in.NoPreempt)
				}
				if d.Global.ControlSocket != filepath.Join(dir, "lbd.sock") || d.Global.StateDir != filepath.Join(dir, "state") ||
					d.Global.MetricsAddress != "" || len(d.VirtualServers) != 0 {
					t.Errorf("global %+v, %d virtual servers", d.Global, len(d.VirtualServers))
				}
				if in.AdvertInterval != Advert || d.VRRP.Scripts[0].Interval != CheckInterval || d.VRRP.Scripts[0].Timeout != CheckTimeout {
					t.Errorf("the example's timing changed: advert %v, script %+v: update nginxlab's constants", in.AdvertInterval, d.VRRP.Scripts[0])
				}
				checkTracked(t, d.VRRP, track, tt.proxy)
			})
		}
	}
}

// checkTracked: the instance tracks chk_nginx alone (TrackScript) or the
// proxy's nginx process alone (TrackProcess).
func checkTracked(t *testing.T, set vrrp.Set, track Track, proxy string) {
	t.Helper()
	in, ps := set.Instances[0], set.TrackProcesses
	ok := len(in.TrackScripts) == 1 && len(in.TrackProcesses) == 0
	if track == TrackProcess {
		ok = len(in.TrackScripts) == 0 && len(in.TrackProcesses) == 1 && len(ps) == 1 &&
			slices.Equal(ps[0].Process, []string{NginxComm(proxy)}) && ps[0].Weight == 0
	}
	if !ok {
		t.Errorf("%s: tracks scripts %+v, processes %+v (%+v)", track, in.TrackScripts, in.TrackProcesses, ps)
	}
}

// The lab's keepalived runs the seed's files; NoPreempt makes d1 BACKUP
// with nopreempt.
func TestKeepalivedConfig(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	master, err := os.ReadFile(filepath.Join(root, SeedMasterConf))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := KeepalivedConfig(root, "d1", Setup{Keepalived, TrackScript, Preempt}); err != nil || got != string(master) {
		t.Errorf("d1 preempt: not the seed's file (%v)", err)
	}
	got, err := KeepalivedConfig(root, "d1", Setup{Keepalived, TrackScript, NoPreempt})
	if err != nil || !strings.Contains(got, "state BACKUP") || !strings.Contains(got, "priority 200\nnopreempt\n") ||
		strings.Contains(got, "state MASTER") {
		t.Errorf("d1 nopreempt (%v):\n%s", err, got)
	}
	if got, err := KeepalivedConfig(root, "d2", Setup{Keepalived, TrackScript, NoPreempt}); err != nil || !strings.Contains(got, "nopreempt") {
		t.Errorf("d2 nopreempt (%v):\n%s", err, got)
	}
	if _, err := KeepalivedConfig(root, "d2", Setup{Keepalived, TrackProcess, Preempt}); err == nil {
		t.Error("keepalived with track_process: no error, though its process events cannot work in a namespace")
	}
}

func TestTimeline(t *testing.T) {
	got := Timeline(goodRound(Preempt))
	want := "d1 FAULT +500ms, d2 MASTER +1.1s, d1 nginx restarted +2s, d1 BACKUP +2.5s, d1 MASTER +5.7s, d2 BACKUP +5.7s; " +
		"client: - x1 from +100ms, d2 x2 from +1.2s, d1 x1 from +5.8s"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
