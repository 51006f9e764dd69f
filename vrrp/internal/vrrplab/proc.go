package vrrplab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lb/vrrp"
)

// Config is vrrpd's configuration file.
type Config struct {
	Instances  []vrrp.Config
	Scripts    []vrrp.ScriptConfig
	SyncGroups []vrrp.SyncGroupConfig
	// Tracked processes and files.
	TrackProcesses []vrrp.ProcessConfig
	TrackFiles     []vrrp.FileConfig
}

// StateEvent is a transition a process reported.
type StateEvent struct {
	Instance string
	State    vrrp.State
	At       time.Time // when we read it
	// Due is the transition's own time, for vrrpd: the event that caused
	// it (a timer's due time, a packet's receive time). Zero for
	// keepalived.
	Due time.Time
}

// Heard is a datagram vrrpd's reader handed to its router (Lab.RecordHeard).
type Heard struct {
	Src netip.Addr
	At  time.Time // its receive time (the kernel's)
	// Queued is when the reader came back for the next datagram: the
	// router had this one queued by then (zero: not yet).
	Queued time.Time
}

// Announce is a burst of gratuitous ARPs vrrpd's router asked for
// (Lab.RecordHeard).
type Announce struct {
	Device string
	Addrs  []netip.Addr
	Repeat int
	At     time.Time // when the router asked
}

// statsLine is vrrpd's answer to SIGUSR1.
type statsLine struct {
	stats     vrrp.Stats
	heard     []Heard
	announced []Announce
}

// Proc is a running VRRP speaker: vrrpd, lbd or keepalived.
type Proc struct {
	Name       string
	Keepalived bool
	lbd        bool // lbd run (StartLbd): transitions from its JSON log

	cmd    *exec.Cmd
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	history []StateEvent
	current map[string]vrrp.State
	changed chan struct{}
	log     bytes.Buffer
	stats   chan statsLine
}

func newProc(name string, ka bool) *Proc {
	return &Proc{Name: name, Keepalived: ka, done: make(chan struct{}), current: map[string]vrrp.State{},
		changed: make(chan struct{}), stats: make(chan statsLine, 1)}
}

// StartOurs runs vrrpd with cfg on host h.
func (l *Lab) StartOurs(h *Host, name string, cfg Config) (*Proc, error) {
	path, err := l.writeFile(name+".json", cfg)
	if err != nil {
		return nil, err
	}
	p := newProc(name, false)
	args := []string{"-config", path, "-log-level", "debug"}
	if l.RecordHeard {
		args = append(args, "-record-heard")
	}
	return p, p.start(h, l.Wrap, l.Vrrpd, args...)
}

// StartKeepalived runs keepalived VRRP-only with conf on host h.
func (l *Lab) StartKeepalived(h *Host, name, conf string) (*Proc, error) {
	path, err := l.writeFile(name+".conf", conf)
	if err != nil {
		return nil, err
	}
	p := newProc(name, true)
	return p, p.start(h, l.Wrap, "/usr/sbin/keepalived", "-P", "-n", "-l", "-D", "-f", path,
		"-p", path+".pid", "-r", path+".vrrp.pid")
}

