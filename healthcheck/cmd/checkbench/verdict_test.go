package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"
)

func TestJudge(t *testing.T) {
	m := func(checks, failures int64, cpu time.Duration) measurement {
		return measurement{checks: checks, failures: failures, cpu: cpu, window: 10 * time.Second}
	}
	tests := []struct {
		name        string
		ours, ka    measurement
		kaErr       error
		wantErr     error // nil: PASS
		wantVerdict string
	}{
		{name: "pass", ours: m(100000, 0, 7*time.Second), ka: m(78000, 92, 5*time.Second),
			wantVerdict: "checkbench: PASS"},
		{name: "ours does not keep up", ours: m(59000, 0, 4*time.Second), ka: m(50000, 0, 4*time.Second),
			wantErr: benchverdict.ErrFailed, wantVerdict: "checkbench: FAIL (1 of 3 goals missed)"},
		{name: "ours on more than one core", ours: m(100000, 0, 11*time.Second), ka: m(100000, 0, 5*time.Second),
			wantErr: benchverdict.ErrFailed, wantVerdict: "checkbench: FAIL (1 of 3 goals missed)"},
		{name: "keepalived completes more", ours: m(99500, 0, 7*time.Second), ka: m(100900, 0, 5*time.Second),
			wantErr: benchverdict.ErrFailed, wantVerdict: "checkbench: FAIL (1 of 3 goals missed)"},
		{name: "ours has more false failures", ours: m(100000, 3, 7*time.Second), ka: m(100000, 1, 5*time.Second),
			wantErr: benchverdict.ErrFailed, wantVerdict: "checkbench: FAIL (1 of 3 goals missed)"},
		{name: "peer not measured: no verdict, however good ours is", ours: m(100000, 0, 7*time.Second),
			kaErr: errors.New("no C compiler"), wantErr: benchverdict.ErrNotMeasured, wantVerdict: "checkbench: NO VERDICT: keepalived, the peer, was not measured: no C compiler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := judge(&out, tt.ours, tt.ka, tt.kaErr, 10000)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("judge = %v, want %v", err, tt.wantErr)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if last := lines[len(lines)-1]; last != tt.wantVerdict {
				t.Errorf("last line %q, want %q\n%s", last, tt.wantVerdict, out.String())
			}
			if tt.kaErr != nil && strings.Contains(out.String(), "PASS") {
				t.Errorf("a PASS printed without the peer:\n%s", out.String())
			}
		})
	}
}
