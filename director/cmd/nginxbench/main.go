// Command nginxbench times the seed's nginx pair failing over, lbd against
// keepalived in the same run, on this host (root; network namespaces, no
// IPVS, no VM): the lab of internal/nginxlab, real nginx on two proxies d1
// and d2, a client requesting the VIP every 20 ms on a new connection.
//
// For each speaker in turn (lbd VRRP-only with the shipped
// deploy/examples/lbd-nginx-pair.yaml; Debian's keepalived -P with the
// seed's keepalived.conf: both track nginx with a 1 s check script, fall 1,
// weight 0, the seed's preemption; then lbd tracking nginx's process, the
// example's track_process alternative, event-driven; keepalived's
// vrrp_track_process cannot run in a network namespace, see
// nginxlab.KeepalivedConfig), it runs -rounds rounds: at a random
// point of the check's period it SIGKILLs nginx on the master d1 and
// measures the time from the kill to the first answer the client gets
// (from d2), then starts nginx again and measures the time to d1's first
// answer (d1 preempts). It prints every round, then each side's min,
// median and max and the ratio of the medians.
//
// Verdict: PASS (exit 0) when every round of both sides kept the pair's
// promises (internal/nginxlab Round.Problems: the order of events, the
// protocol bounds, preemption) and lbd's median kill-to-answer is within
// half a check interval of keepalived's (both wait for the same 1 s
// script: the rest is the speaker); FAIL (1) otherwise; 2 when a side
// could not be measured (keepalived or nginx missing, not root).
//
//	nginxbench [-rounds 8] [-seed N]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"
	"github.com/lvsd/lb/internal/nginxlab"
)

func main() {
	rounds := flag.Int("rounds", 8, "kills of d1's nginx per speaker")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the kills' random phases")
	flag.Parse()
	err := run(os.Stdout, *rounds, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nginxbench:", err)
	}
	os.Exit(benchverdict.ExitStatus(err))
}

// side is one setup's rounds.
type side struct {
	setup    nginxlab.Setup
	rounds   []nginxlab.Round
	problems []string
	polling  string // TrackProcess without process events: why
}

// compared are the two setups the verdict compares: lbd and keepalived,
// both tracking nginx with the 1 s script, the seed's preemption.
func compared() (lbd, ka nginxlab.Setup) {
	return nginxlab.Setup{Kind: nginxlab.LBD, Track: nginxlab.TrackScript, Variant: nginxlab.Preempt},
		nginxlab.Setup{Kind: nginxlab.Keepalived, Track: nginxlab.TrackScript, Variant: nginxlab.Preempt}
}

func run(w io.Writer, rounds int, seed uint64) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces): %w", benchverdict.ErrNotMeasured)
	}
	dir, err := os.MkdirTemp("", "nginxbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lbd, err := nginxlab.BuildLBD(dir)
	if err != nil {
		return err
	}
	root, err := nginxlab.ModuleRoot()
	if err != nil {
		return err
	}
	l, err := nginxlab.New("nbench", dir)
	if err != nil {
		return fmt.Errorf("the lab: %w: %w", err, benchverdict.ErrNotMeasured)
	}
	defer l.Close()
	pb := l.StartProber(20*time.Millisecond, 500*time.Millisecond)
	defer pb.Stop()
	rng := rand.New(rand.NewPCG(seed, seed))
	fmt.Fprintf(w, "nginx pair failover: %d rounds per speaker, seed %d, check interval %v, protocol bound %v\n\n",
		rounds, seed, nginxlab.CheckInterval, nginxlab.FailoverBound(nginxlab.TrackScript))
	lbdScript, kaScript := compared()
	var sides []side
	lbdProcess := nginxlab.Setup{Kind: nginxlab.LBD, Track: nginxlab.TrackProcess, Variant: nginxlab.Preempt}
	for _, setup := range []nginxlab.Setup{lbdScript, kaScript, lbdProcess} {
		s, err := measure(w, l, pb, setup, rounds, lbd, root, rng)
		if err != nil {
			return fmt.Errorf("%s: %w: %w", setup, err, benchverdict.ErrNotMeasured)
		}
		sides = append(sides, s)
	}
	return verdict(w, sides)
}

