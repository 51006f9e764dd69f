// Command testbed builds and boots the real-kernel testbed VM (see
// e2e/README.md):
//
//	go run ./e2e/cmd/testbed demo              narrated run of the seed's LVS-DR scenarios
//	go run ./e2e/cmd/testbed run [-run RE] [-v] run scenarios, print verdicts
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
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lb/e2e/vm"
)

// demoRun selects the scenarios "make demo" shows.
const demoRun = "^TestScenario(SeedDR|SeedDRWithoutVIPOnLo)$"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: testbed <command> [flags]

commands:
  demo    boot the VM and run the demo scenarios with narrated output
  run     run scenarios (-run REGEXP, default all; -v prints every scenario's output)
  shell   boot the VM with an interactive shell on the console (exit powers off)
  build   build or reuse the initramfs and print what it holds

flags (after the command): -run REGEXP, -v, -timeout DURATION, -smp N, -mem MiB
environment: E2E_RUN E2E_TIMEOUT E2E_SMP E2E_MEM E2E_CMDS E2E_GZIP E2E_CACHE (see e2e/README.md)
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		usage(stderr)
		return 2
	}
	cmd := args[0]
	buildOpts, runOpts, err := vm.OptionsFromEnv()
	if err != nil {
		fmt.Fprintln(stderr, "testbed:", err)
		return 2
	}
	fs := flag.NewFlagSet("testbed "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&runOpts.Run, "run", runOpts.Run, "scenario regexp (guest -test.run)")
	verbose := fs.Bool("v", false, "print every scenario's output, not only failures")
	fs.DurationVar(&runOpts.Timeout, "timeout", runOpts.Timeout, "whole-VM timeout (default 10m)")
	fs.IntVar(&runOpts.CPUs, "smp", runOpts.CPUs, "guest vCPUs (default 1)")
	fs.IntVar(&runOpts.MemoryMB, "mem", runOpts.MemoryMB, "guest RAM in MiB (default 1024)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "testbed %s: unexpected arguments %v\n", cmd, fs.Args())
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "demo", "run", "shell", "build":
	default:
		fmt.Fprintf(stderr, "testbed: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}

	buildOpts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fmt.Fprintln(stdout, "testbed: building the initramfs (Go binaries, busybox, kernel modules, ipvsadm, iproute2)...")
	img, err := vm.Build(ctx, buildOpts)
	if err != nil {
		fmt.Fprintln(stderr, "testbed:", err)
		return 1
	}
	cached := "built"
	if img.Cached {
		cached = "cached"
	}
	fmt.Fprintf(stdout, "testbed: initramfs %s, %.1f MiB (%s in %s), kernel %s\n",
		img.Initrd, float64(img.Size)/(1<<20), cached, img.BuildTime.Round(10*time.Millisecond), img.Kernel.Version)

	switch cmd {
	case "build":
		printImage(stdout, img)
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
		return runScenarios(ctx, img, runOpts, stdout, stderr, newDemoPrinter(stdout, img), false)
	default:
		return runScenarios(ctx, img, runOpts, stdout, stderr, newVerdictPrinter(stdout, *verbose), !*verbose)
	}
}

func printImage(w io.Writer, img *vm.Image) {
	fmt.Fprintf(w, "  kernel:    %s (%s)\n", img.Kernel.Image, img.Kernel.Version)
	fmt.Fprintf(w, "  commands:  %s (in /usr/local/bin)\n", strings.Join(img.Commands, " "))
	fmt.Fprintf(w, "  scenarios: %s\n", vm.GuestTestPath)
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

func runScenarios(ctx context.Context, img *vm.Image, opts vm.RunOptions, stdout, stderr io.Writer, p printer, dumpFailures bool) int {
	names, err := vm.ListScenarios(ctx, img, opts.Run)
	if err != nil {
		fmt.Fprintln(stderr, "testbed:", err)
		return 1
	}
	if len(names) == 0 {
		fmt.Fprintf(stderr, "testbed: no scenario matches %q\n", opts.Run)
		return 1
	}
	opts.OnLine = p.line
	res, bootErr := vm.Boot(ctx, img, opts)
	if res == nil {
		fmt.Fprintln(stderr, "testbed:", bootErr)
		return 1
	}
	passed, failed := 0, 0
	fmt.Fprintln(stdout)
	for _, name := range names {
		sc, ok := res.Scenario(name)
		status := vm.StatusNotRun
		if ok {
			status = sc.Status
		}
		switch status {
		case vm.StatusPass, vm.StatusSkip:
			passed++
		default:
			failed++
			if dumpFailures && ok {
				fmt.Fprintf(stdout, "--- output of %s:\n%s\n", name, strings.Join(sc.Output, "\n"))
			}
		}
		fmt.Fprintf(stdout, "  %-9s %s (%s)\n", status, strings.TrimPrefix(name, "TestScenario"), sc.Elapsed.Round(10*time.Millisecond))
	}
	fmt.Fprintf(stdout, "\n%d scenario(s): %d passed, %d failed. VM %s (boot %s). Console log: %s\n",
		len(names), passed, failed, res.Duration.Round(10*time.Millisecond), res.BootTime.Round(10*time.Millisecond), res.LogPath)
	if bootErr != nil {
		fmt.Fprintf(stderr, "testbed: %v\n--- console tail:\n%s\n", bootErr, res.Tail(40))
		return 1
	}
	if failed > 0 || res.ExitCode != 0 {
		return 1
	}
	return 0
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
	topRunRE = regexp.MustCompile(`^=== RUN\s+(TestScenario[^/\s]*)$`)
	topEndRE = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (TestScenario[^/\s]*) \(([0-9.]+s)\)`)
	logRE    = regexp.MustCompile(`^\s+\S+\.go:\d+: `)
)

func (p *verdictPrinter) line(l string) {
	if p.verbose || topRunRE.MatchString(l) || topEndRE.MatchString(l) || strings.Contains(l, "LBTESTBED-BOOT") {
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
		name := strings.TrimPrefix(topRunRE.FindStringSubmatch(l)[1], "TestScenario")
		fmt.Fprintf(p.w, "\n=== Scenario %s %s\n", name, strings.Repeat("=", max(0, 60-len(name))))
	case topEndRE.MatchString(l):
		m := topEndRE.FindStringSubmatch(l)
		verdict := map[string]string{"PASS": "PASSED", "FAIL": "FAILED", "SKIP": "SKIPPED"}[m[1]]
		fmt.Fprintf(p.w, "=== %s %s in %s\n", strings.TrimPrefix(m[2], "TestScenario"), verdict, m[3])
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
