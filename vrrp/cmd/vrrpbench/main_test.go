package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"
)

// res is a result whose every trial took wire on the wire and vip at the
// VIP.
func res(name, sc string, limit, wire, vip time.Duration) result {
	var im impl
	for _, p := range pairs() {
		for _, i := range []impl{p.ours, p.peer} {
			if i.name == name {
				im = i
			}
		}
	}
	return result{impl: im, scenario: sc, limit: limit, trials: []trial{{wire: wire, vip: vip, outage: vip}}}
}

func allResults(oursVIP time.Duration) []result {
	const ms = time.Millisecond
	return []result{
		res("ours", "cut", 3609*ms, 3609*ms, oursVIP),
		res("ours", "stop", 609*ms, 609*ms, 609*ms),
		res("keepalived", "cut", 3609*ms, 3610*ms, 3617*ms),
		res("keepalived", "stop", 609*ms, 611*ms, 613*ms),
		res("ours v3 100ms", "cut", 360*ms, 361*ms, 361*ms),
		res("ours v3 100ms", "stop", 60*ms, 61*ms, 61*ms),
		res("keepalived v3 100ms", "cut", 360*ms, 362*ms, 363*ms),
		res("keepalived v3 100ms", "stop", 60*ms, 62*ms, 63*ms),
		res("ours+bfd", "cut", 3609*ms, 800*ms, 810*ms),
	}
}

func without(rs []result, name string) []result {
	var out []result
	for _, r := range rs {
		if r.impl.name != name {
			out = append(out, r)
		}
	}
	return out
}

func TestReport(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name        string
		results     []result
		wantErr     error // nil: PASS
		wantVerdict string
	}{
		{"every pair measured, ours faster", allResults(3610 * time.Millisecond), nil, "vrrpbench: PASS"},
		{"ours slower than keepalived at the VIP", allResults(3620 * time.Millisecond), benchverdict.ErrFailed, "vrrpbench: FAIL (1 check(s))"},
		{"-only ours: no peer", without(without(allResults(3610*time.Millisecond), "keepalived"), "keepalived v3 100ms"), benchverdict.ErrNotMeasured,
			"vrrpbench: NO VERDICT: the comparison needs keepalived cut, keepalived stop, keepalived v3 100ms cut, keepalived v3 100ms stop, keepalived cut"},
		{"-only keepalived: not ours", without(without(without(allResults(3610*time.Millisecond), "ours"), "ours v3 100ms"), "ours+bfd"), benchverdict.ErrNotMeasured,
			"vrrpbench: NO VERDICT: the comparison needs ours cut, ours stop, ours v3 100ms cut, ours v3 100ms stop, ours+bfd cut"},
		{"-only v2: the v3 pair left out whole", without(without(allResults(3610*time.Millisecond), "ours v3 100ms"), "keepalived v3 100ms"), nil, "vrrpbench: PASS"},
		{"ours+bfd slower than keepalived", append(without(allResults(3610*time.Millisecond), "ours+bfd"), res("ours+bfd", "cut", 3609*ms, 3700*ms, 3700*ms)),
			benchverdict.ErrFailed, "vrrpbench: FAIL (3 check(s))"},
		{"nothing", nil, benchverdict.ErrNotMeasured, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := report(&out, tt.results)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("report = %v, want %v", err, tt.wantErr)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if last := lines[len(lines)-1]; last != tt.wantVerdict {
				t.Errorf("last line %q, want %q\n%s", last, tt.wantVerdict, out.String())
			}
		})
	}
}

func TestSelected(t *testing.T) {
	for only, want := range map[string]string{
		"":           "ours,keepalived,ours v3 100ms,keepalived v3 100ms,ours+bfd",
		"ours":       "ours,ours v3 100ms,ours+bfd",
		"keepalived": "keepalived,keepalived v3 100ms",
		"v3":         "ours v3 100ms,keepalived v3 100ms",
		"v2":         "ours,keepalived,ours+bfd",
		"bfd":        "ours+bfd",
		"nope":       "",
	} {
		var names []string
		for _, im := range selected(only) {
			names = append(names, im.name)
		}
		if got := strings.Join(names, ","); got != want {
			t.Errorf("selected(%q) = %q, want %q", only, got, want)
		}
	}
}
