package vm

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Mode is what the guest's /init does after loading modules.
type Mode string

// Guest modes.
const (
	ModeTest    Mode = "test"  // run the guest packages' tests, then power off
	ModeShell   Mode = "shell" // an interactive shell on the console, power off on exit
	ModeCommand Mode = "cmd"   // run RunOptions.Command with sh -c, then power off
)

// RunOptions configure one boot.
type RunOptions struct {
	Mode Mode // default ModeTest
	// Run is a go test -run pattern for the guests' top-level tests
	// ("SeedDR", "^TestScenarioSeedDR$/sub", "RoundTrip|Sysctl"): in every
	// selected package it picks among the tests of the testbed_guest files.
	// Default: all of them.
	Run string
	// Packages are the guest packages to run, by Name or package path
	// ("scenarios", "director_kernel", "./director/kernel"). Default: all.
	Packages []string
	// Command is the shell command ModeCommand runs (sh -c) in /tmp; its
	// status is the run's ExitCode. Its base64 must fit on the kernel
	// command line (about 1,500 characters of command).
	Command string
	// Env adds variables to the guest's environment (through the kernel
	// command line): names must start with E2E_, values must not hold
	// spaces or quotes.
	Env map[string]string
	// Timeout bounds the whole VM, boot included; qemu is killed when it
	// passes. Default 10 minutes. The guest packages get -test.timeout of
	// what is left of it less 30 s, so a hung test panics with a goroutine
	// dump before the host kills the VM.
	Timeout time.Duration
	// MemoryMB is the guest RAM (default 1024; the initramfs lives in it).
	MemoryMB int
	// CPUs is the number of vCPUs (default 1).
	CPUs int
	// HostNet gives the guest a NIC on qemu's user network (slirp): the
	// guest's root namespace gets eth0 10.0.2.15/24, with no default route,
	// and reaches the host's loopback services as HostFromGuest (10.0.2.2),
	// e.g. the ZooKeeper ensemble of the ZooKeeper scenarios. Off: no NIC.
	HostNet bool
	// OnLine, when set, receives each console line as it arrives
	// (carriage returns and terminal escapes removed).
	OnLine func(line string)
	// LogPath is where the console log is kept. Default
	// <cache>/runs/<time>-<mode>.log (the newest 20 are kept).
	LogPath string
}

// Result is what a boot produced.
type Result struct {
	Tests    []TestResult    // in the order the guest ran them
	Packages []PackageResult // the guest packages that started, in order
	// ExitCode is the guest run's exit status (ModeTest: 0 when every
	// package passed; ModeCommand: the command's), -1 when /init never
	// reported one (the VM died, hung or was killed).
	ExitCode int
	LogPath  string   // the full console log
	Lines    []string // the same, in memory
	BootTime time.Duration
	Duration time.Duration
	Cmdline  string // the kernel command line used
}

// Test returns the result of the test called name in the guest package pkg.
func (r *Result) Test(pkg, name string) (TestResult, bool) {
	for _, s := range r.Tests {
		if s.Package == pkg && s.Name == name {
			return s, true
		}
	}
	return TestResult{}, false
}

// Package returns the result of the guest package called name.
func (r *Result) Package(name string) (PackageResult, bool) {
	for _, p := range r.Packages {
		if p.Name == name {
			return p, true
		}
	}
	return PackageResult{}, false
}

// Tail returns the last n console lines, joined.
func (r *Result) Tail(n int) string {
	lines := r.Lines
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var envNameRE = regexp.MustCompile(`^E2E_[A-Z0-9_]+$`)
var envValueRE = regexp.MustCompile(`^[A-Za-z0-9_.,:/+=@%^-]*$`)

// maxCmdline is x86's COMMAND_LINE_SIZE less the terminating NUL.
const maxCmdline = 2047

// guestVars are the E2E_* variables /init and the runner read for a boot.
func guestVars(opts RunOptions, guestTimeout time.Duration) (map[string]string, error) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	vars := map[string]string{"E2E_MODE": string(opts.Mode)}
	if opts.HostNet {
		vars["E2E_NET"] = "1"
	}
	switch opts.Mode {
	case ModeCommand:
		if strings.TrimSpace(opts.Command) == "" {
			return nil, errors.New("ModeCommand needs a command")
		}
		vars["E2E_CMD"] = b64(opts.Command)
	case ModeTest:
		parts := splitTestPattern(opts.Run)
		if parts[0] != "" {
			vars["E2E_RUN"] = b64(parts[0])
		}
		if len(parts) > 1 {
			vars["E2E_SUB"] = b64(strings.Join(parts[1:], "/"))
		}
		if len(opts.Packages) > 0 {
			vars["E2E_PKGS"] = strings.Join(opts.Packages, ",")
		}
		vars["E2E_TIMEOUT"] = strconv.Itoa(int(guestTimeout / time.Second))
	}
	return vars, nil
}

