//go:build testbed_guest && testbed_soak

package scenarios

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The chaos soak ("make soak", "testbed soak"; build tag testbed_soak, so
// the normal image and "make test" leave it out). The examples' director
// pair (buildVIPLab: d1 priority 200, d2 100, two web nodes with lbrs, a
// client) runs for SOAK_DURATION (default 10m) under random faults drawn
// one after another from a schedule seeded by SOAK_SEED: link flaps,
// partitions without carrier loss, kill -9 and restart of either lbd or an
// lbrs, reloads with valid and invalid files, health flaps, hand edits
// with ipvsadm. A monitor checks the invariants all along and a prober
// sends the client's requests; every violation is printed at once with
// the seed and fails the test at the end. Timing bounds are the
// protocol's plus soakSlack for the emulated CPU.

const (
	// soakResync is the directors' resync_interval in the soak.
	soakResync = 5 * time.Second
	// soakSlack is added to every protocol bound: the VM runs under TCG
	// on one vCPU of a shared machine, and the monitor samples about once
	// a second.
	soakSlack = 5 * time.Second
	// soakDualMax: two lbd MASTERs no longer than Master_Down_Interval
	// after a partition heals (or after they met).
	soakDualMax = vipBackupMasterDown + soakSlack
	// soakConverge: the kernel table equals the desired one within
	// resync_interval of any drift.
	soakConverge = soakResync + soakSlack
	// soakFailover bounds the client's outage after a fault on the VIP
	// holder ends: a takeover or preemption (Master_Down_Interval) and the
	// new master's checks finding the servers (detection bound).
	soakFailover = vipBackupMasterDown + vipDetectMax + soakSlack
	// soakDetect: a dead real server is out of the master's table within
	// the detection bound.
	soakDetect = vipDetectMax + soakSlack
	// soakProbeGap is the pause between two client requests.
	soakProbeGap = 30 * time.Millisecond
	// soakStallMin is the shortest VM stall recorded; a failed request
	// whose second holds soakStallExplain of stalls is the emulator's.
	soakStallMin     = 100 * time.Millisecond
	soakStallExplain = 300 * time.Millisecond
	// soakStallFault: a stall of an advert interval or more is a fault of
	// its own (VRRP timers fire late), explaining failures until
	// soakFailover after it.
	soakStallFault = time.Second
)

// soakStall is a span in which the VM did not run the soak.
type soakStall struct{ from, to time.Time }

// soakParams are the soak's duration and seed.
type soakParams struct {
	duration time.Duration
	seed     int64
	only     []string // SOAK_FAULTS: the fault kinds drawn (all when empty)
}

func soakParamsFromEnv(t *testing.T) soakParams {
	t.Helper()
	p := soakParams{duration: 10 * time.Minute, seed: time.Now().UnixNano() % (1 << 31)}
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SOAK_DURATION=%q: want a positive Go duration", v)
		}
		p.duration = d
	}
	if v := os.Getenv("SOAK_SEED"); v != "" && v != "0" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("SOAK_SEED=%q: want an integer", v)
		}
		p.seed = n
	}
	for _, k := range strings.Split(os.Getenv("SOAK_FAULTS"), ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		if !slices.ContainsFunc(soakFaultKinds, func(f soakFaultKind) bool { return f.name == k }) {
			t.Fatalf("SOAK_FAULTS: unknown fault kind %q", k)
		}
		p.only = append(p.only, k)
	}
	return p
}

// soakModel is what a director's lbd.yaml asks for: web1/web2's weights
// on VIP:80 (HTTP-checked), the unchecked VIP:8081 always, VIP:8080 when
// extra is set.
type soakModel struct {
	weights [2]int
	extra   bool
}

// soakDir is one director as the soak tracks it.
type soakDir struct {
	d      *vipDirector
	header string // lbd.yaml up to virtual_servers

	// Guarded by soak.mu.
	lbd      *daemon // the running lbd
	down     bool    // killed by the soak, not ready again yet
	crashed  bool    // exited without being killed (reported once)
	model    soakModel
	lives    []*soakLife
	mismatch time.Time // since when the kernel table differs (zero: equal)
	mmDone   bool      // this mismatch was reported
	silent   time.Time // since when status does not answer
	silentOK bool      // reported
	stale    time.Time // since when it holds the VIP while not MASTER
	staleOK  bool
	state    string // last VRRP state seen
}

// soakLife is one lbd process's resource samples.
type soakLife struct {
	dir     string
	pid     int
	start   time.Time
	samples []soakSample
}

type soakSample struct {
	at         time.Time
	fds        int
	goroutines int
	rssKiB     int64
}

