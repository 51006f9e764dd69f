package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"
)

func TestMeasure(t *testing.T) {
	at := time.Unix(1000, 0)
	ms := func(d int) time.Time { return at.Add(time.Duration(d) * time.Millisecond) }
	for _, tc := range []struct {
		name    string
		recs    []flowRecord
		carried map[int]bool
		want    outcome
	}{
		{
			name: "moved flows resume, the others go on",
			recs: []flowRecord{
				{port: 1, answers: []time.Time{ms(-50), ms(20), ms(70)}},
				{port: 2, answers: []time.Time{ms(-40), ms(300)}},
				{port: 3, answers: []time.Time{ms(-30), ms(900), ms(950)}},
				{port: 4, answers: []time.Time{ms(-20), ms(400)}},
			},
			carried: map[int]bool{2: true, 3: true, 4: true},
			want:    outcome{total: 4, moved: 3, resume: 900 * time.Millisecond, resumeMedian: 400 * time.Millisecond, gap: 930 * time.Millisecond},
		},
		{
			name: "a reset moved flow is broken and the resume unknown",
			recs: []flowRecord{
				{port: 1, answers: []time.Time{ms(-50), ms(20)}},
				{port: 2, answers: []time.Time{ms(-40)}, err: errors.New("connection reset by peer")},
				{port: 3, answers: []time.Time{ms(-30), ms(500)}},
			},
			carried: map[int]bool{2: true, 3: true},
			want:    outcome{total: 3, broken: 1, moved: 2, resume: -1, resumeMedian: 500 * time.Millisecond, gap: 530 * time.Millisecond},
		},
		{
			name: "a flow never answered after the fault is broken, carried or not",
			recs: []flowRecord{
				{port: 1, answers: []time.Time{ms(-50)}},
				{port: 2, answers: []time.Time{ms(-40), ms(200)}},
			},
			carried: map[int]bool{2: true},
			want:    outcome{total: 2, broken: 1, moved: 1, resume: 200 * time.Millisecond, resumeMedian: 200 * time.Millisecond, gap: 240 * time.Millisecond},
		},
		{
			name: "a reset after the last answer still breaks the flow",
			recs: []flowRecord{
				{port: 1, answers: []time.Time{ms(-50), ms(100)}, err: errors.New("EOF")},
			},
			want: outcome{total: 1, broken: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := measure(tc.recs, tc.carried, at); got != tc.want {
				t.Errorf("measure = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	good := func(resume, route time.Duration) outcome {
		return outcome{total: 60, moved: 20, resume: resume, resumeMedian: resume, routeGone: route}
	}
	all := []string{seriesDrain, seriesKillHold, seriesKillBFD, seriesKeepalived, seriesBirdHold, seriesBirdBFD}
	pass := results{
		seriesDrain:      {good(50*time.Millisecond, 30*time.Millisecond)},
		seriesKillHold:   {good(3200*time.Millisecond, 2500*time.Millisecond), good(3400*time.Millisecond, 2700*time.Millisecond), good(3000*time.Millisecond, 2300*time.Millisecond)},
		seriesKillBFD:    {good(600*time.Millisecond, 300*time.Millisecond)},
		seriesKeepalived: {{total: 60, moved: 60, resume: 4200 * time.Millisecond}},
		seriesBirdHold:   {good(3300*time.Millisecond, 2500*time.Millisecond)},
		seriesBirdBFD:    {good(580*time.Millisecond, 290*time.Millisecond)},
	}
	with := func(series string, o outcome) results {
		r := results{}
		for k, v := range pass {
			r[k] = v
		}
		r[series] = []outcome{o}
		return r
	}
	for _, tc := range []struct {
		name     string
		res      results
		want     []string
		missing  []string
		wantErr  error
		wantText []string
	}{
		{name: "all goals met", res: pass, want: all,
			wantText: []string{"ratio lbd kill hold / keepalived kill, served again: 3.200s / 4.200s = 0.762", "ratio lbd kill bfd / bird kill bfd, route: 0.300s / 0.290s = 1.034", "bird kill bfd    broken 0/60  served again 0.580s  route 0.290s",
				"ratio lbd kill hold / keepalived kill, served again: 3.200s / 4.200s = 0.762\n  [info] not a goal", "ecmpbench: PASS"}},
		{name: "served again later than bird2", res: with(seriesKillHold, good(6200*time.Millisecond, 2500*time.Millisecond)), want: all,
			wantErr: benchverdict.ErrFailed, wantText: []string{"[FAIL] served again: lbd kill hold's median at most bird kill hold's + 1s: 6.200s <= 4.300s"}},
		{name: "a flow broken by the drain", res: with(seriesDrain, outcome{total: 60, broken: 1, moved: 20, resume: -1}), want: all,
			wantErr: benchverdict.ErrFailed, wantText: []string{"[FAIL] lbd drain: 1 of 60 established flows broken (goal 0)"}},
		{name: "served again later than keepalived", res: with(seriesKillBFD, good(5*time.Second, 300*time.Millisecond)), want: all,
			wantErr: benchverdict.ErrFailed, wantText: []string{"[FAIL] served again: lbd kill bfd's median at most keepalived kill's + 0s: 5.000s <= 4.200s"}},
		{name: "route dropped later than bird2 by one BFD interval", res: with(seriesKillBFD, good(600*time.Millisecond, 390*time.Millisecond)), want: all,
			wantText: []string{"[ok  ] route: lbd kill bfd's median at most bird kill bfd's + 100ms: 0.390s <= 0.390s", "ecmpbench: PASS"}},
		{name: "route dropped later than bird2 by more", res: with(seriesKillBFD, good(600*time.Millisecond, 400*time.Millisecond)), want: all,
			wantErr: benchverdict.ErrFailed, wantText: []string{"ratio lbd kill bfd / bird kill bfd, route: 0.400s / 0.290s = 1.379", "[FAIL] route: lbd kill bfd's median at most bird kill bfd's + 100ms: 0.400s <= 0.390s"}},
		{name: "a series missing", res: with(seriesKeepalived, outcome{}), want: all[:3], missing: []string{"lbd kill bfd trial 1: no route"},
			wantErr: benchverdict.ErrNotMeasured, wantText: []string{"NO VERDICT: lbd kill bfd trial 1: no route"}},
		{name: "the peer not measured", res: results{seriesDrain: pass[seriesDrain], seriesKillHold: pass[seriesKillHold], seriesKillBFD: pass[seriesKillBFD]}, want: all,
			wantErr: benchverdict.ErrNotMeasured, wantText: []string{"keepalived kill  not measured", "keepalived kill: no trial"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := judge(&out, tc.res, tc.want, tc.missing)
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("judge: %v, want %v\n%s", err, tc.wantErr, out.String())
			}
			for _, w := range tc.wantText {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := options{trials: 3, flows: 60, every: 50 * time.Millisecond, peers: []string{peerKeepalived, peerBird}}
	for _, tc := range []struct {
		name string
		mod  func(*options)
		want string
	}{
		{name: "defaults", mod: func(*options) {}},
		{name: "no trial", mod: func(o *options) { o.trials = 0 }, want: "-trials 0"},
		{name: "too few flows", mod: func(o *options) { o.flows = 2 }, want: "-flows 2"},
		{name: "unknown peer", mod: func(o *options) { o.peers = []string{"frr"} }, want: `unknown peer "frr"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			err := validate(o)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("validate: %v, want %q", err, tc.want)
			}
		})
	}
	if got := wanted(options{}); len(got) != 3 {
		t.Errorf("wanted without peers = %v, want lbd's three series", got)
	}
}

func TestBFDUp(t *testing.T) {
	out := `BIRD 2.0.12 ready.
bfd1:
IP address                Interface  State      Since         Interval  Timeout
10.9.0.1                  eth1       Up         17:54:18.123    0.100    0.300
10.9.0.2                  eth1       Down       17:54:17.967    1.000    0.000
10.9.0.3                  eth1       Up         17:54:01.002    0.100    0.300
`
	if got := bfdUp(out); !slices.Equal(got, []int{1, 3}) {
		t.Errorf("bfdUp = %v, want [1 3]", got)
	}
	if got := bfdUp("BIRD 2.0.12 ready.\nbfd1:\nIP address                Interface  State      Since         Interval  Timeout\n"); len(got) != 0 {
		t.Errorf("bfdUp of no session = %v", got)
	}
}

func TestBFDDowns(t *testing.T) {
	log := `2026-12-07 17:54:17.929 <TRACE> bfd1: Sending CTL to 10.9.0.2 [Up]
2026-12-07 17:54:17.940 <TRACE> bfd1: Session to 10.9.0.2 changed state from Up to Down
2026-12-07 17:54:17.967 <TRACE> bfd1: Session to 10.9.0.2 removed
2026-12-07 17:54:19.001 <TRACE> bfd1: Session to 10.9.0.2 changed state from Down to Init
2026-12-07 17:54:19.101 <TRACE> bfd1: Session to 10.9.0.2 changed state from Init to Up
2026-12-07 17:54:25.300 <TRACE> bfd1: Session to 10.9.0.3 changed state from Up to Down
`
	if got := bfdDowns(log); got != 2 {
		t.Errorf("bfdDowns = %d, want 2", got)
	}
}
