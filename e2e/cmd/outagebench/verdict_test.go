package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"net/netip"

	"github.com/lvsd/lb/internal/benchverdict"
	"github.com/lvsd/lb/internal/config"
)

func TestMeasureOutcome(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	r := func(start, end int, ok bool) probeResult { return probeResult{start: ms(start), end: ms(end), ok: ok} }
	tests := []struct {
		name    string
		rs      []probeResult
		fault   int
		want    outcome
		wantErr bool
	}{
		{
			name: "a gap across the fault, failed requests inside it",
			rs: []probeResult{r(0, 5, true), r(10, 15, true), r(20, 1020, false), r(30, 1030, false),
				r(3000, 3004, true), r(3010, 3015, true)},
			fault: 18, want: outcome{outage: 2989 * time.Millisecond, again: 2986 * time.Millisecond, failed: 2, total: 6},
		},
		{
			name:  "a gap before the fault does not count",
			rs:    []probeResult{r(0, 5, true), r(10, 905, true), r(910, 915, true), r(1000, 1400, true)},
			fault: 950, want: outcome{outage: 485 * time.Millisecond, again: 450 * time.Millisecond, total: 4},
		},
		{
			name:  "a request in flight at the fault is not the recovery",
			rs:    []probeResult{r(0, 5, true), r(10, 2000, true), r(2100, 2105, true)},
			fault: 20, want: outcome{outage: 1995 * time.Millisecond, again: 2085 * time.Millisecond, total: 3},
		},
		{
			name: "never served after the fault", rs: []probeResult{r(0, 5, true), r(10, 1010, false)},
			fault: 8, wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := measureOutcome(tt.rs, ms(tt.fault))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	o := options{trials: 3, faults: []string{faultCut, faultStop}, stacks: []string{stackLbd, stackKeepalived}}
	tr := func(outages ...float64) []trialResult {
		var out []trialResult
		for _, s := range outages {
			d := time.Duration(s * float64(time.Second))
			out = append(out, trialResult{outcome: outcome{outage: d, again: d}, phase: 100 * time.Millisecond})
		}
		return out
	}
	tests := []struct {
		name        string
		res         results
		missing     []string
		wantErr     error
		wantVerdict string
	}{
		{name: "lbd no worse for both faults",
			res:         results{"lbd cut": tr(3.0, 3.2, 9), "keepalived cut": tr(3.1, 3.2, 3.3), "lbd stop": tr(0.7, 0.7, 0.8), "keepalived stop": tr(0.7, 0.9, 0.9)},
			wantVerdict: "outagebench: PASS"},
		{name: "a cut is judged from d1's last advert: lbd's shorter raw outage came from later cuts",
			res: results{"lbd cut": {{outcome: outcome{outage: 2900 * time.Millisecond}, phase: 800 * time.Millisecond}, {outcome: outcome{outage: 3000 * time.Millisecond}, phase: 700 * time.Millisecond}, {outcome: outcome{outage: 3100 * time.Millisecond}, phase: 600 * time.Millisecond}},
				"keepalived cut": tr(3.1, 3.2, 3.3), "lbd stop": tr(0.7, 0.7, 0.8), "keepalived stop": tr(0.7, 0.9, 0.9)},
			wantErr: benchverdict.ErrFailed, wantVerdict: "outagebench: FAIL (1 goal(s) missed)"},
		{name: "lbd slower after a stop",
			res:     results{"lbd cut": tr(3.0, 3.2, 3.3), "keepalived cut": tr(3.1, 3.2, 3.3), "lbd stop": tr(0.9, 1.7, 1.8), "keepalived stop": tr(0.7, 0.9, 0.9)},
			wantErr: benchverdict.ErrFailed, wantVerdict: "outagebench: FAIL (1 goal(s) missed)"},
		{name: "a trial not measured: no verdict",
			res:     results{"lbd cut": tr(3.0, 3.2), "keepalived cut": tr(3.1, 3.2, 3.3), "lbd stop": tr(0.7, 0.7, 0.8), "keepalived stop": tr(0.7, 0.9, 0.9)},
			missing: []string{"lbd cut trial 3: not ready"}, wantErr: benchverdict.ErrNotMeasured,
			wantVerdict: "outagebench: NO VERDICT: 1 trial(s) not measured: lbd cut trial 3: not ready"},
		{name: "keepalived left out: no verdict",
			res:     results{"lbd cut": tr(3.0, 3.2, 3.1), "lbd stop": tr(0.7, 0.7, 0.8)},
			wantErr: benchverdict.ErrNotMeasured, wantVerdict: "outagebench: NO VERDICT: cut: lbd 3 and keepalived 0 trials of 3 (-stacks leaves one out?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := judge(&out, tt.res, o, tt.missing)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("judge = %v, want %v", err, tt.wantErr)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if last := lines[len(lines)-1]; last != tt.wantVerdict {
				t.Errorf("last line %q, want %q\n%s", last, tt.wantVerdict, out.String())
			}
		})
	}
}

