//go:build netns

package realserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/vishvananda/netns"

	"github.com/lvsd/lb/internal/netnslab"
	"github.com/lvsd/lb/internal/sysctl"
)

// node is a real server in its own namespace on a lab switch, with a
// client next to it.
type node struct {
	lab    *netnslab.Lab
	web    *netnslab.Namespace
	client *netnslab.Namespace
	handle netns.NsHandle
}

func newNode(t *testing.T) *node {
	t.Helper()
	lab := netnslab.NewT(t, "rs")
	lan, err := lab.AddSwitch("lan")
	if err != nil {
		t.Fatal(err)
	}
	web, err := lab.AddHost("web", lan, netip.MustParsePrefix("192.168.56.200/24"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := lab.AddHost("client", lan, netip.MustParsePrefix("192.168.56.10/24"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := netns.GetFromPath(web.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &node{lab: lab, web: web, client: client, handle: h}
}

// system is the real System bound to the web namespace, usable from any
// goroutine of this test process.
func (n *node) system(t *testing.T, log *slog.Logger) *NetlinkSystem {
	t.Helper()
	sys, err := NewNetlinkSystemAt(n.handle, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Close)
	return sys
}

// run runs a command in the web namespace and fails the test on error.
func (n *node) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := n.web.Run(context.Background(), name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ipAddrs is `ip -o addr show dev DEV` reduced to "ADDR/LEN LABEL" (IPv4)
// or "ADDR/LEN" (IPv6), as iproute2 reports them.
func (n *node) ipAddrs(t *testing.T, dev string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(n.run(t, "ip", "-o", "addr", "show", "dev", dev), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		switch f[2] {
		case "inet":
			// 1: lo    inet 192.168.56.90/32 scope global lo:0\ ...
			label := ""
			for i := 4; i+1 < len(f); i++ {
				if f[i] == "scope" && i+2 < len(f) {
					label = strings.TrimSuffix(f[i+2], "\\")
				}
			}
			out = append(out, f[3]+" "+label)
		case "inet6":
			out = append(out, f[3])
		}
	}
	return out
}

// sysctl reads a key in the web namespace through an outside process.
func (n *node) sysctl(t *testing.T, key string) string {
	t.Helper()
	return strings.TrimSpace(n.run(t, "cat", "/proc/sys/"+key))
}

func (n *node) setSysctl(t *testing.T, key, v string) {
	t.Helper()
	n.run(t, "sh", "-c", fmt.Sprintf("echo %s > /proc/sys/%s", v, key))
}

// hostSysctls snapshots the test process's own namespace, which the agent
// must never touch.
func hostSysctls(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, k := range []string{loIgnore, allIgnore, loAnnounce, allAnnounce, "net/ipv4/conf/all/rp_filter"} {
		b, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			t.Fatal(err)
		}
		m[k] = strings.TrimSpace(string(b))
	}
	return m
}

func checkHostUntouched(t *testing.T) {
	before := hostSysctls(t)
	t.Cleanup(func() {
		after := hostSysctls(t)
		for k, v := range before {
			if after[k] != v {
				t.Errorf("host namespace %s changed from %s to %s: the agent escaped its namespace", k, v, after[k])
			}
		}
	})
}

// How long arpAnswers listens. An answer that must come gets settle: the
// bound only stops a lost one. Silence is concluded after arpSilence, once
// the node's own address has been answered in the same state (the path
// works): the kernel answers ARP in its receive path, a missed late answer
// could only hide a fault, never invent one.
const (
	settle     = 5 * time.Second
	arpSilence = 500 * time.Millisecond
)

// arpAnswers reports whether the web node answers, within wait, an ARP
// request for ip sent by the client.
func (n *node) arpAnswers(t *testing.T, ip string, wait time.Duration) bool {
	t.Helper()
	var c *arp.Client
	err := n.client.Do(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err = arp.Dial(ifi)
		return err
	})
	if err != nil {
		t.Fatalf("ARP client in the client namespace: %v", err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(netip.MustParseAddr(ip))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	if err != nil {
		t.Fatalf("ARP resolve %s: %v", ip, err)
	}
	return true
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", settle, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNetnsApplyRestoreDR(t *testing.T) {
	checkHostUntouched(t)
	ctx := context.Background()
	n := newNode(t)
	// Before lbrs: an admin-chosen arp_announce, and a VIP someone put on lo.
	n.setSysctl(t, allAnnounce, "1")
	n.run(t, "ip", "addr", "add", "192.168.56.92/32", "dev", "lo", "label", "lo:9")
	origs := map[string]string{}
	for _, k := range []string{loIgnore, allIgnore, loAnnounce, allAnnounce} {
		origs[k] = n.sysctl(t, k)
	}

	// The bug lbrs exists for: a VIP on lo with arp_ignore=0 is answered
	// on the wire, and the node steals the director's traffic.
	if !n.arpAnswers(t, "192.168.56.92", settle) {
		t.Fatal("control: with arp_ignore=0 the node should answer ARP for a VIP on lo")
	}

	spec := drSpec("192.168.56.90", "2001:db8::90", "192.168.56.91", "192.168.56.92")
	spec.StateFile = filepath.Join(t.TempDir(), "state.json")
	a, err := New(spec, n.system(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(ctx); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	wantLo := []string{"127.0.0.1/8 lo", "192.168.56.92/32 lo:9", "192.168.56.90/32 lo:0", "192.168.56.91/32 lo:1", "2001:db8::90/128", "::1/128"}
	if diff := cmpStrings(wantLo, n.ipAddrs(t, "lo")); diff != "" {
		t.Errorf("ip addr on lo after apply: %s", diff)
	}
	for k, want := range map[string]string{loIgnore: "1", allIgnore: "1", loAnnounce: "2", allAnnounce: "2"} {
		if got := n.sysctl(t, k); got != want {
			t.Errorf("%s = %s after apply, want %s", sysctl.Name(k), got, want)
		}
	}
	// And the fix, on the wire: the node's own address is still
	// answered, the VIPs are not.
	if !n.arpAnswers(t, "192.168.56.200", settle) {
		t.Error("after apply the node no longer answers ARP for its own address")
	}
	for _, vip := range []string{"192.168.56.90", "192.168.56.91", "192.168.56.92"} {
		if n.arpAnswers(t, vip, arpSilence) {
			t.Errorf("after apply the node answers ARP for VIP %s", vip)
		}
	}

	// Idempotent: a second pass changes nothing, the state file keeps the
	// pre-lbrs values.
	stBefore, _ := os.ReadFile(spec.StateFile)
	if changes, err := a.Resync(ctx); err != nil || changes != 0 {
		t.Errorf("Resync on an applied node: %d changes, %v; want 0", changes, err)
	}
	if err := a.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if stAfter, _ := os.ReadFile(spec.StateFile); string(stAfter) != string(stBefore) {
		t.Errorf("second apply rewrote the state file:\n%s\nwas:\n%s", stAfter, stBefore)
	}

	if err := a.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	wantLo = []string{"127.0.0.1/8 lo", "192.168.56.92/32 lo:9", "::1/128"}
	if diff := cmpStrings(wantLo, n.ipAddrs(t, "lo")); diff != "" {
		t.Errorf("ip addr on lo after restore (the pre-existing VIP stays): %s", diff)
	}
	for k, want := range origs {
		if got := n.sysctl(t, k); got != want {
			t.Errorf("%s = %s after restore, want the original %s", sysctl.Name(k), got, want)
		}
	}
	if _, err := os.Stat(spec.StateFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file after restore: %v", err)
	}
}

func cmpStrings(want, got []string) string {
	if slices.Equal(want, got) {
		return ""
	}
	return fmt.Sprintf("got %q, want %q", got, want)
}

// The System's sysctls are those of its namespace, whichever thread asks,
// including a device whose name holds a dot (a VLAN); a sysctl of a device
// that is not there is ErrSysctlNotFound.
func TestNetnsSysctls(t *testing.T) {
	checkHostUntouched(t)
	n := newNode(t)
	n.run(t, "ip", "link", "add", "eth0.100", "type", "veth", "peer", "name", "p100")
	sys := n.system(t, nil)
	const vlan = "net/ipv4/conf/eth0.100/arp_announce"
	steps := []struct {
		key, value string // value "": read and compare with the namespace's
	}{
		{key: vlan},
		{key: vlan, value: "2"},
		{key: vlan, value: "1"},
		{key: allIgnore, value: "1"},
		{key: allIgnore},
		{key: "net/ipv4/conf/all/arp_ignore", value: "0"},
	}
	for _, s := range steps {
		if s.value == "" {
			got, err := sys.ReadSysctl(s.key)
			if want := n.sysctl(t, s.key); err != nil || got != want {
				t.Errorf("ReadSysctl(%s) = %q, %v; the namespace has %q", s.key, got, err, want)
			}
			continue
		}
		if err := sys.WriteSysctl(s.key, s.value); err != nil {
			t.Fatal(err)
		}
		if got := n.sysctl(t, s.key); got != s.value {
			t.Errorf("after WriteSysctl(%s, %s) the namespace has %q", s.key, s.value, got)
		}
	}
	n.run(t, "sysctl", "-w", "net.ipv4.conf.eth0/100.rp_filter=2")
	if v, err := sys.ReadSysctl("net/ipv4/conf/eth0.100/rp_filter"); err != nil || v != "2" {
		t.Errorf("rp_filter set by sysctl(8) as net.ipv4.conf.eth0/100.rp_filter: read %q, %v", v, err)
	}
	const gone = "net/ipv4/conf/nodev/arp_ignore"
	if _, err := sys.ReadSysctl(gone); !errors.Is(err, ErrSysctlNotFound) {
		t.Errorf("ReadSysctl(%s) = %v, want ErrSysctlNotFound", gone, err)
	}
	if err := sys.WriteSysctl(gone, "1"); !errors.Is(err, ErrSysctlNotFound) {
		t.Errorf("WriteSysctl(%s) = %v, want ErrSysctlNotFound", gone, err)
	}
	if err := sys.WriteSysctl("net/ipv4/../../../etc/hostname", "x"); err == nil || errors.Is(err, ErrSysctlNotFound) {
		t.Errorf("WriteSysctl of a path leaving /proc/sys: %v, want refused", err)
	}
}

func TestNetnsRefusesPrimaryAddress(t *testing.T) {
	checkHostUntouched(t)
	n := newNode(t)
	spec := drSpec("192.168.56.90", "192.168.56.200")
	spec.StateFile = filepath.Join(t.TempDir(), "state.json")
	a, err := New(spec, n.system(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Apply(context.Background())
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "192.168.56.200: it is this node's own primary address on eth0") {
		t.Fatalf("Apply = %v, want refusal", err)
	}
	if got := n.ipAddrs(t, "lo"); !slices.Equal(got, []string{"127.0.0.1/8 lo", "::1/128"}) {
		t.Errorf("lo after refused apply = %q", got)
	}
	if got := n.sysctl(t, allIgnore); got != "0" {
		t.Errorf("all.arp_ignore after refused apply = %s", got)
	}
}

func TestNetnsWatchRepairs(t *testing.T) {
	checkHostUntouched(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := newNode(t)
	logs := &logBuf{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	spec := drSpec("192.168.56.90", "192.168.56.91")
	spec.StateFile = filepath.Join(t.TempDir(), "state.json")
	spec.ResyncInterval = 300 * time.Millisecond
	a, err := New(spec, n.system(t, log), log)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Watch(ctx) }()
	has := func(want string) func() bool {
		return func() bool { return slices.Contains(n.ipAddrs(t, "lo"), want) }
	}
	// Give the subscription a moment, then pull the VIP.
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	n.run(t, "ip", "addr", "del", "192.168.56.90/32", "dev", "lo")
	eventually(t, "VIP re-added after ip addr del", has("192.168.56.90/32 lo:0"))
	t.Logf("VIP back %v after ip addr del", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(logs.String(), `msg=repair action=add-addr what="address 192.168.56.90/32 lo:0 on lo" expected="192.168.56.90/32 label lo:0" found=absent`) {
		t.Errorf("repair not logged with what/expected/found:\n%s", logs.String())
	}

	// Re-added by hand without its label: put back with it.
	// (one ip -batch process, so the agent cannot slip in between)
	batch := filepath.Join(t.TempDir(), "relabel")
	if err := os.WriteFile(batch, []byte("addr del 192.168.56.91/32 dev lo\naddr add 192.168.56.91/32 dev lo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.run(t, "ip", "-batch", batch)
	eventually(t, "label lo:1 restored", has("192.168.56.91/32 lo:1"))

	// A sysctl has no event: the interval resync puts it back.
	n.setSysctl(t, allIgnore, "0")
	eventually(t, "all.arp_ignore back to 1", func() bool { return n.sysctl(t, allIgnore) == "1" })
	if !strings.Contains(logs.String(), `what="sysctl net.ipv4.conf.all.arp_ignore" expected=1 found=0`) {
		t.Errorf("sysctl repair not logged:\n%s", logs.String())
	}

	// lo set down: brought back up.
	n.run(t, "ip", "link", "set", "lo", "down")
	eventually(t, "lo up again", func() bool { return strings.Contains(n.run(t, "ip", "-o", "link", "show", "lo"), ",UP") })

	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Watch did not stop")
	}
	if err := a.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := n.ipAddrs(t, "lo"); !slices.Equal(got, []string{"127.0.0.1/8 lo", "::1/128"}) {
		t.Errorf("lo after restore = %q", got)
	}
}

// netSnapshot is what an agent may change in the web namespace: its links,
// their addresses (with labels) and the ARP and reverse-path sysctls of
// every interface.
func (n *node) netSnapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(n.run(t, "ip", "-o", "link", "show"))
	b.WriteString(n.run(t, "ip", "-o", "addr", "show"))
	b.WriteString(n.run(t, "sh", "-c", "grep -H . /proc/sys/net/ipv4/conf/*/arp_ignore /proc/sys/net/ipv4/conf/*/arp_announce /proc/sys/net/ipv4/conf/*/rp_filter"))
	return b.String()
}

// tunNotMade is the whole error of a TUN apply on a kernel without IP-in-IP,
// but for modprobe's own words.
var tunNotMade = regexp.MustCompile(`^ensure-tunnel link tunl0: device tunl0 does not exist and cannot be made: ` +
	`modprobe ipip: modprobe ipip: .+; creating it: create ipip device tunl0: operation not supported ` +
	`\(TUN mode needs the kernel's IP-in-IP support, CONFIG_NET_IPIP or CONFIG_IPV6_TUNNEL\)$`)

// TestNetnsTUNWithoutIPIP is TUN mode on a kernel without IP-in-IP support,
// as this host's (CONFIG_NET_IPIP is not set, modules are disabled): Apply
// must fail with the whole explanation and leave the namespace and the
// state file as they were. TUN mode itself (tunl0 made, the VIP on it,
// rp_filter off, restore) is proven on Debian's kernel in the VM: the
// LbrsTUN scenario. On a kernel that can make an IPIP device this test
// fails: it would not test what it says.
func TestNetnsTUNWithoutIPIP(t *testing.T) {
	checkHostUntouched(t)
	ctx := context.Background()
	n := newNode(t)
	if out, err := n.client.Run(ctx, "ip", "link", "add", "probe0", "type", "ipip", "remote", "192.0.2.1"); err == nil {
		t.Fatalf("this kernel makes IPIP devices (%s): this test is for one that cannot; TUN mode is the VM's LbrsTUN scenario", out)
	}
	spec := drSpec("192.168.56.90")
	spec.Mode = ModeTUN
	spec.StateFile = filepath.Join(t.TempDir(), "state.json")
	a, err := New(spec, n.system(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := n.netSnapshot(t)
	err = a.Apply(ctx)
	if err == nil || !tunNotMade.MatchString(err.Error()) || !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("Apply without IPIP = %v, want (EOPNOTSUPP) the error matching %s", err, tunNotMade)
	}
	if after := n.netSnapshot(t); after != before {
		t.Errorf("a failed TUN apply changed the namespace:\n%s\nwas:\n%s", after, before)
	}
	if _, err := os.Stat(spec.StateFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file after a failed TUN apply: %v, want none", err)
	}
}

// buildLbrs compiles cmd/lbrs into a temporary directory.
func buildLbrs(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(t.TempDir(), "lbrs")
	cmd := exec.Command(goBin, "build", "-o", bin, "../cmd/lbrs")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/lbrs: %v\n%s", err, out)
	}
	return bin
}

// daemon is `lbrs run` started in the web namespace.
type daemon struct {
	cmd  *exec.Cmd
	logs *logBuf
	done chan error
}

func (n *node) startDaemon(t *testing.T, bin, cfg string) *daemon {
	t.Helper()
	d := &daemon{logs: &logBuf{}, done: make(chan error, 1)}
	d.cmd = n.web.Command(context.Background(), bin, "run", "-c", cfg)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.logs.String(), `msg="lbrs running"`) {
		if time.Now().After(deadline) {
			t.Fatalf("lbrs run did not become ready in 10s; log:\n%s", d.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d
}

func (d *daemon) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-d.done:
		d.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("lbrs did not exit; log:\n%s", d.logs.String())
		return nil
	}
}

func TestNetnsKill9RestartRestore(t *testing.T) {
	checkHostUntouched(t)
	n := newNode(t)
	bin := buildLbrs(t)
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "state.json")
	cfg := filepath.Join(dir, "lbrs.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`mode: dr
vips: [192.168.56.90, "2001:db8::90"]
state_file: %s
resync_interval: 1s
`, stateFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	n.setSysctl(t, loAnnounce, "1") // a non-default original to get back
	origs := map[string]string{}
	for _, k := range []string{loIgnore, allIgnore, loAnnounce, allAnnounce} {
		origs[k] = n.sysctl(t, k)
	}
	applied := []string{"127.0.0.1/8 lo", "192.168.56.90/32 lo:0", "2001:db8::90/128", "::1/128"}

	d := n.startDaemon(t, bin, cfg)
	if diff := cmpStrings(applied, n.ipAddrs(t, "lo")); diff != "" {
		t.Fatalf("lo under lbrs run: %s", diff)
	}
	// A second agent cannot run against the same state.
	if out, err := n.web.Run(context.Background(), bin, "apply", "-c", cfg); err == nil || !strings.Contains(out, "locked") {
		t.Errorf("apply while run holds the lock: %v\n%s", err, out)
	}
	if out, err := n.web.Run(context.Background(), bin, "status", "-c", cfg); err != nil || !strings.Contains(out, "net.ipv4.conf.lo.arp_announce") {
		t.Errorf("status while running: %v\n%s", err, out)
	}

	// kill -9: nothing restored, the state file stays.
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.wait(t)
	if diff := cmpStrings(applied, n.ipAddrs(t, "lo")); diff != "" {
		t.Errorf("lo after kill -9 should still hold the VIPs: %s", diff)
	}
	st, err := LoadState(stateFile)
	if err != nil || st.Empty() {
		t.Fatalf("state after kill -9: %+v, %v", st, err)
	}
	// While it is down, someone removes a VIP.
	n.run(t, "ip", "addr", "del", "192.168.56.90/32", "dev", "lo")

	// Restart: the originals are the pre-lbrs ones, not lbrs's own values.
	d = n.startDaemon(t, bin, cfg)
	if diff := cmpStrings(applied, n.ipAddrs(t, "lo")); diff != "" {
		t.Errorf("lo after restart: %s", diff)
	}
	st, _ = LoadState(stateFile)
	for k, v := range origs {
		if st.Sysctls[k] != v {
			t.Errorf("recorded original of %s after restart = %q, want %q", sysctl.Name(k), st.Sysctls[k], v)
		}
	}

	// kill -9 again, then the one-shot restore (the seed's "stop").
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.wait(t)
	if out, err := n.web.Run(context.Background(), bin, "restore", "-c", cfg); err != nil {
		t.Fatalf("lbrs restore: %v\n%s", err, out)
	}
	if diff := cmpStrings([]string{"127.0.0.1/8 lo", "::1/128"}, n.ipAddrs(t, "lo")); diff != "" {
		t.Errorf("lo after restore: %s", diff)
	}
	for k, v := range origs {
		if got := n.sysctl(t, k); got != v {
			t.Errorf("%s = %s after restore, want original %s", sysctl.Name(k), got, v)
		}
	}
	if _, err := os.Stat(stateFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file after restore: %v", err)
	}
	out, err := n.web.Run(context.Background(), bin, "status", "-c", cfg)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "DIFFERS") {
		t.Errorf("status after restore: %v (want exit 1 with DIFFERS)\n%s", err, out)
	}

	// Finally a clean run and SIGTERM: restores by itself and exits 0.
	d = n.startDaemon(t, bin, cfg)
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.wait(t); err != nil {
		t.Errorf("lbrs run after SIGTERM: %v\n%s", err, d.logs.String())
	}
	if diff := cmpStrings([]string{"127.0.0.1/8 lo", "::1/128"}, n.ipAddrs(t, "lo")); diff != "" {
		t.Errorf("lo after SIGTERM: %s", diff)
	}
	for k, v := range origs {
		if got := n.sysctl(t, k); got != v {
			t.Errorf("%s = %s after SIGTERM, want original %s", sysctl.Name(k), got, v)
		}
	}
}

func TestNetnsBinaryRefusesPrimary(t *testing.T) {
	n := newNode(t)
	bin := buildLbrs(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lbrs.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("vips: [192.168.56.200]\nstate_file: %s/state.json\n", dir)), 0o644)
	for _, sub := range []string{"apply", "run"} {
		out, err := n.web.Run(context.Background(), bin, sub, "-c", cfg)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 78 || !strings.Contains(out, "own primary address on eth0") {
			t.Errorf("lbrs %s with the node's own address: %v (want exit 78 and the reason)\n%s", sub, err, out)
		}
	}
	if got := n.ipAddrs(t, "lo"); !slices.Equal(got, []string{"127.0.0.1/8 lo", "::1/128"}) {
		t.Errorf("lo after refusal = %q", got)
	}
}

// A tampered or corrupt state file on a real node: "lbrs run" exits 78
// without READY and changes nothing, "lbrs restore" (with the config, and
// from the file alone) refuses and changes nothing; 127.0.0.1/8, the node's
// own address and the sysctls stay. The untampered file then restores as
// usual. Every tampering stays inside the namespace (ip_forward and the
// conf sysctls are per namespace), so a regression cannot reach the host.
func TestNetnsTamperedState(t *testing.T) {
	checkHostUntouched(t)
	n := newNode(t)
	bin := buildLbrs(t)
	dir := t.TempDir()
	stateFile := filepath.Join(dir, "state.json")
	cfg := filepath.Join(dir, "lbrs.yaml")
	if err := os.WriteFile(cfg, []byte("mode: dr\nvips: [192.168.56.90]\nstate_file: "+stateFile+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eth := nodeDevice(t, n, "192.168.56.200/24")
	d := n.startDaemon(t, bin, cfg)
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.wait(t)
	good, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	n.run(t, "ip", "addr", "add", "10.9.9.9/32", "dev", eth) // a /32 of the node's own
	snapshot := func() []string {
		s := append(n.ipAddrs(t, "lo"), n.ipAddrs(t, eth)...)
		for _, k := range []string{loIgnore, allIgnore, loAnnounce, allAnnounce, "net/ipv4/ip_forward", "net/ipv4/conf/all/rp_filter"} {
			s = append(s, k+"="+n.sysctl(t, k))
		}
		return s
	}
	before := snapshot()
	if !slices.Contains(before, "127.0.0.1/8 lo") || !slices.Contains(before, "192.168.56.90/32 lo:0") || !slices.Contains(before, "10.9.9.9/32 "+eth) {
		t.Fatalf("node before the tampering: %q", before)
	}
	record := func(link, prefix string) string {
		return strings.Replace(string(good), `"addresses": [`, `"addresses": [{"link": "`+link+`", "prefix": "`+prefix+`"}, `, 1)
	}
	sysctlRec := func(key, v string) string {
		return strings.Replace(string(good), `"sysctls": {`, `"sysctls": {"`+key+`": "`+v+`", `, 1)
	}
	for _, tt := range []struct{ name, state, want string }{
		{"truncated", string(good[:len(good)/2]), "not a state file lbrs wrote"},
		{"loopback", record("lo", "127.0.0.1/8"), "127.0.0.1/8"},
		{"node address", record(eth, "192.168.56.200/24"), "prefix length /24"},
		{"node /32 address", record(eth, "10.9.9.9/32"), "10.9.9.9/32 on " + eth},
		{"ip_forward", sysctlRec("net/ipv4/ip_forward", "1"), "not a sysctl lbrs sets"},
		{"traversal", sysctlRec("net/ipv4/conf/lo/../../ip_forward", "1"), "not a sysctl lbrs sets"},
		{"huge value", sysctlRec(confKey(eth, "arp_ignore"), strings.Repeat("7", 100000)), "want an integer 0-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(stateFile, []byte(tt.state), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, ready := n.runOnce(t, bin, "run", "-c", cfg)
			if code != 78 || ready || !strings.Contains(out, stateFile+": ") || !strings.Contains(out, tt.want) {
				t.Errorf("lbrs run: exit %d, READY %v, output:\n%s\nwant exit 78, no READY, the file and %q named", code, ready, out, tt.want)
			}
			for _, args := range [][]string{{"restore", "-c", cfg}, {"restore", "-state", stateFile}} {
				if code, out, _ := n.runOnce(t, bin, args...); code == 0 || !strings.Contains(out, tt.want) {
					t.Errorf("lbrs %s: exit %d, output:\n%s\nwant a failure naming %q", strings.Join(args, " "), code, out, tt.want)
				}
			}
			if diff := cmpStrings(before, snapshot()); diff != "" {
				t.Errorf("node changed: %s", diff)
			}
			if got, _ := os.ReadFile(stateFile); string(got) != tt.state {
				t.Error("state file rewritten")
			}
		})
	}

	// The file as lbrs wrote it restores: the VIP goes, the rest stays.
	if err := os.WriteFile(stateFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := n.runOnce(t, bin, "restore", "-c", cfg); code != 0 {
		t.Fatalf("lbrs restore of the untampered file: exit %d\n%s", code, out)
	}
	if diff := cmpStrings([]string{"127.0.0.1/8 lo", "::1/128"}, n.ipAddrs(t, "lo")); diff != "" {
		t.Errorf("lo after restore: %s", diff)
	}
	if !slices.Contains(n.ipAddrs(t, eth), "10.9.9.9/32 "+eth) || !slices.Contains(n.ipAddrs(t, eth), "192.168.56.200/24 "+eth) {
		t.Errorf("%s after restore: %q", eth, n.ipAddrs(t, eth))
	}
}

// nodeDevice is the web namespace's device holding prefix.
func nodeDevice(t *testing.T, n *node, prefix string) string {
	t.Helper()
	for _, line := range strings.Split(n.run(t, "ip", "-o", "addr", "show"), "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[3] == prefix {
			return strings.TrimSuffix(f[1], ":")
		}
	}
	t.Fatalf("no device holds %s", prefix)
	return ""
}

// runOnce runs lbrs in the web namespace with a NOTIFY_SOCKET, waits up to
// 20 s for it to exit (then kills it: an lbrs run that keeps running fails
// the caller's exit status check) and returns its exit status, output, and
// whether it sent READY=1.
func (n *node) runOnce(t *testing.T, bin string, args ...string) (int, string, bool) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := n.web.Command(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	var out logBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	ready := false
	buf := make([]byte, 4096)
	for {
		m, _, err := conn.ReadFromUnix(buf)
		if err != nil {
			break
		}
		ready = ready || strings.Contains(string(buf[:m]), "READY=1")
	}
	return code, out.String(), ready
}
