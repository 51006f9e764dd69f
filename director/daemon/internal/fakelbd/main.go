// Command fakelbd is a test-only lbd: "lbd run" on the fake IPVS kernel
// (director/kernel/fake), for netns tests on hosts whose kernel has no
// IPVS (the BGP test's directors). Everything else is the real daemon:
// the configuration, health checks, BGP, the control socket. Never
// shipped: the production lbd has no such switch.
//
//	fakelbd -c lbd.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/lvsd/lb/director/daemon"
	"github.com/lvsd/lb/director/kernel/fake"
)

func main() {
	cfg := flag.String("c", "lbd.yaml", "configuration `file`")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d, err := daemon.New(*cfg, daemon.Options{Kernel: fake.New()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakelbd:", err)
		os.Exit(1)
	}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "fakelbd:", err)
		os.Exit(1)
	}
}
