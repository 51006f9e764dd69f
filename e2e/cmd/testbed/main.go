// Command testbed builds and boots the real-kernel testbed VM (see
// e2e/README.md):
//
//	go run ./e2e/cmd/testbed demo              narrated run of the demo scenario (make demo)
//	go run ./e2e/cmd/testbed run [-run RE] [-pkgs P] [-v]
//	                                           run the guest packages' tests, print verdicts
//	go run ./e2e/cmd/testbed bench [-list] [NAME...]
//	                                           run the VM benchmarks (vm.Benches), print their output
//	go run ./e2e/cmd/testbed soak [-duration 10m] [-seed N]
//	                                           the chaos soak (TestSoak, build tag testbed_soak; make soak)
//	go run ./e2e/cmd/testbed exec CMD [ARG...] run a command in the VM, print its output
//	go run ./e2e/cmd/testbed shell             interactive shell in the VM
//	go run ./e2e/cmd/testbed build             build (or reuse) the initramfs, print what is in it
//
// The E2E_* variables of vm.OptionsFromEnv apply; flags override them.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lb/e2e/vm"
	"github.com/lvsd/lb/internal/zklab"
)

// demoRun selects the scenarios "make demo" shows: the director pair of
// deploy/examples balancing, losing a web node and failing over
// (e2e/scenarios/demo_test.go).
const demoRun = "^TestScenarioDemo$"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: testbed <command> [flags]

commands:
  demo              boot the VM and run the demo scenarios with narrated output
  run               run the guest tests (-run REGEXP, -pkgs scenarios,director_kernel;
                    default all; -v prints the whole console)
  bench [NAME...]   run the VM benchmarks (all by default; -list lists them)
  soak              the chaos soak: two directors, two real servers, a client, random faults
                    (-duration, default 10m; -seed N replays a run; SOAK_DURATION, SOAK_SEED)
  exec CMD [ARG...] run a command in the VM (sh -c of the words) and print its output
  shell             boot the VM with an interactive shell on the console (exit powers off)
  build             build or reuse the initramfs and print what it holds

