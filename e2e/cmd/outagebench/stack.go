package main

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
type daemon = netnslab.Daemon

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
	return ns.StartDaemon(stack+" on "+d.name, bin, args...)
}

// bfdUp reports whether the daemon (lbd+bfd) logged a BFD session Up.
func bfdUp(dm *daemon) bool {
	for _, l := range strings.Split(dm.Log.String(), "\n") {
		if strings.Contains(l, "bfd: session state changed") && (strings.Contains(l, "to=Up") || strings.Contains(l, `"to":"Up"`)) {
			return true
		}
	}
	return false
}
