package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/benchkit"
	"github.com/lvsd/lb/internal/benchverdict"
)

func TestJudge(t *testing.T) {
	steady := benchkit.Steadiness{Steady: true, After: 3 * time.Second}
	m := func(checks, failures int64, cpu time.Duration) measurement {
		return measurement{checks: checks, failures: failures, cpu: cpu, window: 10 * time.Second, steady: steady}
	}
	unsteady := func(x measurement) measurement {
		x.steady = benchkit.Steadiness{After: time.Minute, Best: 4000}
		return x
	}
	one := func(ours, ka measurement) []scaleResult {
		return []scaleResult{{n: 10000, scheduled: 10000, ours: ours, ka: ka}}
	}
	tests := []struct {
		name        string
		results     []scaleResult
		wantErr     error // nil: PASS
		wantVerdict string
		wantOut     string
	}{
		{name: "pass", results: one(m(100000, 0, 7*time.Second), m(78000, 92, 9*time.Second)),
			wantVerdict: "checkbench: PASS"},
		{name: "pass against a keepalived that never got steady, and says so", results: one(m(100000, 0, 10*time.Second), unsteady(m(26000, 466, 8*time.Second))),
			wantVerdict: "checkbench: PASS", wantOut: "keepalived never reached its steady state"},
		{name: "keepalived completed no check in its window: a result, compared", results: one(m(100000, 0, 10*time.Second), unsteady(m(0, 0, 9*time.Second))),
			wantVerdict: "checkbench: PASS", wantOut: "completed no check in the 10s window"},
		{name: "ours completed no check", results: one(unsteady(m(0, 0, 9*time.Second)), m(50000, 0, 9*time.Second)),
			wantErr: benchverdict.ErrFailed, wantVerdict: "checkbench: FAIL (3 of 4 goals missed)"},
		{name: "ours never steady", results: one(unsteady(m(99000, 0, 7*time.Second)), m(50000, 0, 9*time.Second)),
			wantErr: benchverdict.ErrFailed, wantVerdict: "checkbench: FAIL (1 of 4 goals missed)"},
		{name: "ours spends more CPU per check (however many cores)", results: one(m(100000, 0, 11*time.Second), m(100000, 0, 10*time.Second)),
			wantErr: benchverdict.ErrFailed, wantVerdict: "checkbench: FAIL (1 of 4 goals missed)"},
		{name: "keepalived completes more", results: one(m(99500, 0, 7*time.Second), m(100900, 0, 9*time.Second)),
			wantErr: benchverdict.ErrFailed, wantVerdict: "checkbench: FAIL (1 of 4 goals missed)"},
		{name: "ours has more false failures", results: one(m(100000, 3, 7*time.Second), m(100000, 1, 9*time.Second)),
			wantErr: benchverdict.ErrFailed, wantVerdict: "checkbench: FAIL (1 of 4 goals missed)"},
		{name: "a miss at one scale fails the run", results: append(one(m(100000, 0, 7*time.Second), m(90000, 0, 9*time.Second)),
			scaleResult{n: 2000, scheduled: 2000, ours: m(20000, 0, 3*time.Second), ka: m(20000, 0, 2*time.Second)}),
			wantErr: benchverdict.ErrFailed, wantVerdict: "checkbench: FAIL (1 of 8 goals missed)"},
		{name: "peer not measured: no verdict, however good ours is",
			results: []scaleResult{{n: 10000, scheduled: 10000, ours: m(100000, 0, 7*time.Second), kaErr: errors.New("no C compiler")}},
			wantErr: benchverdict.ErrNotMeasured, wantVerdict: "checkbench: NO VERDICT: keepalived, the peer, was not measured at 10000 real servers: no C compiler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := judge(&out, tt.results)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("judge = %v, want %v", err, tt.wantErr)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if last := lines[len(lines)-1]; last != tt.wantVerdict {
				t.Errorf("last line %q, want %q\n%s", last, tt.wantVerdict, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantOut, out.String())
			}
			if tt.wantErr == benchverdict.ErrNotMeasured && strings.Contains(out.String(), "PASS") {
				t.Errorf("a PASS printed without the peer:\n%s", out.String())
			}
		})
	}
}

func TestParseScales(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{in: "2000,10000", want: []int{2000, 10000}},
		{in: " 1000 ", want: []int{1000}},
		{in: "0", wantErr: true},
		{in: "10k", wantErr: true},
		{in: "", wantErr: true},
		{in: "20000000", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseScales(tt.in)
		if (err != nil) != tt.wantErr || !tt.wantErr && !slices.Equal(got, tt.want) {
			t.Errorf("parseScales(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
