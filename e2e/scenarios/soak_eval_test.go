//go:build testbed_guest && testbed_soak

package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Bounds of "flat" for one lbd process, judged when its samples span at
// least soakJudgeSpan: the median of its last minute against the median of
// the minute after soakWarmUp.
const (
	soakWarmUp    = 30 * time.Second
	soakJudgeSpan = 150 * time.Second
	soakMaxFDs    = 8  // more descriptors
	soakMaxGor    = 20 // more goroutines (and 1.5x)
	soakMaxRSSKiB = 16 << 10
)

// evaluate classifies the failed requests against the fault windows and
// judges each lbd lifetime's resources; it records the violations.
func (s *soak) evaluate() {
	s.mu.Lock()
	windows := slices.Clone(s.windows)
	stalls := slices.Clone(s.stalls)
	for _, st := range stalls {
		// A VM that stops for an advert interval or more is, to VRRP, a
		// director that missed adverts: its timers fire late, a backup
		// may take over and step down again, as after a partition.
		if st.to.Sub(st.from) >= soakStallFault {
			windows = append(windows, soakWindow{kind: "vm-stall", from: st.from, to: st.to.Add(soakFailover)})
		}
	}
	var unexplained []soakProbeResult
	for i := range s.probes {
		p := &s.probes[i]
		if p.err == "" {
			continue
		}
		p.explainedBy = soakExplain(*p, windows)
		if p.explainedBy == "" && soakStalled(*p, stalls) >= soakStallExplain {
			p.explainedBy = "vm-stall"
		}
		if p.explainedBy == "" {
			unexplained = append(unexplained, *p)
		}
	}
	var lives []*soakLife
	for _, sd := range s.dirs {
		lives = append(lives, sd.lives...)
	}
	s.mu.Unlock()
	for _, run := range soakRuns(unexplained) {
		s.violateAt(run[0].start, "%d request(s) failed outside every fault's window, from t=%.2fs to t=%.2fs (VM stalls in the first: %s; client's ARP entry for the VIP: %s); first: %s",
			len(run), run[0].start.Sub(s.t0).Seconds(), run[len(run)-1].end.Sub(s.t0).Seconds(), soakStalled(run[0], stalls).Round(time.Millisecond), run[0].arp, run[0].err)
	}
	for _, lf := range lives {
		for _, v := range lf.judge() {
			s.violateAt(lf.start, "%s", v)
		}
	}
}

// violateAt records a violation found afterwards, dated by when it began.
func (s *soak) violateAt(at time.Time, format string, args ...any) {
	msg := fmt.Sprintf("t=%.1fs: ", at.Sub(s.t0).Seconds()) + fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
	fmt.Printf("SOAK VIOLATION seed=%d %s\n", s.p.seed, msg)
}

// soakExplain returns the kind of the first window that explains a failed
// request, "" when none does. A 503 from a dead server is explained by its
// own health-down window only until the detection bound: past it the
// master should have taken the server out.
func soakExplain(p soakProbeResult, windows []soakWindow) string {
	for _, w := range windows {
		if p.end.Before(w.from) || p.start.After(w.to) {
			continue
		}
		if w.web != "" && p.status == 503 && p.who == w.web && p.start.After(w.detectBy) {
			continue
		}
		return w.kind
	}
	return ""
}

// soakStalled is how long the VM stalled during a request.
func soakStalled(p soakProbeResult, stalls []soakStall) time.Duration {
	var d time.Duration
	for _, st := range stalls {
		from, to := st.from, st.to
		if p.start.After(from) {
			from = p.start
		}
		if p.end.Before(to) {
			to = p.end
		}
		if to.After(from) {
			d += to.Sub(from)
		}
	}
	return d
}

// soakRuns groups failures less than 2 s apart.
func soakRuns(ps []soakProbeResult) [][]soakProbeResult {
	var runs [][]soakProbeResult
	for _, p := range ps {
		if n := len(runs); n > 0 && p.start.Sub(runs[n-1][len(runs[n-1])-1].end) < 2*time.Second {
			runs[n-1] = append(runs[n-1], p)
			continue
		}
		runs = append(runs, []soakProbeResult{p})
	}
	return runs
}

// window returns the medians of the samples taken in [from, to).
func (lf *soakLife) window(from, to time.Time) (fds, gor int, rss int64, n int) {
	var f, g []int
	var r []int64
	for _, s := range lf.samples {
		if s.at.Before(from) || !s.at.Before(to) {
			continue
		}
		f, g, r = append(f, s.fds), append(g, s.goroutines), append(r, s.rssKiB)
	}
	if len(f) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(f)
	slices.Sort(g)
	slices.Sort(r)
	return f[len(f)/2], g[len(g)/2], r[len(r)/2], len(f)
}

// span is how long the samples cover.
func (lf *soakLife) span() time.Duration {
	if len(lf.samples) < 2 {
		return 0
	}
	return lf.samples[len(lf.samples)-1].at.Sub(lf.samples[0].at)
}

// judge returns the resource violations of a lifetime long enough to tell.
func (lf *soakLife) judge() []string {
	if lf.span() < soakJudgeSpan {
		return nil
	}
	b0 := lf.start.Add(soakWarmUp)
	f0, g0, r0, n0 := lf.window(b0, b0.Add(time.Minute))
	last := lf.samples[len(lf.samples)-1].at
	f1, g1, r1, n1 := lf.window(last.Add(-time.Minute), last.Add(time.Nanosecond))
	if n0 == 0 || n1 == 0 {
		return nil
	}
	var out []string
	who := fmt.Sprintf("lbd on %s (pid %d, %s sampled)", lf.dir, lf.pid, lf.span().Round(time.Second))
	if f1 > f0+soakMaxFDs {
		out = append(out, fmt.Sprintf("%s: descriptors grew from %d to %d (bound +%d)", who, f0, f1, soakMaxFDs))
	}
	if g0 >= 0 && g1 > g0+soakMaxGor && float64(g1) > 1.5*float64(g0) {
		out = append(out, fmt.Sprintf("%s: goroutines grew from %d to %d (bound +%d and x1.5)", who, g0, g1, soakMaxGor))
	}
	if r0 > 0 && r1 > r0+soakMaxRSSKiB && float64(r1) > 1.5*float64(r0) {
		out = append(out, fmt.Sprintf("%s: RSS grew from %d KiB to %d KiB (bound +%d KiB and x1.5)", who, r0, r1, soakMaxRSSKiB))
	}
	return out
}

// describe is one line of the summary about a lifetime.
func (lf *soakLife) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lbd on %s pid %d: %d samples over %s", lf.dir, lf.pid, len(lf.samples), lf.span().Round(time.Second))
	if len(lf.samples) == 0 {
		return b.String()
	}
	first, last := lf.samples[0], lf.samples[len(lf.samples)-1]
	maxF, maxG, maxR := 0, 0, int64(0)
	for _, s := range lf.samples {
		maxF, maxG, maxR = max(maxF, s.fds), max(maxG, s.goroutines), max(maxR, s.rssKiB)
	}
	fmt.Fprintf(&b, "; fds %d -> %d (max %d), goroutines %d -> %d (max %d), RSS %.1f -> %.1f MiB (max %.1f)",
		first.fds, last.fds, maxF, first.goroutines, last.goroutines, maxG,
		float64(first.rssKiB)/1024, float64(last.rssKiB)/1024, float64(maxR)/1024)
	if lf.span() < soakJudgeSpan {
		fmt.Fprintf(&b, " (under %s: not judged)", soakJudgeSpan)
	}
	return b.String()
}
