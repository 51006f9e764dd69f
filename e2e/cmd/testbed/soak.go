package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lb/e2e/vm"
)

// soakTag is the build tag of the chaos soak's files
// (e2e/scenarios/soak*_test.go): the normal image leaves them out, so
// "testbed run" and "make test" never start the soak.
const soakTag = "testbed_soak"

// soakOptions are the soak's duration and seed.
type soakOptions struct {
	duration time.Duration
	seed     int64
	faults   string // SOAK_FAULTS: the fault kinds to draw, comma-separated (all when empty)
}

// soakFromEnv reads SOAK_DURATION (default 10m), SOAK_SEED (default 0: a
// new seed) and SOAK_FAULTS (default: every kind).
func soakFromEnv() (soakOptions, error) {
	o := soakOptions{duration: 10 * time.Minute}
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return o, fmt.Errorf("SOAK_DURATION=%q: want a positive Go duration such as 60s or 10m", v)
		}
		o.duration = d
	}
	if v := os.Getenv("SOAK_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return o, fmt.Errorf("SOAK_SEED=%q: want an integer (the seed a soak printed)", v)
		}
		o.seed = n
	}
	o.faults = os.Getenv("SOAK_FAULTS")
	if strings.ContainsAny(o.faults, "'\"$`\\ ;&|") {
		return o, fmt.Errorf("SOAK_FAULTS=%q: want fault kinds separated by commas", o.faults)
	}
	return o, nil
}

// soakCommand is the guest's command line: the scenario binary's TestSoak
// with the duration and seed in its environment.
func soakCommand(o soakOptions, testTimeout time.Duration) string {
	return fmt.Sprintf("SOAK_DURATION=%s SOAK_SEED=%d SOAK_FAULTS='%s' %s -test.v -test.run '^TestSoak$' -test.timeout %s",
		o.duration, o.seed, o.faults, vm.GuestTestPath, testTimeout)
}

// runSoak boots the soak image and runs TestSoak, printing its output; the
// exit status is the test binary's (non-zero on any invariant violation).
func runSoak(ctx context.Context, img *vm.Image, o soakOptions, opts vm.RunOptions, stdout, stderr io.Writer, verbose bool) int {
	if o.seed == 0 {
		o.seed = rand.Int64N(1<<31-1) + 1
	}
	// Set-up and teardown take a few minutes of emulated CPU; the test's
	// own timeout leaves the VM time to print its goroutines.
	testTimeout := o.duration + 10*time.Minute
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout + 2*time.Minute
	}
	replay := fmt.Sprintf("SOAK_SEED=%d SOAK_DURATION=%s", o.seed, o.duration)
	if o.faults != "" {
		replay += " SOAK_FAULTS=" + o.faults
	}
	fmt.Fprintf(stdout, "testbed: soak for %s with seed %d (replay: %s make soak)\n", o.duration, o.seed, replay)
	code := runCommand(ctx, img, []string{soakCommand(o, testTimeout)}, opts, stdout, stderr, verbose)
	verdict := "PASS"
	if code != 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(stdout, "testbed: soak %s (exit %d), seed %d, duration %s\n", verdict, code, o.seed, o.duration)
	return code
}
