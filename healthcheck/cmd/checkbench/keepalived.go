package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/benchkit"
)

// measureKeepalived runs `keepalived -C` (checkers only) on the same
// targets and measures its checker child: requests served per second and
// its CPU time from /proc. Any error means the peer was not measured.
func measureKeepalived(srv *benchkit.Server, o options, n int) (measurement, error) {
	bin := o.keepalived
	m := measurement{name: "keepalived " + version(bin) + " (-C, HTTP_GET, IPVS calls stubbed by LD_PRELOAD shim)"}
	if _, err := os.Stat(bin); err != nil {
		return m, fmt.Errorf("no keepalived binary: %w", err)
	}
	crossCheckDigest(bin, srv.Port)
	dir, err := os.MkdirTemp("", "checkbench-ka-")
	if err != nil {
		return m, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	conf, shim, err := prepareKeepalived(srv, o, n, dir)
	if err != nil {
		return m, err
	}
	ka, err := startKeepalived(bin, dir, conf, shim)
	if err != nil {
		return m, err
	}
	defer ka.stop()
	cpid, activated, err := ka.waitActivated(n, max(60*time.Second, o.steadyWait))
	if err != nil {
		return m, err
	}
	took := time.Since(ka.started).Round(time.Millisecond)
	if !activated {
		fmt.Printf("keepalived: checker process %d had NOT activated its %d checkers after %v\n", cpid, n, took)
		m.steady = benchkit.Steadiness{After: took, Inactive: true}
	} else {
		fmt.Printf("keepalived: checker process %d activated %d checkers in %v\n", cpid, n, took)
		if m.steady, err = benchkit.WaitSteady(srv.Served, o.rule(n)); err != nil {
			return m, err
		}
		if m.steady.Steady {
			time.Sleep(o.warm)
		}
	}
	m.steady.Activation = took
	m, err = measureWindow(m, srv, o.window, probe{
		pid: cpid,
		cpu: func() (time.Duration, error) { return benchkit.ProcCPU(cpid) },
		counts: func() (int64, int64, error) {
			served, err := srv.Served()
			return served, ka.failures(), err
		},
	})
	if err != nil {
		return m, fmt.Errorf("%w; keepalived's log ends: %s", err, lastLines(ka.logText(), 3))
	}
	return m, nil
}

// prepareKeepalived writes keepalived's configuration for the n servers
// and builds the shim, after showing why keepalived cannot run bare here.
// It returns the configuration's and the shim's paths.
func prepareKeepalived(srv *benchkit.Server, o options, n int, dir string) (conf, shim string, err error) {
	// Without the shim keepalived's checker exits at once; show why.
	small := filepath.Join(dir, "small.conf")
	if err := os.WriteFile(small, keepalivedConf(srv.Port, 1, o.interval), 0o600); err != nil {
		return "", "", fmt.Errorf("write config: %w", err)
	}
	if why := bareRun(o.keepalived, small, dir); why != "" {
		fmt.Printf("keepalived without IPVS: %s\n", why)
	}
	conf = filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, keepalivedConf(srv.Port, n, o.interval), 0o600); err != nil {
		return "", "", fmt.Errorf("write config: %w", err)
	}
	if shim, err = benchkit.BuildShim(dir); err != nil {
		return "", "", fmt.Errorf("keepalived's checker needs IPVS, which this kernel lacks, and the stand-in shim could not be built (make bench-check installs gcc): %w", err)
	}
	return conf, shim, nil
}

// kaProc is a running `keepalived -C` under the shim.
type kaProc struct {
	cmd      *exec.Cmd
	log      *os.File
	cpidFile string
	started  time.Time
}

func startKeepalived(bin, dir, conf, shim string) (*kaProc, error) {
	logFile, err := os.Create(filepath.Join(dir, "keepalived.log"))
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	ka := &kaProc{log: logFile, cpidFile: filepath.Join(dir, "checkers.pid")}
	ka.cmd = exec.Command(bin, "-C", "-n", "-l", "-f", conf, "-p", filepath.Join(dir, "keepalived.pid"), "-c", ka.cpidFile)
	ka.cmd.Env = append(os.Environ(), "LD_PRELOAD="+shim)
	ka.cmd.Stdout, ka.cmd.Stderr = logFile, logFile
	// Its own group (to stop it with its checker child), and gone if we die.
	ka.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	ka.started = time.Now()
	if err := ka.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start keepalived: %w", err)
	}
	return ka, nil
}