// TestJudgeBFD: with lbd+bfd in -stacks, its median raw outage is judged
// against keepalived's for each fault, next to lbd's.
func TestJudgeBFD(t *testing.T) {
	o := options{trials: 3, faults: []string{faultCut}, stacks: []string{stackLbd, stackKeepalived, stackLbdBFD}}
	tr := func(outages ...float64) []trialResult {
		var out []trialResult
		for _, s := range outages {
			d := time.Duration(s * float64(time.Second))
			out = append(out, trialResult{outcome: outcome{outage: d, again: d}, phase: 100 * time.Millisecond})
		}
		return out
	}
	for _, tt := range []struct {
		name        string
		res         results
		wantErr     error
		wantVerdict string
	}{
		{"lbd+bfd faster", results{"lbd cut": tr(3.0, 3.2, 3.3), "keepalived cut": tr(3.1, 3.2, 3.3), "lbd+bfd cut": tr(0.5, 0.6, 0.7)},
			nil, "outagebench: PASS"},
		{"lbd+bfd slower", results{"lbd cut": tr(3.0, 3.2, 3.3), "keepalived cut": tr(3.1, 3.2, 3.3), "lbd+bfd cut": tr(3.5, 3.6, 3.7)},
			benchverdict.ErrFailed, "outagebench: FAIL (1 goal(s) missed)"},
		{"lbd+bfd short of trials", results{"lbd cut": tr(3.0, 3.2, 3.3), "keepalived cut": tr(3.1, 3.2, 3.3), "lbd+bfd cut": tr(0.5)},
			benchverdict.ErrFailed, "outagebench: FAIL (1 goal(s) missed)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := judge(&out, tt.res, o, nil)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("judge = %v, want %v", err, tt.wantErr)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if last := lines[len(lines)-1]; last != tt.wantVerdict {
				t.Errorf("last line %q, want %q\n%s", last, tt.wantVerdict, out.String())
			}
			if !strings.Contains(out.String(), "ratio lbd+bfd/keepalived, cut") && tt.res["lbd+bfd cut"] != nil && len(tt.res["lbd+bfd cut"]) == 3 {
				t.Errorf("no lbd+bfd ratio:\n%s", out.String())
			}
		})
	}
}