// soakWindow is a time span in which a fault explains failed requests.
type soakWindow struct {
	kind     string
	from, to time.Time
	web      string    // health-down: the dead server
	detectBy time.Time // health-down: its 503s are explained until then only
}

// soak is the running soak.
type soak struct {
	t    *testing.T
	p    soakParams
	rng  *rand.Rand
	l    *vipLab
	t0   time.Time
	dirs []*soakDir

	mu         sync.Mutex
	windows    []soakWindow
	violations []string
	faults     map[string]int
	nfault     int
	cutting    int                        // link cuts and partitions in progress
	lastHeal   time.Time                  // when the last one ended
	dual       time.Time                  // since when both lbd say MASTER (zero: not)
	dualOK     bool                       // this episode was reported
	cutDir     *vipDirector               // the director cut or partitioned now
	healedAt   map[*vipDirector]time.Time // when each one's last cut or partition ended
	arpStale   time.Time                  // since when the client's ARP entry names a non-MASTER
	arpOK      bool                       // this episode was reported
	probes     []soakProbeResult
	stalls     []soakStall
	seen       soakSeen
}

// soakSeen counts what the monitor saw, to show it was not idle.
type soakSeen struct {
	rounds                  int           // monitor rounds
	drifts                  int           // table differences that ended (repairs, applies)
	driftLongest            time.Duration // the longest of them
	duals                   int           // episodes with both lbd MASTER
	dualLongest             time.Duration
	masterChanges           int // VRRP state changes seen
	invalidRefused, reloads int
}

// TestSoak runs the chaos soak (see the top of this file).
func TestSoak(t *testing.T) {
	p := soakParamsFromEnv(t)
	fmt.Printf("SOAK seed=%d duration=%s faults=%s (replay: SOAK_SEED=%d SOAK_DURATION=%s SOAK_FAULTS=%s make soak)\n",
		p.seed, p.duration, strings.Join(p.only, ","), p.seed, p.duration, strings.Join(p.only, ","))
	n := newNarrator(t)
	l := buildVIPLabWith(t, n, "soak", []vipSubst{{
		re: `(?m)^(  log_level: info)\b`, n: 1, repl: "${1}\n  resync_interval: " + soakResync.String(),
		why: "resync_interval " + soakResync.String(),
	}})
	s := &soak{t: t, p: p, rng: rand.New(rand.NewPCG(uint64(p.seed), 0x50a4)), l: l, faults: map[string]int{}, healedAt: map[*vipDirector]time.Time{}}
	for _, d := range []*vipDirector{l.master, l.backup} {
		s.dirs = append(s.dirs, s.newDir(t, d))
	}
	n.Step("Both directors reloaded with the soak's services: VIP:80 (checked), VIP:8081 (unchecked)")
	for _, sd := range s.dirs {
		if out, ok := s.reload(sd, soakModel{weights: [2]int{1, 1}}); !ok {
			t.Fatalf("first reload on %s failed: %s", sd.d.name, out)
		}
	}
	s.t0 = time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.probeLoop(stop) }()
	go func() { defer wg.Done(); s.stallLoop(stop) }()
	go func() { defer wg.Done(); s.monitorLoop(stop) }()

	n.Step("Faults for %s (seed %d)", p.duration, p.seed)
	for time.Since(s.t0) < p.duration {
		s.fault()
		time.Sleep(time.Duration(1000+s.rng.IntN(3000)) * time.Millisecond)
	}
	n.Step("Faults over: the pair must settle (d1 MASTER, d2 BACKUP, tables as configured)")
	s.logf("faults over; settling")
	l.waitStates(t, vipTakeoverWait, map[*vipDirector]string{l.master: "MASTER", l.backup: "BACKUP"})
	time.Sleep(soakConverge + soakSlack) // the monitor sees the settled tables
	close(stop)
	wg.Wait()
	s.evaluate()
	s.summary()
	for _, v := range s.violations {
		t.Errorf("seed %d: %s", p.seed, v)
	}
}

// newDir captures d's lbd.yaml header and starts tracking its lbd.
func (s *soak) newDir(t *testing.T, d *vipDirector) *soakDir {
	t.Helper()
	b, err := os.ReadFile(d.config)
	must(t, err)
	text := string(b)
	i := strings.Index(text, "\nvirtual_servers:")
	if i < 0 {
		t.Fatalf("%s: no virtual_servers section in %s", d.name, d.config)
	}
	sd := &soakDir{d: d, header: text[:i+1], lbd: d.lbd, model: soakModel{weights: [2]int{1, 1}}}
	sd.lives = append(sd.lives, &soakLife{dir: d.name, pid: d.lbd.cmd.Process.Pid, start: time.Now()})
	return sd
}