// stop ends keepalived and its checker child (SIGTERM, SIGKILL after 10s).
func (ka *kaProc) stop() {
	defer ka.log.Close()
	_ = syscall.Kill(-ka.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = ka.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-ka.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func (ka *kaProc) logText() string {
	b, _ := os.ReadFile(ka.log.Name())
	return string(b)
}

// failures counts the checks keepalived has logged as failed so far.
func (ka *kaProc) failures() int64 {
	return int64(strings.Count(ka.logText(), "failed after"))
}

// waitActivated waits (at most limit) for the checker child to have
// activated every checker: it logs one line per real server, then
// activates BFD last. It returns the child's pid and whether all were
// activated in time; an error when the child is not there at all.
func (ka *kaProc) waitActivated(n int, limit time.Duration) (int, bool, error) {
	var cpid int
	for deadline := time.Now().Add(limit); ; time.Sleep(200 * time.Millisecond) {
		if b, err := os.ReadFile(ka.cpidFile); err == nil && cpid == 0 {
			cpid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		logText := ka.logText()
		if cpid > 0 && (strings.Contains(logText, "Activating BFD healthchecker") ||
			strings.Count(logText, "Activating healthchecker") >= n) {
			return cpid, true, nil
		}
		if strings.Contains(logText, "exited with permanent error") {
			return 0, false, fmt.Errorf("keepalived's checker exited: %s", lastLines(logText, 3))
		}
		if time.Now().After(deadline) {
			if cpid > 0 {
				return cpid, false, nil
			}
			return 0, false, fmt.Errorf("keepalived's checker process did not start within %v: %s", limit, lastLines(logText, 3))
		}
	}
}

// crossCheckDigest compares healthcheck.GenHash with keepalived --genhash
// on the benchmark server.
func crossCheckDigest(bin string, port int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ours, err := healthcheck.GenHash(ctx, fmt.Sprintf("http://127.0.0.1:%d/", port), healthcheck.GenHashOptions{})
	if err != nil {
		fmt.Printf("digest cross-check: GenHash: %v\n", err)
		return
	}
	out, err := exec.CommandContext(ctx, bin, "--genhash", "-s", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "/").CombinedOutput()
	theirs := strings.TrimSpace(string(out))
	if err != nil {
		fmt.Printf("digest cross-check: keepalived --genhash: %v: %s\n", err, theirs)
		return
	}
	verdict := "equal"
	if theirs != ours.MD5 {
		verdict = "DIFFERENT"
	}
	fmt.Printf("digest cross-check: healthcheck.GenHash %s, keepalived --genhash %s: %s\n", ours.MD5, theirs, verdict)
}

func version(bin string) string {
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	if f := strings.Fields(line); len(f) >= 2 {
		return f[1]
	}
	return "?"
}

// bareRun starts keepalived's checker without the shim and returns why it
// stopped, if it did within 3s.
func bareRun(bin, conf, dir string) string {
	cmd := exec.Command(bin, "-C", "-n", "-l", "-f", conf, "-p", filepath.Join(dir, "bare.pid"), "-c", filepath.Join(dir, "bare-checkers.pid"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "cannot start: " + err.Error()
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return ""
	}
	var why []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "IPVS") || strings.Contains(l, "modprobe") || strings.Contains(l, "permanent error") {
			if i := strings.Index(l, "2026: "); i >= 0 {
				l = l[i+6:]
			}
			why = append(why, strings.TrimSpace(l))
		}
	}
	if len(why) == 0 {
		return "exited: " + lastLines(out.String(), 2)
	}
	return "exits: " + strings.Join(why, " | ")
}

// keepalivedConf is one virtual server with n real servers, each with the
// same HTTP_GET as ours.
func keepalivedConf(port, n int, interval time.Duration) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id checkbench\n}\n")
	fmt.Fprintf(&b, "virtual_server 10.255.255.1 %d {\n  delay_loop %g\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n", port, interval.Seconds())
	for i := range n {
		t := target(i, port)
		fmt.Fprintf(&b, "  real_server %s %d {\n    weight 1\n    HTTP_GET {\n      url {\n        path /\n        digest %s\n      }\n"+
			"      connect_timeout 2\n      retry 1\n      delay_before_retry 1\n    }\n  }\n", t.Addr(), port, digest())
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
