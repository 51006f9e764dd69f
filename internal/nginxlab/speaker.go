package nginxlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/lvsd/lb/deploy/examples"
)

// Kind is the VRRP speaker moving the VIP.
type Kind string

// The two speakers.
const (
	LBD        Kind = "lbd"
	Keepalived Kind = "keepalived"
)

// Variant is how the pair is configured about preemption.
type Variant string

const (
	// Preempt is the seed's: d1 state MASTER priority 200 (preempts), d2
	// state BACKUP priority 100 with nopreempt. When d1's nginx is back, d1
	// takes the VIP back.
	Preempt Variant = "preempt"
	// NoPreempt is "the VIP stays where it is": both state BACKUP with
	// nopreempt, d1 priority 200 and d2 100. When d1's nginx is back, the
	// VIP stays on d2.
	NoPreempt Variant = "nopreempt"
)

// Track is how the speakers watch nginx.
type Track string

const (
	// TrackScript is the seed's chk_nginx: a script every second
	// (connecting to 127.0.0.1:80), fall 1, rise 1, weight 0.
	TrackScript Track = "script"
	// TrackProcess tracks nginx's process (track_process, weight 0): the
	// kernel's process events, no polling. Namespaces share the process
	// table, so each proxy's nginx runs under a name of its own (NginxComm).
	TrackProcess Track = "process"
)

// Setup is what one pair runs: which speaker, how it tracks nginx, and
// its preemption.
type Setup struct {
	Kind    Kind
	Track   Track
	Variant Variant
}

func (s Setup) String() string {
	return string(s.Kind) + "/" + string(s.Track) + "/" + string(s.Variant)
}

// ExampleFile is the shipped lbd.yaml the lab's lbd runs (deploy/examples).
const ExampleFile = "lbd-nginx-pair.yaml"

// Seed's keepalived.conf files, under the module's root.
const (
	SeedMasterConf = "internal/kaconf/testdata/seed-nginx-master.conf"
	SeedBackupConf = "internal/kaconf/testdata/seed-nginx-backup.conf"
)

// Event is a VRRP state a speaker reported entering.
type Event struct {
	Proxy string // d1 or d2
	State string // MASTER, BACKUP, FAULT, ...
	At    time.Time
}

// Speaker is lbd or keepalived running on one proxy.
type Speaker struct {
	Kind  Kind
	Proxy *Proxy

	proc    *Proc
	mu      sync.Mutex
	events  []Event
	polling string // lbd's reason for reading the process table periodically
}

// replaceOnce replaces old by new in s, which must hold old exactly once:
// the lab adapts the shipped files by their text and fails loudly when
// they change shape.
func replaceOnce(s, old, new, file string) (string, error) {
	if n := strings.Count(s, old); n != 1 {
		return "", fmt.Errorf("%s: %q occurs %d times, want once (did the file change shape?)", file, old, n)
	}
	return strings.Replace(s, old, new, 1), nil
}

// edit applies pairs of (old, new) with replaceOnce.
func edit(s, file string, pairs ...string) (string, error) {
	var err error
	for i := 0; i+1 < len(pairs); i += 2 {
		if s, err = replaceOnce(s, pairs[i], pairs[i+1], file); err != nil {
			return "", err
		}
	}
	return s, nil
}

// LBDConfig is the shipped deploy/examples/lbd-nginx-pair.yaml for proxy
// name (d1: the MASTER as shipped; d2: the three "backup:" lines changed
// as the file says) in s's variant, with the control socket and state
// directory moved to dir: two lbd share this host's file system. With
// TrackProcess, the instance tracks the proxy's nginx process instead of
// chk_nginx.
func LBDConfig(name, dir string, s Setup) (string, error) {
	v := s.Variant
	b, err := examples.Files.ReadFile(ExampleFile)
	if err != nil {
		return "", err
	}
	var pairs []string
	if name == "d2" {
		pairs = append(pairs, "router_id: nginx1", "router_id: nginx2", "priority: 200", "priority: 100")
	}
	if name == "d2" || v == NoPreempt {
		pairs = append(pairs, "state: MASTER", "state: BACKUP", "# nopreempt: true", "nopreempt: true")
	}
	pairs = append(pairs, "\nglobal:\n", fmt.Sprintf("\nglobal:\n  control_socket: %s\n  metrics_address: \"\"\n  state_dir: %s\n",
		filepath.Join(dir, "lbd.sock"), filepath.Join(dir, "state")))
	if s.Track == TrackProcess { // the example's commented alternative, instead of chk_nginx
		pairs = append(pairs, "      track_scripts:\n        - name: chk_nginx", "      track_scripts: []\n        # - name: chk_nginx",
			"      # track_processes:", "      track_processes:", "      #   - name: nginx", "        - name: nginx",
			"  # track_processes:", "  track_processes:", "  #   nginx:", "    nginx:",
			"  #     process: [nginx]", fmt.Sprintf("      process: [%s]", NginxComm(name)), "  #     weight: 0", "      weight: 0")
	}
	return edit(string(b), "deploy/examples/"+ExampleFile, pairs...)
}