flags (after the command): -run REGEXP, -pkgs LIST, -v, -timeout DURATION, -smp N, -mem MiB
environment: SOAK_DURATION SOAK_SEED E2E_RUN E2E_PKGS E2E_TIMEOUT E2E_SMP E2E_MEM E2E_CMDS E2E_GZIP E2E_CACHE (see e2e/README.md)
`)
}

// invocation is a parsed command line.
type invocation struct {
	cmd       string
	args      []string // the words after the flags (bench names, exec's command)
	buildOpts vm.BuildOptions
	runOpts   vm.RunOptions
	verbose   bool
	list      bool
	soak      soakOptions
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		usage(stderr)
		return 2
	}
	inv, ok := parseArgs(args, stderr)
	if !ok {
		return 2
	}
	if inv.cmd == "bench" && inv.list {
		for _, b := range vm.Benches() {
			fmt.Fprintf(stdout, "%-12s %s\n             %s %s (package %s)\n", b.Name, b.Doc, b.Name, strings.Join(b.Args, " "), b.Package)
		}
		return 0
	}
	var benches []vm.Bench
	var err error
	if inv.cmd == "bench" {
		// Check the names before spending time on a build.
		if benches, err = vm.SelectBenches(vm.Benches(), inv.args); err != nil {
			fmt.Fprintln(stderr, "testbed:", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	inv.buildOpts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	img, err := buildImage(ctx, inv.buildOpts, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "testbed:", err)
		return 1
	}
	return dispatch(ctx, inv, img, benches, stdout, stderr)
}

// parseArgs reads the command and its flags over the E2E_* environment;
// on a mistake it says what is wrong on stderr and returns false.
func parseArgs(args []string, stderr io.Writer) (invocation, bool) {
	inv := invocation{cmd: args[0]}
	var err error
	if inv.buildOpts, inv.runOpts, err = vm.OptionsFromEnv(); err != nil {
		fmt.Fprintln(stderr, "testbed:", err)
		return inv, false
	}
	fs := flag.NewFlagSet("testbed "+inv.cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&inv.runOpts.Run, "run", inv.runOpts.Run, "go test -run pattern for the guest tests (default all)")
	pkgs := fs.String("pkgs", strings.Join(inv.runOpts.Packages, ","), "comma-separated guest packages to run (default all)")
	fs.BoolVar(&inv.verbose, "v", false, "print the whole console, not only verdicts and failures")
	fs.BoolVar(&inv.list, "list", false, "bench: list the benchmarks and exit")
	fs.DurationVar(&inv.runOpts.Timeout, "timeout", inv.runOpts.Timeout, "whole-VM timeout (default 10m)")
	fs.IntVar(&inv.runOpts.CPUs, "smp", inv.runOpts.CPUs, "guest vCPUs (default 1)")
	fs.IntVar(&inv.runOpts.MemoryMB, "mem", inv.runOpts.MemoryMB, "guest RAM in MiB (default 1024)")
	if inv.cmd == "soak" {
		if inv.soak, err = soakFromEnv(); err != nil {
			fmt.Fprintln(stderr, "testbed:", err)
			return inv, false
		}
		fs.DurationVar(&inv.soak.duration, "duration", inv.soak.duration, "soak: how long the faults run")
		fs.Int64Var(&inv.soak.seed, "seed", inv.soak.seed, "soak: the fault schedule's seed (0: a new one, printed)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return inv, false // flag printed why
	}
	inv.args = fs.Args()
	inv.runOpts.Packages = nil
	for _, p := range strings.Split(*pkgs, ",") {
		if p = strings.TrimSpace(p); p != "" {
			inv.runOpts.Packages = append(inv.runOpts.Packages, p)
		}
	}
	switch {
	case inv.cmd == "exec" && len(inv.args) == 0:
		fmt.Fprintln(stderr, "testbed exec: which command?")
		return inv, false
	case len(inv.args) > 0 && inv.cmd != "bench" && inv.cmd != "exec":
		fmt.Fprintf(stderr, "testbed %s: unexpected arguments %v\n", inv.cmd, inv.args)
		return inv, false
	}
	switch inv.cmd {
	case "soak":
		inv.buildOpts.GuestTags = []string{soakTag}
		inv.buildOpts.GuestPackages = []string{vm.ScenarioGuest}
		return inv, true
	case "demo", "run", "shell", "build", "bench", "exec":
		return inv, true
	}
	fmt.Fprintf(stderr, "testbed: unknown command %q\n", inv.cmd)
	usage(stderr)
	return inv, false
}

// buildImage builds (or reuses) the initramfs and says which.
func buildImage(ctx context.Context, opts vm.BuildOptions, stdout io.Writer) (*vm.Image, error) {
	fmt.Fprintln(stdout, "testbed: building the initramfs (Go binaries, busybox, kernel modules, ipvsadm, iproute2)...")
	img, err := vm.Build(ctx, opts)
	if err != nil {
		return nil, err
	}
	cached := "built"
	if img.Cached {
		cached = "cached"
	}
	fmt.Fprintf(stdout, "testbed: initramfs %s, %.1f MiB (%s in %s), kernel %s\n",
		img.Initrd, float64(img.Size)/(1<<20), cached, img.BuildTime.Round(10*time.Millisecond), img.Kernel.Version)
	return img, nil
}

// dispatch runs the command on the built image and returns the exit status.
func dispatch(ctx context.Context, inv invocation, img *vm.Image, benches []vm.Bench, stdout, stderr io.Writer) int {
	runOpts := inv.runOpts
	switch inv.cmd {
	case "build":
		printImage(stdout, img)
		if notBuilt := unbuilt(img); len(notBuilt) > 0 {
			fmt.Fprintf(stderr, "testbed: not built: %s\n", strings.Join(notBuilt, ", "))
			return 1
		}
		return 0
	case "shell":
		runOpts.Mode = vm.ModeShell
		if runOpts.Timeout == 0 {
			runOpts.Timeout = 24 * time.Hour
		}
		fmt.Fprintln(stdout, "testbed: booting a shell; 'exit' powers the VM off, Ctrl-A X kills qemu")
		if _, err := vm.Boot(ctx, img, runOpts); err != nil {
			fmt.Fprintln(stderr, "testbed:", err)
			return 1
		}
		return 0
	case "demo":
		if runOpts.Run == "" {
			runOpts.Run = demoRun
		}
		if runOpts.Packages == nil {
			runOpts.Packages = []string{vm.ScenarioGuest}
		}
		return runTests(ctx, img, runOpts, stdout, stderr, newDemoPrinter(stdout, img), false)
	case "bench":
		if runOpts.Timeout == 0 {
			runOpts.Timeout = 30 * time.Minute
		}
		return runBenches(ctx, img, benches, runOpts, stdout, stderr, inv.verbose)
	case "exec":
		return runCommand(ctx, img, inv.args, runOpts, stdout, stderr, inv.verbose)
	case "soak":
		return runSoak(ctx, img, inv.soak, runOpts, stdout, stderr, inv.verbose)
	default:
		return runTests(ctx, img, runOpts, stdout, stderr, newVerdictPrinter(stdout, inv.verbose), !inv.verbose)
	}
}

// unbuilt names the guest packages and benches of img that did not build.
func unbuilt(img *vm.Image) []string {
	var out []string
	for _, g := range img.Guests {
		if g.BuildError != nil {
			out = append(out, "guest "+g.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(img.BenchErrors)) {
		out = append(out, "bench "+name)
	}
	return out
}

func printImage(w io.Writer, img *vm.Image) {
	fmt.Fprintf(w, "  kernel:    %s (%s)\n", img.Kernel.Image, img.Kernel.Version)
	fmt.Fprintf(w, "  commands:  %s (in /usr/local/bin)\n", strings.Join(img.Commands, " "))
	for _, g := range img.Guests {
		if g.BuildError != nil {
			fmt.Fprintf(w, "  guest:     %s (%s) NOT BUILT: %v\n", g.Name, g.Package, g.BuildError)
			continue
		}
		fmt.Fprintf(w, "  guest:     %s (%s): %s, %d test(s)\n", g.Name, g.Package, g.Binary, len(g.Tests))
	}
	for _, b := range img.Benches {
		fmt.Fprintf(w, "  bench:     %s %s\n", b.Name, strings.Join(b.Args, " "))
	}
	for _, name := range slices.Sorted(maps.Keys(img.BenchErrors)) {
		fmt.Fprintf(w, "  bench:     %s NOT BUILT: %v\n", name, img.BenchErrors[name])
	}
	fmt.Fprintf(w, "  tools:     busybox %s\n", strings.Join(img.Tools, " "))
	fmt.Fprintf(w, "  modules:   %s\n", strings.Join(img.Modules, " "))
	if len(img.Skipped) > 0 {
		fmt.Fprintf(w, "  missing:   %s\n", strings.Join(img.Skipped, ", "))
	}
	fmt.Fprintf(w, "  timings:   go builds %s, packing %s, total %s\n",
		img.GoTime.Round(10*time.Millisecond), img.PackTime.Round(10*time.Millisecond), img.BuildTime.Round(10*time.Millisecond))
}

// printer renders console lines while the VM runs.
type printer interface {
	line(string)
}

func runTests(ctx context.Context, img *vm.Image, opts vm.RunOptions, stdout, stderr io.Writer, p printer, dumpFailures bool) int {
	plan, err := vm.Plan(img, opts)
	if err != nil {
		fmt.Fprintln(stderr, "testbed:", err)
		return 1
	}
	runnable := 0
	for _, pg := range plan {
		if pg.BuildError == nil {
			runnable += len(pg.Selected)
		}
	}
	if vm.PlannedTests(plan) == 0 && len(vm.Outcomes(plan, &vm.Result{})) == 0 {
		fmt.Fprintf(stderr, "testbed: no guest test matches %q\n", opts.Run)
		return 1
	}
	res := &vm.Result{ExitCode: -1}
	var bootErr error
	if runnable > 0 && vm.NeedsZooKeeper(plan) {
		var stop func()
		if opts, stop, err = withEnsemble(opts, stdout); err != nil {
			fmt.Fprintln(stderr, "testbed:", err)
			return 1
		}
		defer stop()
	}
	if runnable > 0 {
		opts.OnLine = p.line
		res, bootErr = vm.Boot(ctx, img, opts)
		if res == nil {
			fmt.Fprintln(stderr, "testbed:", bootErr)
			return 1
		}
	}
	passed, failed := 0, 0
	fmt.Fprintln(stdout)
	for _, o := range vm.Outcomes(plan, res) {
		if o.Failed() {
			failed++
			if dumpFailures && len(o.Output) > 0 {
				fmt.Fprintf(stdout, "--- output of %s:\n%s\n", o.Label(), strings.Join(o.Output, "\n"))
			}
			if o.Detail != "" && (o.Test == "" || o.Status != vm.StatusFail) {
				fmt.Fprintf(stdout, "--- %s: %s\n", o.Label(), o.Detail)
			}
		} else {
			passed++
		}
		fmt.Fprintf(stdout, "  %-9s %s (%s)\n", o.Status, o.Label(), o.Elapsed.Round(10*time.Millisecond))
	}
	fmt.Fprintf(stdout, "\n%d result(s): %d passed, %d failed. VM %s (boot %s). Console log: %s\n",
		passed+failed, passed, failed, res.Duration.Round(10*time.Millisecond), res.BootTime.Round(10*time.Millisecond), res.LogPath)
	if bootErr != nil {
		fmt.Fprintf(stderr, "testbed: %v\n--- console tail:\n%s\n", bootErr, res.Tail(40))
		return 1
	}
	if failed > 0 || (runnable > 0 && res.ExitCode != 0) {
		return 1
	}
	return 0
}

// withEnsemble starts the host's ZooKeeper ensemble (internal/zklab) for
// a run whose plan holds ZooKeeper tests, and returns opts giving it to the
// guest, and what stops it.
func withEnsemble(opts vm.RunOptions, stdout io.Writer) (vm.RunOptions, func(), error) {
	start := time.Now()
	e, stop, err := zklab.Launch(zklab.Options{})
	if err != nil {
		return opts, nil, fmt.Errorf("the ZooKeeper tests need the host's ensemble: %w", err)
	}
	if opts, err = vm.WithZooKeeper(opts, e.Servers()); err != nil {
		stop()
		return opts, nil, err
	}
	fmt.Fprintf(stdout, "testbed: ZooKeeper ensemble %s up in %s; the guest dials %s\n",
		strings.Join(e.Servers(), ","), time.Since(start).Round(10*time.Millisecond), opts.Env[vm.ZooKeeperEnv])
	return opts, stop, nil
}

// runBenches boots once and runs the benches one after another, printing
// their output (kernel messages left to the log unless verbose) and a
// summary. It fails when a bench did not build, exited non-zero (a missed
// goal) or never finished.
func runBenches(ctx context.Context, img *vm.Image, benches []vm.Bench, opts vm.RunOptions, stdout, stderr io.Writer, verbose bool) int {
	var inImage []vm.Bench
	for _, b := range benches {
		if err, bad := img.BenchErrors[b.Name]; bad {
			fmt.Fprintf(stderr, "testbed: %v\n", err)
			continue
		}
		inImage = append(inImage, b)
	}
	failed := len(benches) - len(inImage)
	if len(inImage) == 0 {
		fmt.Fprintln(stderr, "testbed: no bench to run")
		return 1
	}
	bp := vm.NewBenchParser()
	seen, blanks := 0, 0
	opts.Mode = vm.ModeCommand
	opts.Command = vm.BenchCommand(inImage, nil)
	opts.OnLine = func(l string) {
		own := bp.Feed(l, time.Now())
		if rs := bp.Results(); len(rs) > seen {
			seen = len(rs)
			b := inImage[0]
			for _, c := range inImage {
				if c.Name == rs[seen-1].Name {
					b = c
				}
			}
			fmt.Fprintf(stdout, "\n=== bench %s: %s %s\n    (%s)\n", b.Name, b.Name, strings.Join(b.Args, " "), b.Doc)
		}
		switch {
		case verbose:
			fmt.Fprintln(stdout, l)
		case !own || vm.IsKernelLine(l):
			blanks = 0 // the runner's blank line before a bench's end
		case l == "":
			blanks++ // held until more output follows
		default:
			fmt.Fprint(stdout, strings.Repeat("\n", blanks))
			blanks = 0
			fmt.Fprintln(stdout, l)
		}
	}
	fmt.Fprintf(stdout, "testbed: booting Debian's kernel %s under qemu TCG (emulated CPU: absolute times are slower than hardware, ratios are what to read)\n", img.Kernel.Version)
	res, bootErr := vm.Boot(ctx, img, opts)
	if res == nil {
		fmt.Fprintln(stderr, "testbed:", bootErr)
		return 1
	}
	fmt.Fprintln(stdout)
	failed += summarizeBenches(stdout, img, benches, bp.Results())
	fmt.Fprintf(stdout, "\n%d bench(es), %d failed. VM %s (boot %s). Console log: %s\n",
		len(benches), failed, res.Duration.Round(100*time.Millisecond), res.BootTime.Round(100*time.Millisecond), res.LogPath)
	if bootErr != nil {
		fmt.Fprintf(stderr, "testbed: %v\n--- console tail:\n%s\n", bootErr, res.Tail(40))
		return 1
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// summarizeBenches prints one verdict line per bench and returns how many
// of those that built failed: exited non-zero, never finished or never ran.
func summarizeBenches(stdout io.Writer, img *vm.Image, benches []vm.Bench, results []vm.BenchResult) (failed int) {
	done := map[string]vm.BenchResult{}
	for _, r := range results {
		done[r.Name] = r
	}
	for _, b := range benches {
		r, ok := done[b.Name]
		_, unbuilt := img.BenchErrors[b.Name]
		switch {
		case unbuilt:
			fmt.Fprintf(stdout, "  %-9s %s (did not build, see above)\n", "NOT BUILT", b.Name)
		case !ok:
			failed++
			fmt.Fprintf(stdout, "  %-9s %s\n", vm.StatusNotRun, b.Name)
		case r.ExitCode == 0:
			fmt.Fprintf(stdout, "  %-9s %s (%s)\n", vm.StatusPass, b.Name, r.Duration.Round(100*time.Millisecond))
		case r.ExitCode < 0:
			failed++
			fmt.Fprintf(stdout, "  %-9s %s (never finished)\n", vm.StatusNoResult, b.Name)
		default:
			failed++
			fmt.Fprintf(stdout, "  %-9s %s (exit %d after %s)\n", vm.StatusFail, b.Name, r.ExitCode, r.Duration.Round(100*time.Millisecond))
		}
	}
	return failed
}

// runCommand boots once, runs the words as a shell command in the VM and
// prints its output; the exit status is the command's.
func runCommand(ctx context.Context, img *vm.Image, words []string, opts vm.RunOptions, stdout, stderr io.Writer, verbose bool) int {
	opts.Mode = vm.ModeCommand
	opts.Command = strings.Join(words, " ")
	started, ended, blanks := false, false, 0
	opts.OnLine = func(l string) {
		switch {
		case verbose:
			fmt.Fprintln(stdout, l)
		case strings.HasPrefix(l, "LBTESTBED-START"):
			started = true
		case strings.HasPrefix(l, "LBTESTBED-EXIT"):
			ended = true
		case !started || ended || vm.IsKernelLine(l):
		case l == "":
			blanks++ // held until more output follows (/init adds one before its exit line)
		default:
			fmt.Fprint(stdout, strings.Repeat("\n", blanks))
			blanks = 0
			fmt.Fprintln(stdout, l)
		}
	}
	res, bootErr := vm.Boot(ctx, img, opts)
	if res == nil {
		fmt.Fprintln(stderr, "testbed:", bootErr)
		return 1
	}
	if bootErr != nil {
		fmt.Fprintf(stderr, "testbed: %v\n--- console tail:\n%s\n", bootErr, res.Tail(40))
		return 1
	}
	fmt.Fprintf(stderr, "testbed: exit %d; VM %s; console log %s\n", res.ExitCode, res.Duration.Round(100*time.Millisecond), res.LogPath)
	return res.ExitCode
}

// verdictPrinter prints RUN and PASS/FAIL lines as they come, or the whole
// console when verbose.
type verdictPrinter struct {
	w       io.Writer
	verbose bool
}

func newVerdictPrinter(w io.Writer, verbose bool) *verdictPrinter {
	return &verdictPrinter{w: w, verbose: verbose}
}

var (
	topRunRE = regexp.MustCompile(`^=== RUN\s+(Test[^/\s]*)$`)
	topEndRE = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (Test[^/\s]*) \(([0-9.]+s)\)`)
	logRE    = regexp.MustCompile(`^\s+\S+\.go:\d+: `)
)