// configText is the director's lbd.yaml for model m.
func (sd *soakDir) configText(m soakModel) string {
	var b strings.Builder
	b.WriteString(sd.header)
	b.WriteString("virtual_servers:\n")
	digest := healthDigest()
	fmt.Fprintf(&b, "  - address: %s\n    port: 80\n    protocol: TCP\n    scheduler: rr\n    forwarding: DR\n    delay_loop: %d\n    real_servers:\n",
		vipAddr, int(vipDelayLoop.Seconds()))
	for i, w := range seedWebs() {
		fmt.Fprintf(&b, "      - address: %s\n        port: 80\n        weight: %d\n        checks:\n          - type: http\n"+
			"            urls:\n              - path: %s\n                digest: %s\n"+
			"            connect_timeout: %d\n            retry: %d\n            delay_before_retry: %d\n",
			w.addr, m.weights[i], vipHealthPath, digest, int(vipConnectTimeout.Seconds()), vipRetry, int(vipDelayBeforeRetry.Seconds()))
	}
	for _, port := range soakPlainPorts(m) {
		fmt.Fprintf(&b, "  - address: %s\n    port: %d\n    protocol: TCP\n    scheduler: rr\n    forwarding: DR\n    real_servers:\n", vipAddr, port)
		for _, w := range seedWebs() {
			fmt.Fprintf(&b, "      - address: %s\n        port: %d\n        weight: 1\n", w.addr, port)
		}
	}
	return b.String()
}

// soakPlainPorts are the unchecked services of m.
func soakPlainPorts(m soakModel) []int {
	if m.extra {
		return []int{8080, 8081}
	}
	return []int{8081}
}

// logf prints a timestamped line of the soak's log.
func (s *soak) logf(format string, args ...any) {
	fmt.Printf("SOAK t=%7.2fs %s\n", time.Since(s.t0).Seconds(), fmt.Sprintf(format, args...))
}

// violate records and prints a violation.
func (s *soak) violate(format string, args ...any) {
	msg := fmt.Sprintf("t=%.1fs: ", time.Since(s.t0).Seconds()) + fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
	fmt.Printf("SOAK VIOLATION seed=%d %s\n", s.p.seed, msg)
}

// explain records a window in which failed requests are explained.
func (s *soak) explain(w soakWindow) {
	s.mu.Lock()
	s.windows = append(s.windows, w)
	s.mu.Unlock()
}

// summary prints the figures of the run.
func (s *soak) summary() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "SOAK SUMMARY seed=%d duration=%s (faults ran %s)\n", s.p.seed, s.p.duration, time.Since(s.t0).Round(time.Second))
	fmt.Fprintf(&b, "  faults: %d:", s.nfault)
	for _, k := range slices.Sorted(maps.Keys(s.faults)) {
		fmt.Fprintf(&b, " %s %d,", k, s.faults[k])
	}
	b.WriteString("\n")
	sent, failed, byKind := len(s.probes), 0, map[string]int{}
	for _, p := range s.probes {
		if p.err != "" {
			failed++
			byKind[p.explainedBy]++
		}
	}
	fmt.Fprintf(&b, "  requests: %d sent, %d failed (%d explained:", sent, failed, failed-byKind[""])
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		if k != "" {
			fmt.Fprintf(&b, " %s %d,", k, byKind[k])
		}
	}
	fmt.Fprintf(&b, " unexplained %d)\n", byKind[""])
	var stalled, longest time.Duration
	for _, st := range s.stalls {
		stalled += st.to.Sub(st.from)
		longest = max(longest, st.to.Sub(st.from))
	}
	long := 0
	for _, st := range s.stalls {
		if st.to.Sub(st.from) >= soakStallFault {
			long++
		}
	}
	fmt.Fprintf(&b, "  VM stalls (a 20 ms sleep %s or more late): %d, %s in all, longest %s; %d of %s or more (counted as faults)\n",
		soakStallMin, len(s.stalls), stalled.Round(10*time.Millisecond), longest.Round(10*time.Millisecond), long, soakStallFault)
	for _, sd := range s.dirs {
		for _, lf := range sd.lives {
			b.WriteString("  " + lf.describe() + "\n")
		}
	}
	fmt.Fprintf(&b, "  monitor: %d rounds; %d table differences repaired or applied (longest seen, between samples: %s); %d episodes of two MASTERs (longest %s); %d VRRP state changes; %d valid reloads, %d invalid refused\n",
		s.seen.rounds, s.seen.drifts, s.seen.driftLongest.Round(100*time.Millisecond), s.seen.duals, s.seen.dualLongest.Round(100*time.Millisecond),
		s.seen.masterChanges, s.seen.reloads, s.seen.invalidRefused)
	fmt.Fprintf(&b, "  violations: %d\n", len(s.violations))
	fmt.Print(b.String())
}