// KeepalivedConfig is the seed's keepalived.conf for proxy name (read from
// root/SeedMasterConf for d1, SeedBackupConf for d2) in s's variant: for
// NoPreempt, d1 is made state BACKUP with nopreempt as d2 is.
//
// There is no TrackProcess for keepalived here: its vrrp_track_process
// needs the kernel's process events connector, which answers only in the
// initial network namespace ("Failed to set/clear process event listen -
// errno 111", then FAULT for good), and Debian's build has no
// net_namespace to enter the proxy's namespace after opening it.
func KeepalivedConfig(root, name string, s Setup) (string, error) {
	file := SeedMasterConf
	if name == "d2" {
		file = SeedBackupConf
	}
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return "", err
	}
	var pairs []string
	if name == "d1" && s.Variant == NoPreempt {
		pairs = append(pairs, "state MASTER", "state BACKUP", "priority 200\n", "priority 200\nnopreempt\n")
	}
	if s.Track != TrackScript {
		return "", fmt.Errorf("keepalived in the lab tracks nginx with its script only, not %q", s.Track)
	}
	return edit(string(b), file, pairs...)
}

// ModuleRoot is the directory holding go.mod, searched from the working
// directory up (the test runs in its package's directory, the bench from
// the root).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod in the working directory or above it")
		}
		dir = up
	}
}

// StartLBD runs lbd (the binary at bin) on the proxy with the
// configuration conf.
func (p *Proxy) StartLBD(bin, conf string) (*Speaker, error) {
	path := filepath.Join(p.Dir, "lbd.yaml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	sp := &Speaker{Kind: LBD, Proxy: p}
	proc, err := startProc(p.NS, "lbd "+p.Name, false, sp.lbdLine, bin, "run", "-c", path, "--log-format", "json")
	sp.proc = proc
	return sp, err
}

// StartKeepalived runs Debian's keepalived, VRRP only (-P), in the
// foreground, on the proxy with the configuration conf.
func (p *Proxy) StartKeepalived(conf string) (*Speaker, error) {
	path := filepath.Join(p.Dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	sp := &Speaker{Kind: Keepalived, Proxy: p}
	proc, err := startProc(p.NS, "keepalived "+p.Name, false, sp.keepalivedLine, "/usr/sbin/keepalived",
		"-P", "-n", "-l", "-D", "-f", path, "-p", filepath.Join(p.Dir, "keepalived.pid"),
		"-r", filepath.Join(p.Dir, "keepalived-vrrp.pid"))
	sp.proc = proc
	return sp, err
}

// lbdLine records lbd's "vrrp transition" log lines (JSON) at their own time.
func (sp *Speaker) lbdLine(line string, read time.Time) {
	var l struct {
		Time time.Time `json:"time"`
		Msg  string    `json:"msg"`
		To   string    `json:"to"`
		Err  string    `json:"err"`
	}
	if json.Unmarshal([]byte(line), &l) != nil {
		return
	}
	if strings.HasPrefix(l.Msg, "vrrp: process events are not available") {
		sp.mu.Lock()
		sp.polling = l.Err
		sp.mu.Unlock()
	}
	if l.Msg != "vrrp transition" {
		return
	}
	if l.Time.IsZero() {
		l.Time = read
	}
	sp.record(Event{Proxy: sp.Proxy.Name, State: l.To, At: l.Time})
}

var kaEntering = regexp.MustCompile(`(?i)\) entering ([a-z]+) state`)

// keepalivedLine records keepalived's "(VI_1) Entering X STATE" lines at
// the time they were read.
func (sp *Speaker) keepalivedLine(line string, read time.Time) {
	if m := kaEntering.FindStringSubmatch(line); m != nil {
		sp.record(Event{Proxy: sp.Proxy.Name, State: strings.ToUpper(m[1]), At: read})
	}
}

func (sp *Speaker) record(e Event) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.events = append(sp.events, e)
}

// Events are the states the speaker entered so far, in order.
func (sp *Speaker) Events() []Event {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return append([]Event(nil), sp.events...)
}

// Polling is, when lbd tracks processes without the kernel's process
// events (it then reads the process table every second), why: "" when
// it has them or tracks no process.
func (sp *Speaker) Polling() string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.polling
}

// Stop stops the speaker (SIGTERM, then SIGKILL after limit).
func (sp *Speaker) Stop(limit time.Duration) error {
	if sp.proc == nil {
		return nil
	}
	return sp.proc.Stop(limit)
}

// Output is what the speaker printed.
func (sp *Speaker) Output() string {
	if sp.proc == nil {
		return ""
	}
	return sp.proc.Output()
}

// Exited reports whether the speaker's process ended.
func (sp *Speaker) Exited() bool { return sp.proc == nil || sp.proc.Exited() }
