package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lb/healthcheck"
)

//go:embed shim/ipvs_shim.c
var shimSource []byte

// measureKeepalived runs `keepalived -C` (checkers only) on the same
// targets and measures its checker child: requests served per second and
// its CPU time from /proc.
func measureKeepalived(srv *server, bin string, n int, interval, window, warm time.Duration) (measurement, error) {
	m := measurement{name: "keepalived " + version(bin) + " (-C, HTTP_GET, IPVS calls stubbed by LD_PRELOAD shim)"}
	if _, err := os.Stat(bin); err != nil {
		return m, fmt.Errorf("no keepalived binary: %w", err)
	}
	crossCheckDigest(bin, srv.port)
	dir, err := os.MkdirTemp("", "checkbench-ka-")
	if err != nil {
		return m, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	// Without the shim keepalived's checker exits at once; show why.
	small := filepath.Join(dir, "small.conf")
	if err := os.WriteFile(small, keepalivedConf(srv.port, 1, interval), 0o600); err != nil {
		return m, fmt.Errorf("write config: %w", err)
	}
	if why := bareRun(bin, small, dir); why != "" {
		fmt.Printf("keepalived without IPVS: %s\n", why)
	}
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, keepalivedConf(srv.port, n, interval), 0o600); err != nil {
		return m, fmt.Errorf("write config: %w", err)
	}

	shim, err := buildShim(dir)
	if err != nil {
		return m, fmt.Errorf("keepalived's checker needs IPVS, which this kernel lacks, and the stand-in shim could not be built: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "keepalived.log"))
	if err != nil {
		return m, fmt.Errorf("log file: %w", err)
	}
	defer logFile.Close()
	cpidFile := filepath.Join(dir, "checkers.pid")
	cmd := exec.Command(bin, "-C", "-n", "-l", "-f", conf, "-p", filepath.Join(dir, "keepalived.pid"), "-c", cpidFile)
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+shim)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own group (to stop it with its checker child), and gone if we die.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return m, fmt.Errorf("start keepalived: %w", err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()

	// Wait for the checker child to have activated every checker (it
	// logs one line per real server, then activates BFD last).
	var cpid int
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if b, err := os.ReadFile(cpidFile); err == nil && cpid == 0 {
			cpid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		logText, _ := os.ReadFile(logFile.Name())
		if cpid > 0 && (strings.Contains(string(logText), "Activating BFD healthchecker") ||
			strings.Count(string(logText), "Activating healthchecker") >= n) {
			break
		}
		if strings.Contains(string(logText), "exited with permanent error") {
			return m, fmt.Errorf("keepalived's checker exited: %s", lastLines(string(logText), 3))
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("keepalived's checker did not activate its checkers within 60s: %s", lastLines(string(logText), 3))
		}
	}
	fmt.Printf("keepalived: checker process %d activated %d checkers in %v\n", cpid, n, time.Since(start).Round(time.Millisecond))
	time.Sleep(warm)
	// keepalived ramps up after activation: wait (at most 10s) until it
	// serves 95% of the scheduled rate over 2s, so the window is steady.
	want := float64(n) / interval.Seconds()
	prev, err := srv.served()
	if err != nil {
		return m, err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(2 * time.Second)
		cur, err := srv.served()
		if err != nil {
			return m, err
		}
		rate := float64(cur-prev) / 2
		prev = cur
		if rate >= 0.95*want {
			break
		}
	}

	w0 := runQueueWait(cpid)
	cpu0, err := procCPU(cpid)
	if err != nil {
		return m, err
	}
	srv0, err := srv.served()
	if err != nil {
		return m, err
	}
	scpu0, _ := procCPU(srv.cmd.Process.Pid)
	t0 := time.Now()
	time.Sleep(window)
	cpu1, err := procCPU(cpid)
	if err != nil {
		return m, err
	}
	srv1, err := srv.served()
	if err != nil {
		return m, err
	}
	scpu1, _ := procCPU(srv.cmd.Process.Pid)
	m.window = time.Since(t0)
	m.wait = runQueueWait(cpid) - w0
	m.cpu = cpu1 - cpu0
	m.serverCPU = scpu1 - scpu0
	m.served = srv1 - srv0
	m.checks = m.served
	logText, _ := os.ReadFile(logFile.Name())
	m.failures = int64(strings.Count(string(logText), "failed after"))
	return m, nil
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

func buildShim(dir string) (string, error) {
	src := filepath.Join(dir, "ipvs_shim.c")
	if err := os.WriteFile(src, shimSource, 0o600); err != nil {
		return "", fmt.Errorf("write shim source: %w", err)
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		if cc, err = exec.LookPath("gcc"); err != nil {
			return "", errors.New("no C compiler (cc/gcc) on PATH")
		}
	}
	so := filepath.Join(dir, "ipvs-shim.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-O2", "-o", so, src, "-ldl").CombinedOutput(); err != nil {
		return "", fmt.Errorf("cc: %w: %s", err, out)
	}
	return so, nil
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
