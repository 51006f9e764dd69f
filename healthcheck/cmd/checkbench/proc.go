package main

import (
	"math"
	"time"

	"github.com/lvsd/lb/internal/benchkit"
)

// measurement is one checker's figures over the window.
type measurement struct {
	name      string
	checks    int64 // completed checks (ours) or requests served (keepalived)
	served    int64 // requests the server answered in the window
	failures  int64
	window    time.Duration
	cpu       time.Duration
	serverCPU time.Duration
	wait      time.Duration       // on the run queue, all threads
	sleeps    int64               // voluntary context switches, all threads
	steady    benchkit.Steadiness // reached before the window, or not
}

func (m measurement) perSecond() float64 { return float64(m.checks) / m.window.Seconds() }

// cpuPer10k is +Inf for a checker that completed no check in the window:
// whatever it spent bought nothing.
func (m measurement) cpuPer10k() float64 {
	if m.checks == 0 {
		return math.Inf(1)
	}
	return m.cpu.Seconds() / float64(m.checks) * 10000
}

// sleepsPerCheck is NaN for a checker that completed no check.
func (m measurement) sleepsPerCheck() float64 {
	if m.checks == 0 {
		return math.NaN()
	}
	return float64(m.sleeps) / float64(m.checks)
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
	sleeps                   int64
}

func takeSample(srv *benchkit.Server, p probe) (sample, error) {
	s := sample{at: time.Now(), wait: benchkit.RunQueueWait(p.pid), sleeps: benchkit.Sleeps(p.pid)}
	var err error
	if s.cpu, err = p.cpu(); err != nil {
		return s, err
	}
	if s.checks, s.failures, err = p.counts(); err != nil {
		return s, err
	}
	if s.served, err = srv.Served(); err != nil {
		return s, err
	}
	s.serverCPU, _ = benchkit.ProcCPU(srv.Pid())
	return s, nil
}

// measureWindow samples the checker and the server, waits window, samples
// again and fills m with the differences. A window in which no check
// completed is a result (a checker that does not keep up at all), not an
// error.
func measureWindow(m measurement, srv *benchkit.Server, window time.Duration, p probe) (measurement, error) {
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
	m.sleeps = s1.sleeps - s0.sleeps
	m.checks, m.failures, m.served = s1.checks-s0.checks, s1.failures-s0.failures, s1.served-s0.served
	return m, nil
}
