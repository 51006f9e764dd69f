package main

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lb/internal/benchkit"
)

// The VRRP interface of the private namespace (one end of a veth pair)
// and the instance's VIP.
const (
	vrrpIf   = "rb0"
	vrrpPeer = "rb1"
	vrrpAddr = "10.99.0.1/24"
	vrrpVIP  = "10.99.0.100"
)

// reexecInNetns runs this command again in a new network namespace
// (unshare --net) and returns its exit status.
func reexecInNetns() int {
	self, err := os.Executable()
	if err == nil {
		var unshare string
		if unshare, err = exec.LookPath("unshare"); err == nil {
			cmd := exec.Command(unshare, append([]string{"--net", "--", self}, os.Args[1:]...)...)
			cmd.Env = append(os.Environ(), inNetnsEnv+"=1")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			err = cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() >= 0 {
				return ee.ExitCode()
			}
			if err == nil {
				return 0
			}
		}
	}
	fmt.Fprintf(os.Stderr, "rssbench: NO VERDICT: cannot run in a private network namespace (root and util-linux's unshare needed): %v\n", err)
	return 2
}

// setupNetns brings lo up (127/8 reaches the server) and makes the veth
// pair VRRP runs on.
func setupNetns() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: vrrpIf}, PeerName: vrrpPeer}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth %s: %w", vrrpIf, err)
	}
	addr, err := netlink.ParseAddr(vrrpAddr)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(veth, addr); err != nil {
		return fmt.Errorf("address on %s: %w", vrrpIf, err)
	}
	for _, name := range []string{vrrpIf, vrrpPeer} {
		lk, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(lk); err != nil {
			return fmt.Errorf("%s up: %w", name, err)
		}
	}
	return nil
}

// target i is 127.a.b.c with a, b, c in 1..254 (Linux routes 127/8 to lo).
func target(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(1 + i/(254*254)), byte(1 + (i/254)%254), byte(1 + i%254)})
}

// realAddr i is the address of real server i: 10.a.b.c with a, b, c as
// in target (a real server cannot be at a loopback address); its check
// connects to target(i) (connect_ip), where the benchmark server answers.
func realAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(1 + i/(254*254)), byte(1 + (i/254)%254), byte(1 + i%254)})
}

// vip of service s: 10.200.x.y, x and y in 1..250.
func vip(s int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 200, byte(1 + s/250), byte(1 + s%250)})
}

func digest() string {
	sum := md5.Sum([]byte(benchkit.Body))
	return hex.EncodeToString(sum[:])
}

// lbdConfig is lbd.yaml: one VRRP instance, services x reals, each real
// server with an HTTP check on port (compact flow style: 1,000 x 10 is
// about 1 MB).
func lbdConfig(o options, port int, dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  router_id: rssbench\n  log_level: warn\n  control_socket: %s/lbd.sock\n  state_dir: %s\n  metrics_address: \"\"\n", dir, dir)
	fmt.Fprintf(&b, "vrrp:\n  instances:\n    VI_1: {state: MASTER, interface: %s, virtual_router_id: 51, priority: 200, advert_interval: 1, virtual_ipaddresses: [{address: %s, device: %s}]}\n",
		vrrpIf, vrrpVIP, vrrpIf)
	b.WriteString("virtual_servers:\n")
	for s := range o.services {
		fmt.Fprintf(&b, "  - {address: %s, port: 80, protocol: TCP, scheduler: rr, forwarding: NAT, delay_loop: %s, connect_timeout: 2s, retry: 1, delay_before_retry: 1s, warmup: %s, real_servers: [\n",
			vip(s), o.interval, o.interval)
		for r := range o.reals {
			i := s*o.reals + r
			fmt.Fprintf(&b, "    {address: %s, port: %d, checks: [{type: http, connect_ip: %s, urls: [{path: /, digest: %s}]}]},\n", realAddr(i), port, target(i), digest())
		}
		b.WriteString("  ]}\n")
	}
	return b.String()
}

// keepalivedConfig is keepalived.conf with the same instance, services,
// real servers and checks.
func keepalivedConfig(o options, port int) string {
	var b strings.Builder
	b.WriteString("global_defs {\n  router_id rssbench\n}\n")
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n  state MASTER\n  interface %s\n  virtual_router_id 51\n  priority 200\n  advert_int 1\n  virtual_ipaddress {\n    %s/32 dev %s\n  }\n}\n",
		vrrpIf, vrrpVIP, vrrpIf)
	for s := range o.services {
		fmt.Fprintf(&b, "virtual_server %s 80 {\n  delay_loop %g\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n", vip(s), o.interval.Seconds())
		for r := range o.reals {
			i := s*o.reals + r
			fmt.Fprintf(&b, "  real_server %s %d {\n    weight 1\n    HTTP_GET {\n      url {\n        path /\n        digest %s\n      }\n"+
				"      connect_ip %s\n      connect_timeout 2\n      retry 1\n      delay_before_retry 1\n    }\n  }\n", realAddr(i), port, digest(), target(i))
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// waitQuiet waits until the server's answers per second drop under 1% of
// want (the previous side is gone), at most limit.
func waitQuiet(srv *benchkit.Server, want float64, limit time.Duration) {
	prev, _ := srv.Served()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		cur, err := srv.Served()
		if err != nil || float64(cur-prev) < 0.01*want {
			return
		}
		prev = cur
	}
}