// measure runs rounds rounds of setup, printing each.
func measure(w io.Writer, l *nginxlab.Lab, pb *nginxlab.Prober, setup nginxlab.Setup, rounds int, lbd, root string,
	rng *rand.Rand) (s side, err error) {
	s.setup = setup
	pr, err := l.StartPair(setup, lbd, root)
	if err != nil {
		return s, err
	}
	defer func() {
		if e := pr.Stop(l); e != nil && err == nil {
			err = e
		}
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, pr.Logs())
		}
	}()
	if err := l.WaitServedBy(pb, "d1", nginxlab.MasterDown(nginxlab.D1Priority, nginxlab.Advert)+2*nginxlab.Slack); err != nil {
		return s, err
	}
	if s.setup.Track == nginxlab.TrackProcess {
		// The processes' quorum is read at start: by now lbd said whether
		// it has the kernel's process events.
		if why := pr.Polling(); why != "" {
			s.polling = why
			fmt.Fprintf(w, "%s: NOT event-driven here: lbd reads the process table every second (%s)\n", setup, why)
		} else {
			fmt.Fprintf(w, "%s: event-driven (the kernel's process events)\n", setup)
		}
	}
	for i := range rounds {
		phase := time.Duration(rng.Int64N(int64(nginxlab.CheckInterval)))
		r, err := pr.RunRound(l, pb, phase)
		if err != nil {
			// A wait ran out (a loaded host can stall a check for
			// seconds): a broken promise, not a reason to stop measuring,
			// once d1 serves again.
			p := fmt.Sprintf("round %d: %v (%s)", i+1, err, nginxlab.Timeline(r))
			s.problems = append(s.problems, p)
			fmt.Fprintf(w, "%-28s round %d: FAILED: %s\n", setup, i+1, p)
			if err := recoverPair(l, pb); err != nil {
				return s, fmt.Errorf("round %d: %w; then %w", i+1, errors.New(p), err)
			}
			continue
		}
		p := r.Problems()
		s.rounds = append(s.rounds, r)
		s.problems = append(s.problems, p...)
		fmt.Fprintf(w, "%-28s round %d: kill -> first answer %6v (from %s)   nginx up -> d1 answers %6v   %d problem(s)\n",
			setup, i+1, r.FailoverTime().Round(time.Millisecond), r.Failover.Director, r.PreemptTime().Round(time.Millisecond), len(p))
		for _, x := range p {
			fmt.Fprintf(w, "    %s\n", x)
		}
	}
	return s, nil
}

// recoverPair brings d1's nginx back and waits for d1 to serve again.
func recoverPair(l *nginxlab.Lab, pb *nginxlab.Prober) error {
	if err := l.D1.EnsureNginx(); err != nil {
		return err
	}
	return l.WaitServedBy(pb, "d1", nginxlab.PreemptBound(nginxlab.TrackScript)+4*nginxlab.Slack)
}

// stats are a sample's min, median and max.
type stats struct{ min, median, max time.Duration }

func summarize(ds []time.Duration) (stats, error) {
	if len(ds) == 0 {
		return stats{}, errors.New("no sample")
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{s[0], med, s[len(s)-1]}, nil
}

func (s side) failovers() []time.Duration {
	var out []time.Duration
	for _, r := range s.rounds {
		out = append(out, r.FailoverTime())
	}
	return out
}

func (s side) preempts() []time.Duration {
	var out []time.Duration
	for _, r := range s.rounds {
		out = append(out, r.PreemptTime())
	}
	return out
}

// verdict prints every side's figures and the goals.
func verdict(w io.Writer, sides []side) error {
	fmt.Fprintf(w, "\n%-28s %-24s %10s %10s %10s\n", "", "", "min", "median", "max")
	med := map[nginxlab.Setup]time.Duration{}
	for _, s := range sides {
		for i, ds := range [][]time.Duration{s.failovers(), s.preempts()} {
			st, err := summarize(ds)
			if err != nil {
				return fmt.Errorf("%s: %w: %w", s.setup, err, benchverdict.ErrNotMeasured)
			}
			what := "kill -> first answer"
			if i == 1 {
				what = "nginx up -> d1 answers"
			} else {
				med[s.setup] = st.median
			}
			fmt.Fprintf(w, "%-28s %-24s %10v %10v %10v\n", s.setup, what,
				st.min.Round(time.Millisecond), st.median.Round(time.Millisecond), st.max.Round(time.Millisecond))
		}
	}
	lbdScript, kaScript := compared()
	lbd, ka := med[lbdScript], med[kaScript]
	fmt.Fprintf(w, "\nkill -> first answer, median, both with the 1 s script: lbd %v, keepalived %v, lbd/keepalived %.2f\n",
		lbd.Round(time.Millisecond), ka.Round(time.Millisecond), float64(lbd)/float64(ka))
	for _, s := range sides {
		if s.setup != lbdScript && s.setup != kaScript {
			note := ""
			if s.polling != "" {
				note = " (polling the process table every second, not event-driven: see above)"
			}
			fmt.Fprintf(w, "kill -> first answer, median, %s: %v, /keepalived's %.2f%s\n", s.setup,
				med[s.setup].Round(time.Millisecond), float64(med[s.setup])/float64(ka), note)
		}
	}
	fmt.Fprintln(w)
	sh := benchverdict.NewSheet(w)
	for _, s := range sides {
		sh.Check(len(s.problems) == 0, "%s: every round kept the pair's promises (%d problem(s))", s.setup, len(s.problems))
	}
	sh.Check(lbd <= ka+nginxlab.CheckInterval/2, "lbd's median kill -> first answer (%v) within %v of keepalived's (%v)",
		lbd.Round(time.Millisecond), nginxlab.CheckInterval/2, ka.Round(time.Millisecond))
	if err := sh.Err(); err != nil {
		fmt.Fprintln(w, "FAIL")
		return err
	}
	fmt.Fprintln(w, "PASS")
	return nil
}