func (p *Proc) start(h *Host, wrap []string, bin string, args ...string) error {
	if len(wrap) > 0 {
		args = append(append(append([]string(nil), wrap[1:]...), bin), args...)
		bin = wrap[0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.cmd = h.NS.Command(ctx, bin, args...)
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(syscall.SIGKILL) }
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := p.cmd.Start(); err != nil {
		cancel()
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.scan(stdout) }()
	go func() { defer wg.Done(); p.scan(stderr) }()
	go func() {
		wg.Wait()
		p.cmd.Wait()
		close(p.done)
	}()
	return nil
}

var kaState = regexp.MustCompile(`\(([^)]+)\) Entering (MASTER|BACKUP|FAULT) STATE`)

func (p *Proc) scan(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		now := time.Now()
		p.mu.Lock()
		p.log.WriteString(line + "\n")
		p.mu.Unlock()
		if p.Keepalived {
			if m := kaState.FindStringSubmatch(line); m != nil {
				var s vrrp.State
				s.UnmarshalText([]byte(m[2]))
				p.record(StateEvent{Instance: m[1], State: s, At: now})
			}
			continue
		}
		if !strings.HasPrefix(line, "{") {
			continue
		}
		if p.lbd {
			var t lbdTransition
			if json.Unmarshal([]byte(line), &t) == nil && t.Msg == "vrrp transition" {
				var s vrrp.State
				if s.UnmarshalText([]byte(t.To)) == nil {
					p.record(StateEvent{Instance: t.Instance, State: s, At: now})
				}
			}
			continue
		}
		var l struct {
			Event     string
			Change    *vrrp.StateChange
			Stats     *vrrp.Stats
			Heard     []Heard
			Announced []Announce
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		switch {
		case l.Change != nil:
			p.record(StateEvent{Instance: l.Change.Instance, State: l.Change.To, At: now, Due: l.Change.At})
		case l.Stats != nil:
			select {
			case p.stats <- statsLine{*l.Stats, l.Heard, l.Announced}:
			default:
			}
		}
	}
}

func (p *Proc) record(e StateEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.history = append(p.history, e)
	p.current[e.Instance] = e.State
	close(p.changed)
	p.changed = make(chan struct{})
}

// State returns the instance's last reported state (StateInit if none).
func (p *Proc) State(instance string) vrrp.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current[instance]
}

// History returns every transition reported so far.
func (p *Proc) History() []StateEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]StateEvent(nil), p.history...)
}

// Log returns what the process printed.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// WaitState waits until the instance's state is s.
func (p *Proc) WaitState(instance string, s vrrp.State, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		cur, ch := p.current[instance], p.changed
		p.mu.Unlock()
		if cur == s {
			return nil
		}
		select {
		case <-ch:
		case <-p.done:
			return fmt.Errorf("%s exited while %s was %v, waiting for %v", p.Name, instance, cur, s)
		case <-deadline:
			return fmt.Errorf("%s: %s is %v after %v, want %v", p.Name, instance, cur, timeout, s)
		}
	}
}

// Stats asks vrrpd for its counters (SIGUSR1).
func (p *Proc) Stats() (vrrp.Stats, error) {
	l, err := p.statsLine()
	return l.stats, err
}

// Heard returns the datagrams from src vrrpd's readers handed to its
// router so far (Lab.RecordHeard must be set).
func (p *Proc) Heard(src netip.Addr) ([]Heard, error) {
	l, err := p.statsLine()
	if err != nil {
		return nil, err
	}
	var out []Heard
	for _, h := range l.heard {
		if h.Src == src {
			out = append(out, h)
		}
	}
	return out, nil
}

// Announced returns the gratuitous ARP bursts vrrpd's router asked for so
// far, in order (Lab.RecordHeard must be set).
func (p *Proc) Announced() ([]Announce, error) {
	l, err := p.statsLine()
	return l.announced, err
}

func (p *Proc) statsLine() (statsLine, error) {
	if p.Keepalived || p.lbd {
		return statsLine{}, fmt.Errorf("%s is not vrrpd", p.Name)
	}
	select {
	case <-p.stats:
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return statsLine{}, fmt.Errorf("signalling %s: %w", p.Name, err)
	}
	select {
	case s := <-p.stats:
		return s, nil
	case <-time.After(5 * time.Second):
		return statsLine{}, fmt.Errorf("%s did not print its stats", p.Name)
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop stops the process gracefully (SIGTERM) and waits for it, killing it
// after timeout.
func (p *Proc) Stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping %s: %w", p.Name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		p.cancel()
		<-p.done
		return fmt.Errorf("%s did not stop within %v", p.Name, timeout)
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Kill kills the process at once and waits for it.
func (p *Proc) Kill() {
	p.cancel()
	<-p.done
}
