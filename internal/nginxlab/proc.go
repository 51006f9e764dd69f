package nginxlab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// Proc is a process the lab started in a namespace: nginx, lbd or
// keepalived. Its output is kept for the logs.
type Proc struct {
	Name string

	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Wait's, once done is closed
	out    lineLog
}

// startProc starts bin with args in ns. group puts it in a process group
// of its own (so that its children can be killed with it). onLine, when
// not nil, is called with each line the process prints and when it was read.
func startProc(ns *netnslab.Namespace, name string, group bool, onLine func(string, time.Time), bin string, args ...string) (*Proc, error) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proc{Name: name, cancel: cancel, done: make(chan struct{})}
	p.out.onLine = onLine
	p.cmd = ns.Command(ctx, bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: group}
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGKILL) }
	if err := p.cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process's id (nsenter execs the program in place).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits at most limit for the process to end.
func (p *Proc) Wait(limit time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("%s (pid %d) still running after %v", p.Name, p.Pid(), limit)
	}
}

// Stop sends SIGTERM and waits at most limit, then kills it. It returns
// an error when the process had to be killed or had already failed.
func (p *Proc) Stop(limit time.Duration) error {
	if p.Exited() {
		return p.exitErr()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.Wait(limit); err != nil {
		p.Kill()
		return fmt.Errorf("%w; killed", err)
	}
	return p.exitErr()
}

func (p *Proc) exitErr() error {
	if p.err != nil {
		return fmt.Errorf("%s: %w", p.Name, p.err)
	}
	return nil
}

// Kill kills the process (and its group, when it has one) and waits for it.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	if p.cmd.SysProcAttr.Setpgid {
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	}
	p.cancel()
	<-p.done
}

// Output is what the process printed so far.
func (p *Proc) Output() string { return p.out.String() }

// lineLog keeps what a process prints (its two pipes write concurrently)
// and hands each complete line to onLine.
type lineLog struct {
	mu      sync.Mutex
	b       bytes.Buffer
	partial []byte
	onLine  func(string, time.Time)
}

func (l *lineLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if l.onLine == nil {
		return len(p), nil
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.onLine(string(l.partial[:i]), now)
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