func (p *verdictPrinter) line(l string) {
	if p.verbose || topRunRE.MatchString(l) || topEndRE.MatchString(l) || strings.HasPrefix(l, "LBTESTBED-BOOT") || strings.HasPrefix(l, "LBTESTBED-PKG") {
		fmt.Fprintln(p.w, l)
	}
}

// demoPrinter turns the console into a narrated story: the scenarios'
// "==>" steps and "|" blocks, failures, verdicts; kernel and test-runner
// chatter is left to the log.
type demoPrinter struct {
	w   io.Writer
	img *vm.Image
	t0  time.Time
}

func newDemoPrinter(w io.Writer, img *vm.Image) *demoPrinter {
	fmt.Fprintf(w, "\nBooting Debian's kernel %s under qemu (TCG: the CPU is emulated, no KVM).\n", img.Kernel.Version)
	fmt.Fprintf(w, "The initramfs holds busybox, the IPVS/bridge/veth modules, ipvsadm, iproute2, our %s\nand the scenario tests; inside, each machine of the seed tutorial is a network namespace on a bridge.\n\n",
		strings.Join(img.Commands, ", "))
	return &demoPrinter{w: w, img: img, t0: time.Now()}
}

func (p *demoPrinter) line(l string) {
	switch {
	case strings.HasPrefix(l, "LBTESTBED-BOOT"):
		fmt.Fprintf(p.w, "[vm %5.1fs] kernel up (%s); loading kernel modules\n", time.Since(p.t0).Seconds(), strings.TrimSpace(strings.TrimPrefix(l, "LBTESTBED-BOOT")))
	case strings.HasPrefix(l, "LBTESTBED-START"):
		fmt.Fprintf(p.w, "[vm %5.1fs] IPVS loaded; running the scenarios\n", time.Since(p.t0).Seconds())
	case strings.HasPrefix(l, "LBTESTBED-EXIT"):
		fmt.Fprintf(p.w, "\n[vm %5.1fs] done; powering off\n", time.Since(p.t0).Seconds())
	case topRunRE.MatchString(l):
		name := vm.ScenarioLabel(topRunRE.FindStringSubmatch(l)[1])
		fmt.Fprintf(p.w, "\n=== Scenario %s %s\n", name, strings.Repeat("=", max(0, 60-len(name))))
	case topEndRE.MatchString(l):
		m := topEndRE.FindStringSubmatch(l)
		verdict := map[string]string{"PASS": "PASSED", "FAIL": "FAILED", "SKIP": "SKIPPED"}[m[1]]
		fmt.Fprintf(p.w, "=== %s %s in %s\n", vm.ScenarioLabel(m[2]), verdict, m[3])
	case strings.HasPrefix(l, "==> "):
		fmt.Fprintf(p.w, "  %s\n", strings.TrimPrefix(l, "==> "))
	case strings.HasPrefix(l, "    | "):
		fmt.Fprintf(p.w, "        %s\n", strings.TrimPrefix(l, "    | "))
	case logRE.MatchString(l):
		fmt.Fprintf(p.w, "  !! %s\n", strings.TrimSpace(l))
	case strings.HasPrefix(l, "panic:") || strings.Contains(l, "insmod") && strings.Contains(l, "failed"):
		fmt.Fprintf(p.w, "  !! %s\n", l)
	}
}
