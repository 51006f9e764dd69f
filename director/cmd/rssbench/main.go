// Command rssbench measures lbd's memory and CPU at scale, with
// keepalived's in the same run: 1,000 services x 10 real servers, each
// real server health-checked with HTTP GET + MD5 digest every second
// (10,000 checks per second), and one VRRP instance, on this host.
//
// This host's kernel has no IPVS, so the IPVS part is stubbed on both
// sides, and said so: lbd runs its own daemon code (director/daemon, the
// code of `lbd run`) with the in-memory fake kernel (director/kernel/fake,
// which holds the 1,000 x 10 table in memory, counted in lbd's figure),
// and keepalived runs whole (parent, checker and VRRP processes) under the
// LD_PRELOAD shim that answers its IPVS calls (internal/benchkit). Health
// checks, VRRP, the control socket are real. Everything runs in a private
// network namespace (unshare --net: VRRP adverts go to a veth pair there),
// one side after the other, against one HTTP server (a child process
// answering on every 127.x.y.z, where each check connects: connect_ip,
// since a real server itself cannot be at a loopback address).
//
// For each side it waits for the steady state (the server answers 95% of
// the 10,000 checks per second scheduled in 3 consecutive seconds; a side
// that never gets there is measured anyway and said so), then samples the
// processes every second over a window: resident set (VmRSS, summed over
// keepalived's processes), the peak (VmHWM) and CPU. It prints both sides,
// the ratios, then the verdict: PASS when lbd's peak RSS is under 64 MiB
// (the goal of issue 12), exit 0; FAIL exit 1; 2 when a side could not be
// measured (keepalived missing, no C compiler for the shim, a setup
// error).
//
// lbd runs with its memory policy, as `lbd run` does (a soft memory limit
// that follows the live heap: director/daemon/memory.go); -no-memory-policy
// runs it without, to measure what the policy saves and costs in CPU.
//
//	rssbench [-services 1000] [-reals 10] [-window 20s] [-keepalived PATH] [-no-memory-policy]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/lvsd/lb/director/daemon"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/internal/benchkit"
	"github.com/lvsd/lb/internal/benchverdict"
)

// inNetnsEnv marks the copy of rssbench re-executed in its own network
// namespace.
const inNetnsEnv = "RSSBENCH_NETNS"

// lbdArg runs lbd's daemon on the fake kernel: rssbench -lbd FILE.
const lbdArg = "-lbd"

// noPolicyEnv, set, runs lbd without its memory policy (-no-memory-policy),
// to measure what the policy costs and saves.
const noPolicyEnv = "RSSBENCH_NO_MEMORY_POLICY"

// heapEnv names the file where the lbd child writes its heap profile on
// SIGUSR1, which rssbench sends at the end of lbd's window (-heapprofile).
const heapEnv = "RSSBENCH_HEAPPROFILE"

// options are the command's flags.
type options struct {
	services, reals int
	interval        time.Duration
	window          time.Duration
	steadyWait      time.Duration
	keepalived      string
	goalMiB         float64
	heapProfile     string
	noMemoryPolicy  bool
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case benchkit.ServeArg:
			exitOn(benchkit.Serve())
			return
		case lbdArg:
			if len(os.Args) != 3 {
				fmt.Fprintln(os.Stderr, "usage: rssbench -lbd FILE")
				os.Exit(2)
			}
			exitOn(runLbd(os.Args[2]))
			return
		}
	}
	var o options
	flag.IntVar(&o.services, "services", 1000, "virtual services")
	flag.IntVar(&o.reals, "reals", 10, "real servers per service, each with its own HTTP check")
	flag.DurationVar(&o.interval, "interval", time.Second, "delay_loop of every check")
	flag.DurationVar(&o.window, "window", 20*time.Second, "measurement window, sampled every second")
	flag.DurationVar(&o.steadyWait, "steady-wait", 90*time.Second, "how long each side is given to reach its steady state")
	flag.StringVar(&o.keepalived, "keepalived", "/usr/sbin/keepalived", "keepalived binary, the peer")
	flag.Float64Var(&o.goalMiB, "goal", 64, "lbd's peak RSS goal, MiB")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "write lbd's heap profile to this file at the end of its window")
	flag.BoolVar(&o.noMemoryPolicy, "no-memory-policy", false, "run lbd without its soft memory limit (to measure what the policy costs and saves)")
	flag.Parse()
	if o.services < 1 || o.reals < 1 || o.services > 60000 || o.services*o.reals > 254*254*254 {
		fmt.Fprintln(os.Stderr, "rssbench: -services 1..60000 and -reals >= 1, at most 16,387,064 real servers in all")
		os.Exit(2)
	}
	if os.Getenv(inNetnsEnv) == "" {
		os.Exit(reexecInNetns())
	}
	err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rssbench:", err)
	}
	os.Exit(benchverdict.ExitStatus(err))
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "rssbench:", err)
		os.Exit(1)
	}
}

// runLbd is lbd's daemon on the fake kernel until SIGTERM. With heapEnv
// set, SIGUSR1 writes its heap profile there.
func runLbd(path string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := daemon.New(path, daemon.Options{Kernel: fake.New(), Notify: func(string) {}, MemoryPolicy: os.Getenv(noPolicyEnv) == ""})
	if err != nil {
		return fmt.Errorf("lbd: %w", err)
	}
	if heap := os.Getenv(heapEnv); heap != "" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			for range usr1 {
				if err := writeHeap(heap); err != nil {
					fmt.Fprintln(os.Stderr, "rssbench: heap profile:", err)
				}
			}
		}()
	}
	return d.Run(ctx)
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}
