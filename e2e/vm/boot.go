package vm

import (
	"bufio"
	"bytes"
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
	"strings"
	"time"
)

// Mode is what the guest's /init does after loading modules.
type Mode string

// Guest modes.
const (
	ModeTest  Mode = "test"  // run the scenario test binary, then power off
	ModeShell Mode = "shell" // an interactive shell on the console, power off on exit
)

// RunOptions configure one boot.
type RunOptions struct {
	Mode Mode // default ModeTest
	// Run is the guest's -test.run regexp; default "^TestScenario".
	Run string
	// Env adds variables to the guest's environment (through the kernel
	// command line): names must start with E2E_, values must not hold
	// spaces or quotes.
	Env map[string]string
	// Timeout bounds the whole VM, boot included; qemu is killed when it
	// passes. Default 10 minutes. The guest test binary gets
	// -test.timeout 30 s shorter, so a hung scenario panics with a
	// goroutine dump before the host kills the VM.
	Timeout time.Duration
	// MemoryMB is the guest RAM (default 1024; the initramfs lives in it).
	MemoryMB int
	// CPUs is the number of vCPUs (default 1).
	CPUs int
	// OnLine, when set, receives each console line as it arrives
	// (carriage returns and terminal escapes removed).
	OnLine func(line string)
	// LogPath is where the console log is kept. Default
	// <cache>/runs/<time>-<mode>.log (the newest 20 are kept).
	LogPath string
}

// Result is what a boot produced.
type Result struct {
	Scenarios []ScenarioResult // in the order the guest ran them
	// ExitCode is the guest test binary's exit status, -1 when /init
	// never reported one (the VM died, hung or was killed).
	ExitCode int
	LogPath  string   // the full console log
	Lines    []string // the same, in memory
	BootTime time.Duration
	Duration time.Duration
	Cmdline  string // the kernel command line used
}

