//go:build testbed_guest

package scenarios

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// commandPath returns the path of a command in the VM (lbd, lbctl, lbrs).
func commandPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("the %s command is not in the image (%v): build the image with ./cmd/%s (E2E_CMDS must include it)", name, err, name)
	}
	return p
}

// daemon is one of our daemons ("lbd run", "lbrs run") running in a
// namespace, its output kept in log.
type daemon struct {
	what   string // "lbrs run on web1", for messages
	cmd    *exec.Cmd
	log    *netnslab.LogBuffer
	done   chan struct{}
	err    error     // Wait's result, once done is closed
	exitAt time.Time // when Wait returned, once done is closed
}

// startDaemon starts name with args in ns. At the end of the test a daemon
// still running gets SIGTERM (lbrs restores the node, lbd leaves VRRP), then
// SIGKILL if it does not exit within 10 s; its log is shown when the test
// failed.
func startDaemon(t *testing.T, ns *netnslab.Namespace, what, name string, args ...string) *daemon {
	t.Helper()
	d := &daemon{what: what, log: &netnslab.LogBuffer{}, done: make(chan struct{})}
	// Not t.Context(): it ends before the cleanups run, and its end would
	// SIGKILL the daemon before it could clean up.
	d.cmd = ns.Command(context.Background(), name, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	must(t, d.cmd.Start())
	go func() {
		d.err = d.cmd.Wait()
		d.exitAt = time.Now()
		close(d.done)
	}()
	t.Cleanup(func() {
		if !d.exited() {
			d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.done:
			case <-time.After(10 * time.Second):
				d.cmd.Process.Kill()
				<-d.done
				t.Errorf("%s ignored SIGTERM for 10 s; killed", d.what)
			}
		}
		if t.Failed() {
			t.Logf("log of %s (pid %d, %v):\n%s", d.what, d.cmd.Process.Pid, d.err, d.log.String())
		}
	})
	return d
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// requireComm fails the test unless the process started is comm itself:
// nsenter must have exec'd it, or signals would hit nsenter.
func (d *daemon) requireComm(t *testing.T, comm string) {
	t.Helper()
	got, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", d.cmd.Process.Pid))
	if err != nil || strings.TrimSpace(string(got)) != comm {
		t.Fatalf("process %d started for %s is %q (%v), not %s: nsenter did not exec it, signals would miss it", d.cmd.Process.Pid, d.what, got, err, comm)
	}
}

// stop sends sig and waits for the daemon to exit; it returns how long the
// exit took and the exit error.
func (d *daemon) stop(t *testing.T, sig syscall.Signal) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	must(t, d.cmd.Process.Signal(sig))
	select {
	case <-d.done:
		return time.Since(start), d.err
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not exit within 15 s of %v; log:\n%s", d.what, sig, d.log.String())
		return 0, nil
	}
}

// logLines returns the daemon's log lines holding every one of words.
func (d *daemon) logLines(words ...string) []string {
	var lines []string
	for _, l := range strings.Split(d.log.String(), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return linesWith(lines, words...)
}

// waitLog waits up to limit for the daemon to log at least one line holding
// every one of words (a change is logged just after it is made, so the
// kernel may show it first), and returns those lines.
func (d *daemon) waitLog(limit time.Duration, words ...string) []string {
	deadline := time.Now().Add(limit)
	for {
		lines := d.logLines(words...)
		if len(lines) > 0 || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(10 * time.Millisecond)
	}
}
