// Command checkbench measures the health checker at scale: N real servers
// (loopback addresses 127.x.y.z, all answered by one HTTP server in a child
// process) checked with HTTP GET + MD5 digest every interval. It prints the
// sustained checks per second and the checker's CPU seconds per 10,000
// checks, then the same for keepalived's checker on the same targets, the
// ratios, and only then its verdict. It does so at each scale of -n
// (default 2,000 and 10,000 real servers: at 10,000 the two checkers and
// the server compete for this machine's two cores, and keepalived does not
// keep up; 2,000 is a rate both sustain).
//
// Each side is measured in its steady state: after its checkers are all
// activated (keepalived takes tens of seconds for 10,000), once it has
// completed 95% of the scheduled checks in each of 3 consecutive seconds;
// a side that never gets there within -steady-wait is measured anyway and
// reported as never steady, with how long it was given.
//
// The goals, at each scale: ours reaches its steady state; its CPU per
// check is at most keepalived's; it completes at least as many checks
// (the throughput lead); it has no more false failures (the server always
// answers).
//
// keepalived's checker process exits when IPVS is missing (this host's
// kernel has none); checkbench then runs it with a small LD_PRELOAD shim
// (internal/benchkit/shim/ipvs_shim.c, built with cc: `make bench-check`
// installs gcc) that
// answers keepalived's IPVS sockopt calls with success, leaving its
// checkers untouched.
//
// Exit status: 0 PASS, 1 FAIL, 2 when it could not measure: its own setup
// failed, or keepalived could not be measured (not installed, no C
// compiler for the shim, its checker never started, or -keepalived "" to
// skip it: a run without the comparison is not a passing run). A side that
// completes no check in its window is a result (its CPU per check is
// infinite), not a failure to measure.
package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lb/internal/benchkit"
	"github.com/lvsd/lb/internal/benchverdict"

	"github.com/lvsd/lb/healthcheck"
)

// options are the command's flags.
type options struct {
	scales                 []int
	interval, window, warm time.Duration
	steadyWait             time.Duration
	keepalived             string
	noReactor              bool
	cpuProfile             string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == benchkit.ServeArg {
		if err := benchkit.Serve(); err != nil {
			fmt.Fprintln(os.Stderr, "checkbench server:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	scales := flag.String("n", "2000,10000", "real servers (loopback addresses), one measurement of both checkers per comma-separated count")
	flag.DurationVar(&o.interval, "interval", time.Second, "delay_loop")
	flag.DurationVar(&o.window, "window", 10*time.Second, "measurement window")
	flag.DurationVar(&o.warm, "warm", 2*time.Second, "time after the steady state is reached before the window starts")
	flag.DurationVar(&o.steadyWait, "steady-wait", 60*time.Second, "how long each checker is given to reach its steady state (after keepalived's checkers are activated)")
	flag.StringVar(&o.keepalived, "keepalived", "/usr/sbin/keepalived", "keepalived binary, the peer; empty skips it and fails the run")
	flag.BoolVar(&o.noReactor, "noreactor", false, "run our checks one goroutine each through the net package instead of the epoll reactor")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	var err error
	if o.scales, err = parseScales(*scales); err != nil {
		fmt.Fprintln(os.Stderr, "checkbench: -n:", err)
		os.Exit(2)
	}
	os.Exit(runMain(o))
}

// runMain runs the bench and returns the exit status.
func runMain(o options) int {
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			defer f.Close()
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "checkbench: cpu profile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "checkbench:", err)
	}
	return benchverdict.ExitStatus(err)
}

// target i is 127.a.b.c with a, b, c in 1..254 (Linux routes 127/8 to lo).
func target(i, port int) netip.AddrPort {
	a := byte(1 + i/(254*254))
	b := byte(1 + (i/254)%254)
	c := byte(1 + i%254)
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, a, b, c}), uint16(port))
}

func digest() string {
	sum := md5.Sum([]byte(benchkit.Body))
	return hex.EncodeToString(sum[:])
}

// parseScales reads -n: positive counts, comma-separated, at most the
// 254^3 loopback targets there are.
func parseScales(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 254*254*254 {
			return nil, fmt.Errorf("%q is not a count of real servers (1..%d)", f, 254*254*254)
		}
		out = append(out, n)
	}
	return out, nil
}

// scaleResult is both checkers measured at one scale.
type scaleResult struct {
	n         int
	ours, ka  measurement
	kaErr     error
	scheduled float64 // checks per second asked for
}

