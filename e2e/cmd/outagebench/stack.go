package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// The stacks and faults.
const (
	stackLbd        = "lbd"
	stackLbdBFD     = "lbd+bfd" // lbd with bfd (100ms x 3) on both directors
	stackKeepalived = "keepalived"
	faultCut        = "cut"
	faultStop       = "stop"
)

// director is one director's settings.
type director struct {
	name     string
	addr     string
	state    string
	priority int
}

var directors = [2]director{{"d1", d1Addr, "MASTER", 200}, {"d2", d2Addr, "BACKUP", 100}}

func healthDigest() string {
	sum := md5.Sum([]byte(healthBody))
	return hex.EncodeToString(sum[:])
}

// bfdSection is lbd+bfd's instance key: BFD at 100ms x 3.
const bfdSection = "      bfd: {interval: 100ms, multiplier: 3}\n"

// lbdConfig is lbd.yaml for d, its socket and state in dir; withBFD adds
// the instance's bfd section.
func lbdConfig(d director, dir string, withBFD bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  router_id: %s\n  log_level: info\n  control_socket: %s\n  state_dir: %s\n  metrics_address: \"\"\n",
		d.name, filepath.Join(dir, "lbd.sock"), dir)
	fmt.Fprintf(&b, "vrrp:\n  instances:\n    VI_1:\n      state: %s\n      interface: eth0\n      virtual_router_id: %d\n      priority: %d\n"+
		"      advert_interval: %d\n      authentication:\n        type: PASS\n        password: \"1111\"\n"+
		"      virtual_ipaddresses:\n        - address: %s\n          device: eth0\n          label: \"eth0:0\"\n",
		d.state, vrid, d.priority, int(advert.Seconds()), vipAddr)
	if withBFD {
		b.WriteString(bfdSection)
	}
	fmt.Fprintf(&b, "virtual_servers:\n  - address: %s\n    port: 80\n    protocol: TCP\n    scheduler: rr\n    forwarding: DR\n    delay_loop: 1\n    real_servers:\n", vipAddr)
	for _, rs := range []string{web1Addr, web2Addr} {
		fmt.Fprintf(&b, "      - address: %s\n        port: 80\n        weight: 1\n        checks:\n          - type: http\n"+
			"            urls:\n              - path: %s\n                digest: %s\n"+
			"            connect_timeout: 3\n            retry: 1\n            delay_before_retry: 1\n", rs, healthPath, healthDigest())
	}
	return b.String()
}

// keepalivedConfig is keepalived.conf for d with the same instance,
// service and checks as lbdConfig.
func keepalivedConfig(d director) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id %s\n}\n", d.name)
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n  state %s\n  interface eth0\n  virtual_router_id %d\n  priority %d\n  advert_int %d\n"+
		"  authentication {\n    auth_type PASS\n    auth_pass 1111\n  }\n  virtual_ipaddress {\n    %s/32 dev eth0 label eth0:0\n  }\n}\n",
		d.state, vrid, d.priority, int(advert.Seconds()), vipAddr)
	fmt.Fprintf(&b, "virtual_server %s 80 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind DR\n  protocol TCP\n", vipAddr)
	for _, rs := range []string{web1Addr, web2Addr} {
		fmt.Fprintf(&b, "  real_server %s 80 {\n    weight 1\n    HTTP_GET {\n      url {\n        path %s\n        digest %s\n      }\n"+
			"      connect_timeout 3\n      retry 1\n      delay_before_retry 1\n    }\n  }\n", rs, healthPath, healthDigest())
	}
	b.WriteString("}\n")
	return b.String()
}

// daemon is one running lbd or keepalived (its own process group).
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// startDaemon starts stack's daemon for d in ns, its files in dir.
// keepalived logs to the console (the VM's serial line, where the bench's
// output goes) only when verbose.
func startDaemon(stack string, d director, ns *netnslab.Namespace, dir string, verbose bool) (*daemon, error) {
	var args []string
	var bin string
	switch stack {
	case stackLbd, stackLbdBFD:
		conf := filepath.Join(dir, "lbd.yaml")
		if err := os.WriteFile(conf, []byte(lbdConfig(d, dir, stack == stackLbdBFD)), 0o600); err != nil {
			return nil, fmt.Errorf("write lbd.yaml: %w", err)
		}
		bin, args = "lbd", []string{"run", "-c", conf}
	default:
		conf := filepath.Join(dir, "keepalived.conf")
		if err := os.WriteFile(conf, []byte(keepalivedConfig(d)), 0o600); err != nil {
			return nil, fmt.Errorf("write keepalived.conf: %w", err)
		}
		bin, args = "keepalived", []string{"-n", "-G", "-f", conf, "-p", filepath.Join(dir, "keepalived.pid"),
			"-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid")}
		if verbose {
			args = append(args, "-l", "-D")
		}
	}
	dm := &daemon{name: stack + " on " + d.name, log: &syncBuffer{}, done: make(chan struct{})}
	dm.cmd = ns.Command(context.Background(), bin, args...)
	dm.cmd.Stdout, dm.cmd.Stderr = dm.log, dm.log
	dm.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := dm.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", dm.name, err)
	}
	go func() { _ = dm.cmd.Wait(); close(dm.done) }()
	return dm, nil
}

// bfdUp reports whether the daemon (lbd+bfd) logged a BFD session Up.
func (dm *daemon) bfdUp() bool {
	for _, l := range strings.Split(dm.log.String(), "\n") {
		if strings.Contains(l, "bfd: session state changed") && (strings.Contains(l, "to=Up") || strings.Contains(l, `"to":"Up"`)) {
			return true
		}
	}
	return false
}

// exited reports whether the daemon has exited.
func (dm *daemon) exited() bool {
	select {
	case <-dm.done:
		return true
	default:
		return false
	}
}

// terminate sends SIGTERM to the daemon itself (nsenter exec'd it, so
// the pid is the daemon's; keepalived's parent relays it to its children).
func (dm *daemon) terminate() error {
	return dm.cmd.Process.Signal(syscall.SIGTERM)
}

// stop ends the daemon and its children: SIGTERM, then SIGKILL to the
// group after 5 s.
func (dm *daemon) stop() {
	if !dm.exited() {
		_ = syscall.Kill(dm.cmd.Process.Pid, syscall.SIGTERM)
	}
	select {
	case <-dm.done:
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(-dm.cmd.Process.Pid, syscall.SIGKILL)
	<-dm.done
}

// syncBuffer is a bytes.Buffer safe for the daemon's two writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