func TestConfigsAgree(t *testing.T) {
	// Both stacks get the same instance, timers, service and checks.
	for _, d := range directors {
		lbd, ka := lbdConfig(d, "/x", false), keepalivedConfig(d)
		for _, want := range []string{"priority: " + itoa(d.priority), "virtual_router_id: 51", "advert_interval: 1", "delay_loop: 1", "retry: 1", healthDigest()} {
			if !strings.Contains(lbd, want) {
				t.Errorf("lbd.yaml of %s lacks %q:\n%s", d.name, want, lbd)
			}
		}
		for _, want := range []string{"priority " + itoa(d.priority), "virtual_router_id 51", "advert_int 1", "delay_loop 1", "retry 1", healthDigest()} {
			if !strings.Contains(ka, want) {
				t.Errorf("keepalived.conf of %s lacks %q:\n%s", d.name, want, ka)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLbdConfigValid(t *testing.T) {
	for _, withBFD := range []bool{false, true} {
		for _, d := range directors {
			path := filepath.Join(t.TempDir(), "lbd.yaml")
			if err := os.WriteFile(path, []byte(lbdConfig(d, t.TempDir(), withBFD)), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := config.LoadDirector(path)
			if err != nil {
				t.Fatalf("lbd.yaml of %s (bfd %v): %v", d.name, withBFD, err)
			}
			if b := c.VRRP.Instance("VI_1").BFD; (b != nil) != withBFD || withBFD && (b.Interval != 100*time.Millisecond || b.Multiplier != 3) {
				t.Errorf("lbd.yaml of %s: bfd %+v, want it %v at 100ms x 3", d.name, b, withBFD)
			}
		}
	}
}

func TestParseFrame(t *testing.T) {
	mac := func(b byte) []byte { return []byte{2, 0, 0, 0, 0, b} }
	eth := func(dst, src []byte, typ uint16, payload []byte) []byte {
		f := append(append(append([]byte{}, dst...), src...), byte(typ>>8), byte(typ))
		return append(f, payload...)
	}
	ip4 := func(proto byte, src, dst string, l4 []byte) []byte {
		h := make([]byte, 20)
		h[0], h[9] = 0x45, proto
		s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
		copy(h[12:16], s[:])
		copy(h[16:20], d[:])
		return append(h, l4...)
	}
	arp := func(sender []byte, spa, tpa string) []byte {
		p := make([]byte, 28)
		p[7] = 1 // request
		copy(p[8:14], sender)
		s, d := netip.MustParseAddr(spa).As4(), netip.MustParseAddr(tpa).As4()
		copy(p[14:18], s[:])
		copy(p[24:28], d[:])
		return p
	}
	tcp := func(flags byte) []byte { p := make([]byte, 20); p[13] = flags; return p }
	bcast := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	tests := []struct {
		name   string
		frame  []byte
		want   string // kind, "" for none
		src    string
		macEnd byte
		prio   int
	}{
		{name: "advert", frame: eth(bcast, mac(1), 0x0800, ip4(112, d1Addr, "224.0.0.18", []byte{0x21, 51, 200, 1, 0, 1, 0, 0})),
			want: "advert", src: d1Addr, macEnd: 1, prio: 200},
		{name: "priority 0 advert", frame: eth(bcast, mac(1), 0x0800, ip4(112, d1Addr, "224.0.0.18", []byte{0x21, 51, 0, 1, 0, 1, 0, 0})),
			want: "advert", src: d1Addr, macEnd: 1, prio: 0},
		{name: "gratuitous ARP for the VIP", frame: eth(bcast, mac(2), 0x0806, arp(mac(2), vipAddr, vipAddr)), want: "arp", src: vipAddr, macEnd: 2},
		{name: "ARP for another address", frame: eth(bcast, mac(2), 0x0806, arp(mac(2), d2Addr, d1Addr))},
		{name: "SYN to the VIP", frame: eth(mac(2), mac(9), 0x0800, ip4(6, clientAddr, vipAddr, tcp(0x02))), want: "syn", src: clientAddr, macEnd: 2},
		{name: "SYN-ACK is not a SYN", frame: eth(mac(2), mac(9), 0x0800, ip4(6, clientAddr, vipAddr, tcp(0x12)))},
		{name: "SYN to a web node directly", frame: eth(mac(2), mac(9), 0x0800, ip4(6, clientAddr, web1Addr, tcp(0x02)))},
		{name: "truncated", frame: []byte{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok := parseFrame(tt.frame)
			if got := map[bool]string{true: ev.kind}[ok]; got != tt.want {
				t.Fatalf("kind %q, want %q", got, tt.want)
			}
			if !ok {
				return
			}
			if ev.src.String() != tt.src || ev.mac[5] != tt.macEnd || ev.prio != tt.prio {
				t.Errorf("got %+v, want src %s mac ..:%02x prio %d", ev, tt.src, tt.macEnd, tt.prio)
			}
		})
	}
}
