package netnslab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// LogBuffer is an in-memory log that a process's stdout and stderr may
// write while others read it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Daemon is a long-running process started in a namespace: in its own
// process group, so that Kill and Stop reach its children too, and killed
// if the starting process dies. Its stdout and stderr are kept in Log.
type Daemon struct {
	Name string
	Log  *LogBuffer
	cmd  *exec.Cmd
	done chan struct{}
}

// StartDaemon starts bin with args in n; name is how errors and logs
// call it.
func (n *Namespace) StartDaemon(name, bin string, args ...string) (*Daemon, error) {
	d := &Daemon{Name: name, Log: &LogBuffer{}, done: make(chan struct{})}
	d.cmd = n.Command(context.Background(), bin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.Log, d.Log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	return d, nil
}

// Pid is the daemon's process id (Command execs it, so it is the
// daemon's own).
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Exited reports whether the daemon has exited.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Terminate sends SIGTERM to the daemon itself, not its group (a daemon
// such as keepalived relays it to its children), and does not wait.
func (d *Daemon) Terminate() error { return d.cmd.Process.Signal(syscall.SIGTERM) }

// Kill sends SIGKILL to the daemon's process group and waits for it.
func (d *Daemon) Kill() {
	_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
}

// Stop ends the daemon: SIGTERM, then after grace SIGKILL to its group;
// it returns once the daemon has exited. A nil Daemon is a no-op.
func (d *Daemon) Stop(grace time.Duration) {
	if d == nil {
		return
	}
	if !d.Exited() {
		_ = d.Terminate()
	}
	select {
	case <-d.done:
	case <-time.After(grace):
	}
	d.Kill()
}
