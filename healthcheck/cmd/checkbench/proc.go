package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is the child process running serve.
type server struct {
	cmd  *exec.Cmd
	in   *os.File
	out  *bufio.Scanner
	port int
}

func startServer() (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.Command(self, "-serve")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdout: %w", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &server{cmd: cmd, in: stdin.(*os.File), out: bufio.NewScanner(stdout)}
	if !s.out.Scan() {
		return nil, fmt.Errorf("server gave no port: %v", s.out.Err())
	}
	if _, err := fmt.Sscanf(s.out.Text(), "PORT %d", &s.port); err != nil {
		return nil, fmt.Errorf("server said %q: %w", s.out.Text(), err)
	}
	return s, nil
}

// served is the number of requests the server has answered.
func (s *server) served() (int64, error) {
	if _, err := fmt.Fprintln(s.in, "count"); err != nil {
		return 0, fmt.Errorf("ask server: %w", err)
	}
	if !s.out.Scan() {
		return 0, fmt.Errorf("server gone: %v", s.out.Err())
	}
	var n int64
	if _, err := fmt.Sscanf(s.out.Text(), "COUNT %d", &n); err != nil {
		return 0, fmt.Errorf("server said %q: %w", s.out.Text(), err)
	}
	return n, nil
}

func (s *server) stop() {
	_ = s.in.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is a process's user+system CPU time from /proc (clock ticks of
// 10ms, USER_HZ on Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse stat of %d", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("parse stat of %d: short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse stat of %d: bad times", pid)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// runQueueWait is the total time the threads of a process spent runnable
// but waiting for a CPU (/proc/PID/task/*/schedstat, second field): how
// much other load on the machine starved it.
func runQueueWait(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		if ns, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			total += time.Duration(ns)
		}
	}
	return total
}

// measurement is one checker's figures over the window.
type measurement struct {
	name      string
	checks    int64 // completed checks (ours) or requests served (keepalived)
	served    int64 // requests the server answered in the window
	failures  int64
	window    time.Duration
	cpu       time.Duration
	serverCPU time.Duration
	wait      time.Duration // on the run queue, all threads
}

func (m measurement) perSecond() float64 { return float64(m.checks) / m.window.Seconds() }

func (m measurement) cpuPer10k() float64 {
	if m.checks == 0 {
		return 0
	}
	return m.cpu.Seconds() / float64(m.checks) * 10000
}

func (m measurement) cores() float64 { return m.cpu.Seconds() / m.window.Seconds() }

// probe reads one checker's counters: its process (for the run-queue
// wait), its CPU time, and its completed checks and failures so far.
type probe struct {
	pid    int
	cpu    func() (time.Duration, error)
	counts func() (checks, failures int64, err error)
}

// sample is a probe's and the server's counters at one instant.
type sample struct {
	at                       time.Time
	cpu, serverCPU, wait     time.Duration
	checks, failures, served int64
}

func takeSample(srv *server, p probe) (sample, error) {
	s := sample{at: time.Now(), wait: runQueueWait(p.pid)}
	var err error
	if s.cpu, err = p.cpu(); err != nil {
		return s, err
	}
	if s.checks, s.failures, err = p.counts(); err != nil {
		return s, err
	}
	if s.served, err = srv.served(); err != nil {
		return s, err
	}
	s.serverCPU, _ = procCPU(srv.cmd.Process.Pid)
	return s, nil
}

// measureWindow samples the checker and the server, waits window, samples
// again and fills m with the differences. A window in which no check
// completed is an error: there is nothing to compare.
func measureWindow(m measurement, srv *server, window time.Duration, p probe) (measurement, error) {
	s0, err := takeSample(srv, p)
	if err != nil {
		return m, err
	}
	time.Sleep(window)
	s1, err := takeSample(srv, p)
	if err != nil {
		return m, err
	}
	m.window = s1.at.Sub(s0.at)
	m.cpu, m.serverCPU, m.wait = s1.cpu-s0.cpu, s1.serverCPU-s0.serverCPU, s1.wait-s0.wait
	m.checks, m.failures, m.served = s1.checks-s0.checks, s1.failures-s0.failures, s1.served-s0.served
	if m.checks == 0 {
		return m, fmt.Errorf("no check completed in the %v window (the server answered %d requests)", window, m.served)
	}
	return m, nil
}
