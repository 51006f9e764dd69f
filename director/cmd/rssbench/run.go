package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/lvsd/lb/internal/benchkit"
	"github.com/lvsd/lb/internal/benchverdict"
)

// run measures lbd, then keepalived, and judges.
func run(o options) error {
	if err := setupNetns(); err != nil {
		return fmt.Errorf("%w: private network namespace: %w", benchverdict.ErrNotMeasured, err)
	}
	srv, err := benchkit.StartServer()
	if err != nil {
		return fmt.Errorf("%w: benchmark server: %w", benchverdict.ErrNotMeasured, err)
	}
	defer srv.Stop()
	dir, err := os.MkdirTemp("", "rssbench-")
	if err != nil {
		return fmt.Errorf("%w: %w", benchverdict.ErrNotMeasured, err)
	}
	defer os.RemoveAll(dir)
	want := float64(o.services*o.reals) / o.interval.Seconds()
	fmt.Printf("rssbench: %d services x %d real servers (10.1.1.1.., checked at connect_ip 127.1.1.1.. port %d), HTTP GET / + MD5 digest every %v (%.0f checks/s), one VRRP instance; window %v; %d CPUs; load average %s\n",
		o.services, o.reals, srv.Port, o.interval, want, o.window, runtime.NumCPU(), benchkit.LoadAvg())
	fmt.Println("IPVS is stubbed on both sides (this kernel has none): lbd's daemon on the in-memory fake kernel, keepalived under an LD_PRELOAD shim")

	lbd, err := measureSide(o, srv, dir, startLbd)
	if err != nil {
		return fmt.Errorf("%w: lbd: %w", benchverdict.ErrNotMeasured, err)
	}
	report(os.Stdout, lbd)
	waitQuiet(srv, want, 30*time.Second)
	ka, kaErr := measureSide(o, srv, dir, startKeepalived)
	if kaErr == nil {
		report(os.Stdout, ka)
	}
	fmt.Printf("load average after: %s\n", benchkit.LoadAvg())
	return judge(os.Stdout, lbd, ka, kaErr, o.goalMiB)
}

// measureSide starts a side, measures it and stops it.
func measureSide(o options, srv *benchkit.Server, dir string, start func(options, *benchkit.Server, string) (*side, error)) (figures, error) {
	s, err := start(o, srv, dir)
	if err != nil {
		return figures{}, err
	}
	defer s.stop()
	f, err := measure(s, srv, o)
	if err == nil && o.heapProfile != "" && s.name == lbdName {
		_ = s.cmd.Process.Signal(syscall.SIGUSR1)
		time.Sleep(2 * time.Second)
	}
	return f, err
}

func report(w io.Writer, f figures) {
	fmt.Fprintf(w, "%s:\n", f.name)
	fmt.Fprintf(w, "  steady state:   %v\n", f.steady)
	fmt.Fprintf(w, "  RSS:            %.1f MiB steady (median of %v, sampled every second), %.1f MiB largest sample, %.1f MiB peak (VmHWM), %d process(es)\n",
		mib(f.rssMedian), f.window.Round(100*time.Millisecond), mib(f.rssMax), mib(f.peak), f.procs)
	fmt.Fprintf(w, "  CPU:            %.2f cores; %.3f CPU-s per 10k checks\n", f.cores(), f.cpuPer10k())
	fmt.Fprintf(w, "  checks/s:       %.0f (answered by the server in the window)\n", f.perSecond())
}

// judge prints the ratios lbd/keepalived and the goal, and returns the
// verdict: PASS when lbd's peak RSS is under goalMiB; no verdict without
// keepalived's figures.
func judge(w io.Writer, lbd, ka figures, kaErr error, goalMiB float64) error {
	if kaErr != nil {
		fmt.Fprintf(w, "rssbench: NO VERDICT: keepalived, the peer, was not measured: %v\n", kaErr)
		return fmt.Errorf("%w: keepalived, the peer: %w", benchverdict.ErrNotMeasured, kaErr)
	}
	fmt.Fprintf(w, "ratio lbd/keepalived: steady RSS %.1f / %.1f MiB = %.2f; peak %.1f / %.1f MiB = %.2f; CPU %.2f / %.2f cores = %.2f; CPU per 10k checks %.3f / %.3f s = %.2f; checks/s %.0f / %.0f\n",
		mib(lbd.rssMedian), mib(ka.rssMedian), float64(lbd.rssMedian)/float64(ka.rssMedian),
		mib(lbd.peak), mib(ka.peak), float64(lbd.peak)/float64(ka.peak),
		lbd.cores(), ka.cores(), lbd.cores()/ka.cores(), lbd.cpuPer10k(), ka.cpuPer10k(), lbd.cpuPer10k()/ka.cpuPer10k(),
		lbd.perSecond(), ka.perSecond())
	for _, f := range []figures{lbd, ka} {
		if !f.steady.Steady {
			fmt.Fprintf(w, "  %s never reached its steady state: its CPU figures are what it does when it cannot keep up\n", f.name)
		}
	}
	sheet := benchverdict.NewSheet(w)
	sheet.Check(mib(lbd.peak) < goalMiB, "lbd's peak RSS (VmHWM) under %.0f MiB: %.1f MiB", goalMiB, mib(lbd.peak))
	if err := sheet.Err(); err != nil {
		fmt.Fprintln(w, "rssbench: FAIL")
		return err
	}
	fmt.Fprintln(w, "rssbench: PASS")
	return nil
}