// kernelCmdline builds the kernel command line: REFERENCE.md's
// "console=ttyS0 quiet panic=-1" plus the E2E_* variables of the guest
// (vars, set by the testbed) and of the caller (env).
func kernelCmdline(vars, env map[string]string) (string, error) {
	all := map[string]string{}
	for k, v := range vars {
		all[k] = v
	}
	for k, v := range env {
		if !envNameRE.MatchString(k) {
			return "", fmt.Errorf("guest variable %q: names must match E2E_[A-Z0-9_]+", k)
		}
		if !envValueRE.MatchString(v) {
			return "", fmt.Errorf("guest variable %s=%q: values may not hold spaces or quotes", k, v)
		}
		if _, ok := testbedVars[k]; ok {
			return "", fmt.Errorf("guest variable %s is set by the testbed itself", k)
		}
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k, v := range all {
		if !envValueRE.MatchString(v) {
			return "", fmt.Errorf("guest variable %s=%q: values may not hold spaces or quotes", k, v)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{"console=ttyS0", "quiet", "panic=-1"}
	for _, k := range keys {
		parts = append(parts, k+"="+all[k])
	}
	cl := strings.Join(parts, " ")
	if len(cl) > maxCmdline {
		return "", fmt.Errorf("the kernel command line would be %d bytes, over the kernel's %d: shorten the run pattern or command", len(cl), maxCmdline)
	}
	return cl, nil
}

// testbedVars are the guest variables the testbed sets itself.
var testbedVars = map[string]bool{"E2E_NET": true, "E2E_MODE": true, "E2E_RUN": true, "E2E_SUB": true, "E2E_PKGS": true, "E2E_TIMEOUT": true, "E2E_CMD": true}

// qemuArgs is the qemu command line: TCG (a KVM boot hung on this kind of
// host), no NIC (or, with hostNet, a virtio NIC on qemu's user network),
// serial console on stdio.
func qemuArgs(img *Image, memMB, cpus int, hostNet bool, cmdline string) []string {
	nic := []string{"-nic", "none"}
	if hostNet {
		nic = hostNIC
	}
	args := append(append([]string{
		"-machine", "q35,accel=tcg",
		"-cpu", "max",
		"-m", fmt.Sprint(memMB),
		"-smp", fmt.Sprint(cpus),
		"-nographic",
		"-no-reboot",
	}, nic...),
		"-kernel", img.Kernel.Image,
		"-initrd", img.Initrd,
		"-append", cmdline,
	)
	if img.Disk != "" {
		// snapshot=on: the guest's writes go to a temporary file, the
		// cached disk image stays as built.
		args = append(args, "-drive", "file="+img.Disk+",if=virtio,format=raw,snapshot=on")
	}
	return args
}

// Boot starts qemu on img and, in ModeTest and ModeCommand, streams the
// console until the guest powers off, sorting ModeTest's output into test
// and package results. The error is non-nil when qemu could not run, the VM
// timed out, or the guest never reported the run's end (it died); the
// Result is filled in as far as the console went either way. A test
// failure is not an error: look at Outcomes(plan, result) or
// Result.ExitCode.
//
// In ModeShell the console is connected to this process's terminal.
func Boot(ctx context.Context, img *Image, opts RunOptions) (*Result, error) {
	opts = withDefaults(opts)
	qemu, err := lookTool("qemu-system-x86_64")
	if err != nil {
		return nil, &MissingError{Items: []Missing{{What: "the program qemu-system-x86_64", Package: "qemu-system-x86"}}}
	}
	args, cmdline, err := bootArgs(img, &opts)
	if err != nil {
		return nil, err
	}
	res := &Result{ExitCode: -1, Cmdline: cmdline}
	if opts.Mode == ModeShell {
		return res, bootShell(ctx, qemu, args, opts.Timeout, res)
	}
	logw, closeLog, err := openConsoleLog(img, &opts, qemu, args)
	if err != nil {
		return nil, err
	}
	defer closeLog()
	res.LogPath = opts.LogPath

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("console pipe: %w", err)
	}
	defer pr.Close()
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("starting qemu: %w", err)
	}
	pw.Close()
	p := streamConsole(pr, start, logw, opts.OnLine, res)
	werr := cmd.Wait()
	res.Duration = time.Since(start)
	res.Tests, res.Packages = p.snapshot()
	res.ExitCode = p.exitCode
	return res, bootError(ctx, p, werr, opts.Timeout, res.LogPath)
}

// withDefaults fills RunOptions' defaults: ModeTest, 10 minutes, 1024 MiB,
// one vCPU.
func withDefaults(opts RunOptions) RunOptions {
	if opts.Mode == "" {
		opts.Mode = ModeTest
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Minute
	}
	if opts.MemoryMB <= 0 {
		opts.MemoryMB = 1024
	}
	if opts.CPUs <= 0 {
		opts.CPUs = 1
	}
	return opts
}

// bootArgs returns qemu's arguments and the kernel command line for a
// boot with opts, whose Packages it turns into guest Names (the guest
// knows packages by Name only).
func bootArgs(img *Image, opts *RunOptions) (args []string, cmdline string, err error) {
	guestTimeout := max(opts.Timeout-30*time.Second, 30*time.Second).Truncate(time.Second)
	if len(opts.Packages) > 0 {
		sel, err := selectGuests(img.Guests, opts.Packages)
		if err != nil {
			return nil, "", err
		}
		opts.Packages = nil
		for _, g := range sel {
			opts.Packages = append(opts.Packages, g.Name)
		}
	}
	vars, err := guestVars(*opts, guestTimeout)
	if err != nil {
		return nil, "", err
	}
	if cmdline, err = kernelCmdline(vars, opts.Env); err != nil {
		return nil, "", err
	}
	return qemuArgs(img, opts.MemoryMB, opts.CPUs, opts.HostNet, cmdline), cmdline, nil
}

// bootShell runs qemu with the console on this process's terminal.
func bootShell(ctx context.Context, qemu string, args []string, timeout time.Duration, res *Result) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	res.Duration = time.Since(start)
	if err != nil {
		return fmt.Errorf("qemu: %w", err)
	}
	return nil
}

