// Command checkbench measures the health checker at scale: N real servers
// (loopback addresses 127.x.y.z, all answered by one HTTP server in a child
// process) checked with HTTP GET + MD5 digest every interval. It prints the
// sustained checks per second and the checker's CPU seconds per 10,000
// checks, then the same for keepalived's checker on the same targets when
// it can run here, and the ratio.
//
// keepalived's checker process exits when IPVS is missing (this host's
// kernel has none); checkbench then runs it with a small LD_PRELOAD shim
// (shim/ipvs_shim.c, built with cc) that answers keepalived's IPVS sockopt calls
// with success, leaving its checkers untouched. Without cc or keepalived
// it says so and measures only ours.
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

	"github.com/lvsd/lb/healthcheck"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "checkbench server:", err)
			os.Exit(1)
		}
		return
	}
	n := flag.Int("n", 10000, "real servers (loopback addresses)")
	interval := flag.Duration("interval", time.Second, "delay_loop")
	window := flag.Duration("window", 10*time.Second, "measurement window")
	warm := flag.Duration("warm", 3*time.Second, "time before the window starts")
	keepalived := flag.String("keepalived", "/usr/sbin/keepalived", "keepalived binary; empty to skip the comparison")
	noReactor := flag.Bool("noreactor", false, "run our checks one goroutine each through the net package instead of the epoll reactor")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of our checker's window to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "checkbench:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "checkbench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*n, *interval, *window, *warm, *keepalived, *noReactor); err != nil {
		fmt.Fprintln(os.Stderr, "checkbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
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

func run(n int, interval, window, warm time.Duration, keepalived string, noReactor bool) error {
	srv, err := startServer()
	if err != nil {
		return err
	}
	defer srv.stop()
	fmt.Printf("load average before: %s\n", loadavg())
	defer func() {
		fmt.Printf("load average after: %s (the machine is shared: a load above its CPUs starves both checkers)\n", loadavg())
	}()
	fmt.Printf("checkbench: %d real servers 127.1.1.1.. port %d, HTTP GET / + MD5 digest every %v, window %v, GOMAXPROCS %d, %d CPUs\n",
		n, srv.port, interval, window, runtime.GOMAXPROCS(0), runtime.NumCPU())

	ours, err := measureOurs(srv, n, interval, window, warm, noReactor)
	if err != nil {
		return err
	}
	report(ours)
	if per := ours.cpu.Seconds() / float64(ours.checks); per > 0 {
		fmt.Printf("  capacity of one core at this CPU per check: %.0f checks/s\n", 1/per)
	}
	// n servers every interval is the most there is to do: "sustained"
	// means keeping up with it (99%, for the window's edges).
	scheduled := float64(n) / interval.Seconds()
	verdict := "FAIL"
	if ours.perSecond() >= 0.99*scheduled && ours.cores() < 1 {
		verdict = "PASS"
	}
	fmt.Printf("  kept up with %.1f%% of the %.0f checks/s scheduled on %.2f cores\n", 100*ours.perSecond()/scheduled, scheduled, ours.cores())
	if scheduled >= 10000 {
		fmt.Printf("  acceptance (10,000 checks/s sustained on under one core): %s\n", verdict)
	}

	if keepalived == "" {
		fmt.Println("keepalived: comparison skipped (-keepalived empty)")
		return nil
	}
	ka, err := measureKeepalived(srv, keepalived, n, interval, window, warm)
	if err != nil {
		fmt.Printf("keepalived: not measured: %v\n", err)
		return nil
	}
	report(ka)
	if ours.cpuPer10k() > 0 && ka.cpuPer10k() > 0 {
		fmt.Printf("ratio: keepalived uses %.2fx the CPU per check of ours; throughput ours/keepalived %.2f\n",
			ka.cpuPer10k()/ours.cpuPer10k(), ours.perSecond()/ka.perSecond())
	}
	return nil
}

func report(m measurement) {
	fmt.Printf("%s:\n", m.name)
	fmt.Printf("  checks/s sustained:        %.0f  (%d in %v; server answered %d; failures %d)\n",
		m.perSecond(), m.checks, m.window.Round(time.Millisecond), m.served, m.failures)
	fmt.Printf("  checker CPU per 10k checks: %.3f s  (%.2f cores; server child %.2f cores)\n",
		m.cpuPer10k(), m.cores(), m.serverCPU.Seconds()/m.window.Seconds())
	fmt.Printf("  checker threads runnable but waiting for a CPU: %.2f s per s\n", m.wait.Seconds()/m.window.Seconds())
}

func measureOurs(srv *server, n int, interval, window, warm time.Duration, noReactor bool) (measurement, error) {
	m := measurement{name: "ours (healthcheck.Scheduler, HTTP checker on epoll reactors)"}
	if noReactor {
		m.name = "ours (healthcheck.Scheduler, HTTP checker, one goroutine per check via net)"
	}
	s := healthcheck.NewScheduler(healthcheck.Options{NoReactor: noReactor})
	tm := healthcheck.Timing{DelayLoop: interval, ConnectTimeout: 2 * time.Second, Retry: 1, DelayBeforeRetry: time.Second, Warmup: interval}
	for i := range n {
		spec := healthcheck.Spec{Type: healthcheck.TypeHTTP, Target: target(i, srv.port),
			URLs: []healthcheck.URL{{Path: "/", Digest: digest()}}}
		if err := s.Add(healthcheck.ID(fmt.Sprint("rs", i)), spec, tm); err != nil {
			return m, fmt.Errorf("add check %d: %w", i, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(warm)

	st0, cpu0, t0, w0 := s.Stats(), selfCPU(), time.Now(), runQueueWait(os.Getpid())
	srv0, err := srv.served()
	if err != nil {
		cancel()
		return m, err
	}
	scpu0, _ := procCPU(srv.cmd.Process.Pid)
	time.Sleep(window)
	st1, cpu1, t1, w1 := s.Stats(), selfCPU(), time.Now(), runQueueWait(os.Getpid())
	m.wait = w1 - w0
	srv1, err := srv.served()
	scpu1, _ := procCPU(srv.cmd.Process.Pid)
	cancel()
	if rerr := <-done; rerr != nil {
		return m, fmt.Errorf("scheduler: %w", rerr)
	}
	if err != nil {
		return m, err
	}
	m.checks = int64(st1.Checks - st0.Checks)
	m.failures = int64(st1.Failures - st0.Failures)
	m.served = srv1 - srv0
	m.window = t1.Sub(t0)
	m.cpu = cpu1 - cpu0
	m.serverCPU = scpu1 - scpu0
	if m.checks == 0 {
		return m, errors.New("no check completed")
	}
	return m, nil
}