// Scenario returns the result of the scenario called name.
func (r *Result) Scenario(name string) (ScenarioResult, bool) {
	for _, s := range r.Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return ScenarioResult{}, false
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

// kernelCmdline builds the kernel command line: REFERENCE.md's
// "console=ttyS0 quiet panic=-1" plus the E2E_* variables /init reads.
func kernelCmdline(mode Mode, run string, guestTimeout time.Duration, env map[string]string) (string, error) {
	vars := map[string]string{
		"E2E_MODE":    string(mode),
		"E2E_RUN":     base64.StdEncoding.EncodeToString([]byte(run)),
		"E2E_TIMEOUT": guestTimeout.String(),
	}
	for k, v := range env {
		if !envNameRE.MatchString(k) {
			return "", fmt.Errorf("guest variable %q: names must match E2E_[A-Z0-9_]+", k)
		}
		if !envValueRE.MatchString(v) {
			return "", fmt.Errorf("guest variable %s=%q: values may not hold spaces or quotes", k, v)
		}
		if _, ok := vars[k]; ok {
			return "", fmt.Errorf("guest variable %s is set by the testbed itself", k)
		}
		vars[k] = v
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{"console=ttyS0", "quiet", "panic=-1"}
	for _, k := range keys {
		parts = append(parts, k+"="+vars[k])
	}
	return strings.Join(parts, " "), nil
}

// qemuArgs is the qemu command line: TCG (a KVM boot hung on this kind of
// host), no NIC, serial console on stdio.
func qemuArgs(img *Image, memMB, cpus int, cmdline string) []string {
	return []string{
		"-machine", "q35,accel=tcg",
		"-cpu", "max",
		"-m", fmt.Sprint(memMB),
		"-smp", fmt.Sprint(cpus),
		"-nographic",
		"-no-reboot",
		"-nic", "none",
		"-kernel", img.Kernel.Image,
		"-initrd", img.Initrd,
		"-append", cmdline,
	}
}

// Boot starts qemu on img and, in ModeTest, streams the console until the
// guest powers off, sorting the output into scenario results. The error is
// non-nil when qemu could not run, the VM timed out, or the guest never
// reported the test binary's exit (it died); the Result is filled in as far
// as the console went either way. A scenario failure is not an error: look
// at Result.Scenarios and Result.ExitCode.
//
// In ModeShell the console is connected to this process's terminal.
func Boot(ctx context.Context, img *Image, opts RunOptions) (*Result, error) {
	if opts.Mode == "" {
		opts.Mode = ModeTest
	}
	if opts.Run == "" {
		opts.Run = "^TestScenario"
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
	qemu, err := lookTool("qemu-system-x86_64")
	if err != nil {
		return nil, &MissingError{Items: []Missing{{What: "the program qemu-system-x86_64", Package: "qemu-system-x86"}}}
	}
	guestTimeout := max(opts.Timeout-30*time.Second, 30*time.Second).Truncate(time.Second)
	cmdline, err := kernelCmdline(opts.Mode, opts.Run, guestTimeout, opts.Env)
	if err != nil {
		return nil, err
	}
	res := &Result{ExitCode: -1, Cmdline: cmdline}
	args := qemuArgs(img, opts.MemoryMB, opts.CPUs, cmdline)

	if opts.Mode == ModeShell {
		ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, qemu, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		start := time.Now()
		err := cmd.Run()
		res.Duration = time.Since(start)
		if err != nil {
			return res, fmt.Errorf("qemu: %w", err)
		}
		return res, nil
	}

	if opts.LogPath == "" && img.CacheDir != "" {
		runs := filepath.Join(img.CacheDir, "runs")
		if err := os.MkdirAll(runs, 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", runs, err)
		}
		opts.LogPath = filepath.Join(runs, time.Now().Format("20060102-150405.000")+"-"+string(opts.Mode)+".log")
		defer pruneOld(filepath.Join(runs, "*.log"), 20)
	}
	var logw io.Writer = io.Discard
	if opts.LogPath != "" {
		f, err := os.Create(opts.LogPath)
		if err != nil {
			return nil, fmt.Errorf("creating the console log: %w", err)
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		logw = bw
		res.LogPath = opts.LogPath
		fmt.Fprintf(logw, "# %s %s\n# each line: seconds since qemu started, console line\n", qemu, shellQuote(args))
	}

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

	p := newConsoleParser()
	br := bufio.NewReaderSize(pr, 64*1024)
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
			if opts.OnLine != nil {
				opts.OnLine(line)
			}
		}
		if rerr != nil {
			break
		}
	}
	werr := cmd.Wait()
	res.Duration = time.Since(start)
	res.Scenarios = p.snapshot()
	res.ExitCode = p.exitCode
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return res, fmt.Errorf("the VM did not finish within %s and was killed (console log %s)", opts.Timeout, res.LogPath)
	case ctx.Err() != nil:
		return res, fmt.Errorf("the VM was stopped: %w", ctx.Err())
	case !p.exited:
		return res, fmt.Errorf("the VM stopped before the guest reported the end of the run (qemu: %v; console log %s)", werr, res.LogPath)
	case werr != nil:
		return res, fmt.Errorf("qemu exited with an error after the run: %w", werr)
	}
	return res, nil
}

func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}

// ListScenarios runs the guest test binary on the host with -test.list to
// learn which scenarios (top-level TestScenario* tests) a run pattern
// selects, without booting anything. The binary is static, so it runs here.
func ListScenarios(ctx context.Context, img *Image, run string) ([]string, error) {
	if run == "" {
		run = "^TestScenario"
	}
	top := splitTestPattern(run)[0]
	re, err := regexp.Compile(top)
	if err != nil {
		return nil, fmt.Errorf("scenario pattern %q: %w", run, err)
	}
	cmd := exec.CommandContext(ctx, img.GuestTest, "-test.list", "^TestScenario")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing scenarios with %s -test.list: %w: %s", img.GuestTest, err, strings.TrimSpace(stderr.String()))
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "TestScenario") && re.MatchString(l) {
			names = append(names, l)
		}
	}
	return names, nil
}