// openConsoleLog creates the console log (opts.LogPath, by default a new
// file under the cache's runs/, keeping the newest 20) headed by the qemu
// command, and returns its writer and what closes it. Without a log path
// and cache the writer discards.
func openConsoleLog(img *Image, opts *RunOptions, qemu string, args []string) (io.Writer, func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if opts.LogPath == "" && img.CacheDir != "" {
		runs := filepath.Join(img.CacheDir, "runs")
		if err := os.MkdirAll(runs, 0o755); err != nil {
			return nil, nil, fmt.Errorf("creating %s: %w", runs, err)
		}
		opts.LogPath = filepath.Join(runs, time.Now().Format("20060102-150405.000")+"-"+string(opts.Mode)+".log")
		closers = append(closers, func() { pruneOld(filepath.Join(runs, "*.log"), 20) })
	}
	if opts.LogPath == "" {
		return io.Discard, closeAll, nil
	}
	f, err := os.Create(opts.LogPath)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the console log: %w", err)
	}
	bw := bufio.NewWriter(f)
	closers = append(closers, func() { f.Close() }, func() { bw.Flush() })
	fmt.Fprintf(bw, "# %s %s\n# each line: seconds since qemu started, console line\n", qemu, shellQuote(args))
	return bw, closeAll, nil
}

// streamConsole reads the console until qemu closes it: each line goes to
// the log (with the seconds since start), to the parser and to onLine.
// It records the boot time (the guest's start marker) in res.
func streamConsole(r io.Reader, start time.Time, logw io.Writer, onLine func(string), res *Result) *consoleParser {
	p := newConsoleParser()
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		raw, rerr := br.ReadString('\n')
		if raw != "" {
			line := cleanLine(raw)
			res.Lines = append(res.Lines, line)
			fmt.Fprintf(logw, "%8.3f %s\n", time.Since(start).Seconds(), line)
			wasStarted := p.started
			p.feed(line)
			if p.started && !wasStarted {
				res.BootTime = time.Since(start)
			}
			if onLine != nil {
				onLine(line)
			}
		}
		if rerr != nil {
			return p
		}
	}
}

// bootError says why a run did not end as it should: the VM timed out or
// was stopped, the guest never reported its end, or qemu failed after it.
func bootError(ctx context.Context, p *consoleParser, werr error, timeout time.Duration, logPath string) error {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("the VM did not finish within %s and was killed (console log %s)", timeout, logPath)
	case ctx.Err() != nil:
		return fmt.Errorf("the VM was stopped: %w", ctx.Err())
	case !p.exited:
		return fmt.Errorf("the VM stopped before the guest reported the end of the run (qemu: %v; console log %s)", werr, logPath)
	case werr != nil:
		return fmt.Errorf("qemu exited with an error after the run: %w", werr)
	}
	return nil
}

// shellQuote joins args into a POSIX shell command line, single-quoting
// every word that is not plainly safe.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if safeWordRE.MatchString(a) {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

var safeWordRE = regexp.MustCompile(`^[A-Za-z0-9_.,:/+=@%-]+$`)