// run measures ours, then keepalived on the same server, at each scale,
// prints both, the ratios and the verdict. The error wraps
// benchverdict.ErrFailed for a FAIL and benchverdict.ErrNotMeasured when a
// checker could not be measured.
func run(o options) error {
	srv, err := benchkit.StartServer()
	if err != nil {
		return fmt.Errorf("%w: benchmark server: %w", benchverdict.ErrNotMeasured, err)
	}
	defer srv.Stop()
	fmt.Printf("load average before: %s\n", benchkit.LoadAvg())
	defer func() {
		fmt.Printf("load average after: %s (the machine is shared: a load above its CPUs starves both checkers)\n", benchkit.LoadAvg())
	}()
	var results []scaleResult
	for _, n := range o.scales {
		o1 := o
		o1.scales = []int{n}
		r, err := runScale(srv, o1, n)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	return judge(os.Stdout, results)
}

// runScale measures both checkers on n real servers.
func runScale(srv *benchkit.Server, o options, n int) (scaleResult, error) {
	r := scaleResult{n: n, scheduled: float64(n) / o.interval.Seconds()}
	fmt.Printf("\n== %d real servers 127.1.1.1.. port %d, HTTP GET / + MD5 digest every %v (%.0f checks/s scheduled), window %v, GOMAXPROCS %d, %d CPUs\n",
		n, srv.Port, o.interval, r.scheduled, o.window, runtime.GOMAXPROCS(0), runtime.NumCPU())
	var err error
	if r.ours, err = measureOurs(srv, o, n); err != nil {
		return r, fmt.Errorf("%w: ours at %d: %w", benchverdict.ErrNotMeasured, n, err)
	}
	report(r.ours)
	if per := r.ours.cpu.Seconds() / float64(r.ours.checks); per > 0 {
		fmt.Printf("  capacity of one core at this CPU per check: %.0f checks/s\n", 1/per)
	}
	r.kaErr = errors.New("skipped: -keepalived is empty")
	if o.keepalived != "" {
		r.ka, r.kaErr = measureKeepalived(srv, o, n)
	}
	if r.kaErr != nil {
		fmt.Printf("keepalived: NOT MEASURED: %v\n", r.kaErr)
	} else {
		report(r.ka)
	}
	return r, nil
}

func report(m measurement) {
	fmt.Printf("%s:\n", m.name)
	fmt.Printf("  steady state:              %v\n", m.steady)
	fmt.Printf("  checks/s sustained:        %.0f  (%d in %v; server answered %d; failures %d)\n",
		m.perSecond(), m.checks, m.window.Round(time.Millisecond), m.served, m.failures)
	fmt.Printf("  checker CPU per 10k checks: %.3f s  (%.2f cores; server child %.2f cores)\n",
		m.cpuPer10k(), m.cores(), m.serverCPU.Seconds()/m.window.Seconds())
	fmt.Printf("  checker threads runnable but waiting for a CPU: %.2f s per s\n", m.wait.Seconds()/m.window.Seconds())
	fmt.Printf("  checker sleeps (voluntary context switches, all threads) per check: %.3f\n", m.sleepsPerCheck())
}

func measureOurs(srv *benchkit.Server, o options, n int) (measurement, error) {
	m := measurement{name: "ours (healthcheck.Scheduler, HTTP checker on epoll reactors)"}
	if o.noReactor {
		m.name = "ours (healthcheck.Scheduler, HTTP checker, one goroutine per check via net)"
	}
	s := healthcheck.NewScheduler(healthcheck.Options{NoReactor: o.noReactor})
	tm := healthcheck.Timing{DelayLoop: o.interval, ConnectTimeout: 2 * time.Second, Retry: 1, DelayBeforeRetry: time.Second, Warmup: o.interval}
	for i := range n {
		spec := healthcheck.Spec{Type: healthcheck.TypeHTTP, Target: target(i, srv.Port),
			URLs: []healthcheck.URL{{Path: "/", Digest: digest()}}}
		if err := s.Add(healthcheck.ID(fmt.Sprint("rs", i)), spec, tm); err != nil {
			return m, fmt.Errorf("add check %d: %w", i, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	counts := func() (int64, int64, error) {
		st := s.Stats()
		return int64(st.Checks), int64(st.Failures), nil
	}
	var err error
	m.steady, err = benchkit.WaitSteady(func() (int64, error) { c, _, err := counts(); return c, err }, o.rule(n))
	if err == nil {
		time.Sleep(o.warm)
		m, err = measureWindow(m, srv, o.window, probe{pid: os.Getpid(), cpu: func() (time.Duration, error) { return benchkit.SelfCPU(), nil }, counts: counts})
	}
	cancel()
	if rerr := <-done; rerr != nil {
		return m, fmt.Errorf("scheduler: %w", rerr)
	}
	return m, err
}

// rule is the steady state at n real servers.
func (o options) rule(n int) benchkit.SteadyRule {
	return benchkit.SteadyRule{Want: float64(n) / o.interval.Seconds(), Frac: 0.95, Need: 3, MaxWait: o.steadyWait}
}
