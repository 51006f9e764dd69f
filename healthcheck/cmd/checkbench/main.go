// Command checkbench measures the health checker at scale: N real servers
// (loopback addresses 127.x.y.z, all answered by one HTTP server in a child
// process) checked with HTTP GET + MD5 digest every interval. It prints the
// sustained checks per second and the checker's CPU seconds per 10,000
// checks, then the same for keepalived's checker on the same targets, the
// ratios, and only then its verdict: PASS when ours keeps up with the
// schedule on under one core and completes at least as many checks as
// keepalived with no more false failures.
//
// keepalived's checker process exits when IPVS is missing (this host's
// kernel has none); checkbench then runs it with a small LD_PRELOAD shim
// (shim/ipvs_shim.c, built with cc: `make bench-check` installs gcc) that
// answers keepalived's IPVS sockopt calls with success, leaving its
// checkers untouched.
//
// Exit status: 0 PASS, 1 FAIL, 2 when it could not measure: its own setup
// failed, or keepalived could not be measured (not installed, no C
// compiler for the shim, no check completed, or -keepalived "" to skip it:
// a run without the comparison is not a passing run).
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
	"strings"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"

	"github.com/lvsd/lb/healthcheck"
)

// options are the command's flags.
type options struct {
	n                      int
	interval, window, warm time.Duration
	keepalived             string
	noReactor              bool
	cpuProfile             string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "checkbench server:", err)
			os.Exit(1)
		}
		return
	}
	var o options
	flag.IntVar(&o.n, "n", 10000, "real servers (loopback addresses)")
	flag.DurationVar(&o.interval, "interval", time.Second, "delay_loop")
	flag.DurationVar(&o.window, "window", 10*time.Second, "measurement window")
	flag.DurationVar(&o.warm, "warm", 3*time.Second, "time before the window starts")
	flag.StringVar(&o.keepalived, "keepalived", "/usr/sbin/keepalived", "keepalived binary, the peer; empty skips it and fails the run")
	flag.BoolVar(&o.noReactor, "noreactor", false, "run our checks one goroutine each through the net package instead of the epoll reactor")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
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

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func digest() string {
	sum := md5.Sum([]byte(benchBody))
	return hex.EncodeToString(sum[:])
}

// run measures ours, then keepalived on the same server, prints both, the
// ratios and the verdict. The error wraps benchverdict.ErrFailed for a FAIL and
// benchverdict.ErrNotMeasured when a checker could not be measured.
func run(o options) error {
	srv, err := startServer()
	if err != nil {
		return fmt.Errorf("%w: benchmark server: %w", benchverdict.ErrNotMeasured, err)
	}
	defer srv.stop()
	fmt.Printf("load average before: %s\n", loadavg())
	defer func() {
		fmt.Printf("load average after: %s (the machine is shared: a load above its CPUs starves both checkers)\n", loadavg())
	}()
	fmt.Printf("checkbench: %d real servers 127.1.1.1.. port %d, HTTP GET / + MD5 digest every %v, window %v, GOMAXPROCS %d, %d CPUs\n",
		o.n, srv.port, o.interval, o.window, runtime.GOMAXPROCS(0), runtime.NumCPU())

	ours, err := measureOurs(srv, o)
	if err != nil {
		return fmt.Errorf("%w: ours: %w", benchverdict.ErrNotMeasured, err)
	}
	report(ours)
	if per := ours.cpu.Seconds() / float64(ours.checks); per > 0 {
		fmt.Printf("  capacity of one core at this CPU per check: %.0f checks/s\n", 1/per)
	}

	var ka measurement
	kaErr := errors.New("skipped: -keepalived is empty")
	if o.keepalived != "" {
		ka, kaErr = measureKeepalived(srv, o)
	}
	if kaErr != nil {
		fmt.Printf("keepalived: NOT MEASURED: %v\n", kaErr)
	} else {
		report(ka)
	}
	return judge(os.Stdout, ours, ka, kaErr, float64(o.n)/o.interval.Seconds())
}

func report(m measurement) {
	fmt.Printf("%s:\n", m.name)
	fmt.Printf("  checks/s sustained:        %.0f  (%d in %v; server answered %d; failures %d)\n",
		m.perSecond(), m.checks, m.window.Round(time.Millisecond), m.served, m.failures)
	fmt.Printf("  checker CPU per 10k checks: %.3f s  (%.2f cores; server child %.2f cores)\n",
		m.cpuPer10k(), m.cores(), m.serverCPU.Seconds()/m.window.Seconds())
	fmt.Printf("  checker threads runnable but waiting for a CPU: %.2f s per s\n", m.wait.Seconds()/m.window.Seconds())
}

func measureOurs(srv *server, o options) (measurement, error) {
	m := measurement{name: "ours (healthcheck.Scheduler, HTTP checker on epoll reactors)"}
	if o.noReactor {
		m.name = "ours (healthcheck.Scheduler, HTTP checker, one goroutine per check via net)"
	}
	s := healthcheck.NewScheduler(healthcheck.Options{NoReactor: o.noReactor})
	tm := healthcheck.Timing{DelayLoop: o.interval, ConnectTimeout: 2 * time.Second, Retry: 1, DelayBeforeRetry: time.Second, Warmup: o.interval}
	for i := range o.n {
		spec := healthcheck.Spec{Type: healthcheck.TypeHTTP, Target: target(i, srv.port),
			URLs: []healthcheck.URL{{Path: "/", Digest: digest()}}}
		if err := s.Add(healthcheck.ID(fmt.Sprint("rs", i)), spec, tm); err != nil {
			return m, fmt.Errorf("add check %d: %w", i, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(o.warm)

	m, err := measureWindow(m, srv, o.window, probe{
		pid: os.Getpid(),
		cpu: func() (time.Duration, error) { return selfCPU(), nil },
		counts: func() (int64, int64, error) {
			st := s.Stats()
			return int64(st.Checks), int64(st.Failures), nil
		},
	})
	cancel()
	if rerr := <-done; rerr != nil {
		return m, fmt.Errorf("scheduler: %w", rerr)
	}
	return m, err
}
