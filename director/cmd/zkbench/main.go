// Command zkbench measures how lbd follows a ZooKeeper registry (issue 15):
// a real 3-node ensemble on this host (internal/zklab, Debian's zookeeperd
// jars), members registered as the seed's AppServer does
// (EPHEMERAL_SEQUENTIAL children of a base path holding "host:port"), and
// the director under test programming the in-memory fake kernel
// (director/kernel/fake), which counts the IPVS writes and records when each
// destination is created or removed.
//
// Figures:
//
//	(a) burst: 1,000 members registering within one second from a few
//	    client sessions -> time from the first create until the table holds
//	    all of them, and the IPVS writes (ops; batched requests counted apart).
//	(b) churn: 100 changes per second (joins and leaves alternating, the pool
//	    keeping its size) for 60 s -> lag from the znode change (the client's
//	    create or delete returning) to the table change (the fake kernel's
//	    write), median and p99, and the writes per change.
//
// The comparison, from the same run: a second discovery watcher on its own
// session follows the same path and records when each change reaches its
// list. That is ZooKeeper's own notification as a client sees it, the
// floor; the report gives the director's lag against it (a ratio) and what
// the director adds per change.
//
// The director under test (-layer): "daemon" is lbd's daemon
// (director/daemon, the code of `lbd run`) in-process, with a virtual
// service whose real servers come from the registry (its discovery keys,
// trust_new and no checks: the figure is discovery's path to the table);
// "core" is discovery's watcher feeding the director's core
// (director.Manager, Reconciler) directly, a lower layer.
//
// Verdict (internal/benchverdict): PASS when every member reached the table
// within -converge of the first create, writes per member and per change
// are at most 1.0, every change reached the table and the p99 lag is
// within -p99; FAIL otherwise (exit 1); exit 2 when the floor could not be
// measured or the run could not be made (no java, no zookeeper jars).
//
//	zkbench [-layer daemon|core] [-members 1000] [-window 1s] [-rate 100] [-duration 60s] [-pool 200] [-quick]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"
	"github.com/lvsd/lb/internal/zklab"
)

// options are the command's flags.
type options struct {
	members  int
	window   time.Duration
	sessions int
	pool     int
	rate     float64
	duration time.Duration
	settle   time.Duration
	converge time.Duration
	p99      time.Duration
	layer    string
}

func parseFlags() options {
	var o options
	quick := flag.Bool("quick", false, "a short churn (10 s) for a quick run")
	flag.IntVar(&o.members, "members", 1000, "members registering in the burst")
	flag.DurationVar(&o.window, "window", time.Second, "the burst's registrations spread over this window")
	flag.IntVar(&o.sessions, "sessions", 8, "client sessions registering members")
	flag.IntVar(&o.pool, "pool", 200, "members present during the churn")
	flag.Float64Var(&o.rate, "rate", 100, "changes per second in the churn (joins and leaves alternating)")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "the churn's length")
	flag.DurationVar(&o.settle, "settle", time.Second, "wait after the last change before counting writes")
	flag.DurationVar(&o.converge, "converge", 5*time.Second, "goal: every burst member in the table within this of the first create")
	flag.DurationVar(&o.p99, "p99", time.Second, "goal: the churn's p99 lag (znode change to table change)")
	flag.StringVar(&o.layer, "layer", "daemon", "the director under test: daemon (lbd's daemon, its discovery config) or core (discovery's watcher -> director.Manager)")
	flag.Parse()
	if *quick {
		o.duration = 10 * time.Second
	}
	return o
}

func main() {
	o := parseFlags()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	r := &runner{}
	err := run(ctx, r, o)
	cancel()
	r.close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "zkbench: %v\n", err)
	}
	os.Exit(benchverdict.ExitStatus(err))
}

func run(ctx context.Context, r *runner, o options) error {
	start, ok := layers[o.layer]
	if !ok {
		return fmt.Errorf("-layer %q: want one of %v", o.layer, layerNames())
	}
	if err := zklab.Available(); err != nil {
		return fmt.Errorf("%w: %w", benchverdict.ErrNotMeasured, err)
	}
	fmt.Printf("zkbench: a 3-node ZooKeeper ensemble on this host; the director under test: %s; fake kernel (writes counted)\n", o.layer)
	e := zklab.Start(r, zklab.Options{})
	fmt.Printf("ensemble serving: %v\n\n", e.Servers())
	b, err := runBurst(ctx, e.Servers(), start, o)
	if err != nil {
		return fmt.Errorf("burst: %w", err)
	}
	printBurst(o, b)
	c, err := runChurn(ctx, e.Servers(), start, o)
	if err != nil {
		return fmt.Errorf("churn: %w", err)
	}
	printChurn(o, c)
	return verdict(o, b, c)
}
