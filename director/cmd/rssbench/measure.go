package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lb/internal/benchkit"
)

// side is one running daemon: lbd, or keepalived and its children.
type side struct {
	name string
	cmd  *exec.Cmd
	log  string // its output's file
	done chan struct{}
	// procs are the processes whose memory and CPU are summed: lbd's
	// one, keepalived's parent, checker and VRRP child.
	procs func() []int
}

func startSide(name string, cmd *exec.Cmd, logPath string) (*side, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &side{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	pid := cmd.Process.Pid
	s.procs = func() []int { return append([]int{pid}, benchkit.Children(pid)...) }
	go func() { _ = cmd.Wait(); close(s.done) }()
	return s, nil
}

func (s *side) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL to the group after 15 s.
func (s *side) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

func (s *side) logTail(n int) string {
	b, _ := os.ReadFile(s.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// lbdName is lbd's side.
const lbdName = "lbd (director/daemon on the fake kernel)"

// figures are one side's measurement.
type figures struct {
	name      string
	steady    benchkit.Steadiness
	procs     int
	rssMedian int64 // summed VmRSS, median of the window's samples
	rssMax    int64 // summed VmRSS, largest sample
	peak      int64 // summed VmHWM at the end (each process's own peak)
	cpu       time.Duration
	window    time.Duration
	checks    int64 // answered by the server in the window
}

func (f figures) cores() float64     { return f.cpu.Seconds() / f.window.Seconds() }
func (f figures) perSecond() float64 { return float64(f.checks) / f.window.Seconds() }
func (f figures) cpuPer10k() float64 {
	if f.checks == 0 {
		return 0
	}
	return f.cpu.Seconds() / float64(f.checks) * 10000
}

// sampleProcs sums memory and CPU over pids.
func sampleProcs(pids []int) (rss, peak int64, cpu time.Duration, err error) {
	for _, p := range pids {
		m, err := benchkit.ProcMemory(p)
		if err != nil {
			return 0, 0, 0, err
		}
		c, err := benchkit.ProcCPU(p)
		if err != nil {
			return 0, 0, 0, err
		}
		rss, peak, cpu = rss+m.RSS, peak+m.Peak, cpu+c
	}
	return rss, peak, cpu, nil
}

// measure waits for s's steady state, then samples it every second over
// the window.
func measure(s *side, srv *benchkit.Server, o options) (figures, error) {
	f := figures{name: s.name}
	want := float64(o.services*o.reals) / o.interval.Seconds()
	var err error
	f.steady, err = benchkit.WaitSteady(srv.Served, benchkit.SteadyRule{Want: want, Frac: 0.95, Need: 3, MaxWait: o.steadyWait})
	if err != nil {
		return f, err
	}
	if s.exited() {
		return f, fmt.Errorf("%s exited: %s", s.name, s.logTail(5))
	}
	pids := s.procs()
	f.procs = len(pids)
	_, _, cpu0, err := sampleProcs(pids)
	if err != nil {
		return f, err
	}
	served0, err := srv.Served()
	if err != nil {
		return f, err
	}
	t0 := time.Now()
	var rss []int64
	for time.Since(t0) < o.window {
		time.Sleep(time.Second)
		r, _, _, err := sampleProcs(pids)
		if err != nil {
			return f, fmt.Errorf("%s: %w: %s", s.name, err, s.logTail(5))
		}
		rss = append(rss, r)
	}
	_, peak, cpu1, err := sampleProcs(pids)
	if err != nil {
		return f, err
	}
	served1, err := srv.Served()
	if err != nil {
		return f, err
	}
	f.window, f.cpu, f.checks, f.peak = time.Since(t0), cpu1-cpu0, served1-served0, peak
	slices.Sort(rss)
	f.rssMedian, f.rssMax = rss[len(rss)/2], rss[len(rss)-1]
	return f, nil
}

// startLbd starts "rssbench -lbd lbd.yaml" (lbd's daemon on the fake
// kernel) in dir.
func startLbd(o options, srv *benchkit.Server, dir string) (*side, error) {
	conf := filepath.Join(dir, "lbd.yaml")
	text := lbdConfig(o, srv.Port, dir)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, fmt.Errorf("write lbd.yaml: %w", err)
	}
	fmt.Printf("lbd.yaml: %d services x %d real servers, %d bytes\n", o.services, o.reals, len(text))
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, lbdArg, conf)
	cmd.Env = os.Environ()
	if o.noMemoryPolicy {
		cmd.Env = append(cmd.Env, noPolicyEnv+"=1")
	}
	if o.heapProfile != "" {
		abs, err := filepath.Abs(o.heapProfile)
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, heapEnv+"="+abs)
	}
	return startSide(lbdName, cmd, filepath.Join(dir, "lbd.log"))
}

// startKeepalived starts keepalived (parent, checker, VRRP) under the IPVS
// shim in dir.
func startKeepalived(o options, srv *benchkit.Server, dir string) (*side, error) {
	if _, err := os.Stat(o.keepalived); err != nil {
		return nil, fmt.Errorf("no keepalived binary: %w", err)
	}
	shim, err := benchkit.BuildShim(dir)
	if err != nil {
		return nil, fmt.Errorf("keepalived needs IPVS, which this kernel lacks, and the stand-in shim could not be built (make bench-rss installs gcc): %w", err)
	}
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(keepalivedConfig(o, srv.Port)), 0o600); err != nil {
		return nil, fmt.Errorf("write keepalived.conf: %w", err)
	}
	cmd := exec.Command(o.keepalived, "-n", "-l", "-D", "-f", conf, "-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid"))
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+shim)
	out, _ := exec.Command(o.keepalived, "--version").CombinedOutput()
	version, _, _ := strings.Cut(string(out), "\n")
	return startSide(strings.TrimSpace(version)+" (parent + checker + VRRP, IPVS calls stubbed by the LD_PRELOAD shim)", cmd, filepath.Join(dir, "keepalived.log"))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
