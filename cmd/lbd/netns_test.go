//go:build netns

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/internal/netnslab"
)

// These tests run the real lbd and lbctl binaries in network namespaces
// of this host, which has no IPVS (no ip_vs module, modules disabled):
// root, and the netns build tag. On a kernel with IPVS they still run,
// but prove less; TestNetnsVRRPOnlyNeedsNoIPVS says so.

// buildCmd compiles ./cmd/NAME (run from cmd/lbd) into a temporary directory.
func buildCmd(t *testing.T, name string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command(goBin, "build", "-o", bin, "../"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return bin
}

// logBuf is a goroutine-safe output sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// vrrpOnlyConfig is a VRRP-only lbd.yaml (no virtual_servers): one
// instance tracking a script that fails while dir/healthy is missing, and
// notify commands that leave dir/is-master while the instance is master.
func vrrpOnlyConfig(dir string, prio int) string {
	return fmt.Sprintf(`global:
  control_socket: %[1]s/lbd.sock
  state_dir: %[1]s
  metrics_address: ""
vrrp:
  scripts:
    chk_app:
      command: ["/bin/cat", "%[1]s/healthy"]
      interval: 200ms
      weight: -150
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      priority: %[2]d
      advert_interval: 1
      virtual_ipaddresses: [{address: 10.9.0.100/24}]
      track_scripts: [{name: chk_app}]
      notify:
        master: ["/usr/bin/touch", "%[1]s/is-master"]
        backup: ["/bin/rm", "-f", "%[1]s/is-master"]
`, dir, prio)
}

// withService is cfg with one virtual server added.
func withService(cfg string) string {
	return cfg + `virtual_servers:
  - address: 10.9.0.100
    port: 80
    real_servers:
      - address: 10.9.1.1
`
}

// lbdProc is one `lbd run` in a namespace.
type lbdProc struct {
	name, dir, cfg, sock string
	ns                   *netnslab.Namespace
	cmd                  *exec.Cmd
	logs                 *logBuf
	done                 chan error
}

func startLbd(t *testing.T, bin string, ns *netnslab.Namespace, prio int) *lbdProc {
	t.Helper()
	dir := t.TempDir()
	p := &lbdProc{name: ns.Name(), dir: dir, cfg: filepath.Join(dir, "lbd.yaml"), sock: filepath.Join(dir, "lbd.sock"),
		ns: ns, logs: &logBuf{}, done: make(chan error, 1)}
	for file, body := range map[string]string{p.cfg: vrrpOnlyConfig(dir, prio), filepath.Join(dir, "healthy"): "ok\n"} {
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.start(t, bin)
	return p
}

// start runs lbd run on p.cfg in p.ns and waits for its control socket.
func (p *lbdProc) start(t *testing.T, bin string) {
	t.Helper()
	ns := p.ns
	p.cmd = ns.Command(context.Background(), bin, "run", "-c", p.cfg, "--log-level", "debug")
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.done <- nil
		if t.Failed() {
			t.Logf("%s logs:\n%s", p.name, p.logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(p.sock); err == nil {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s: lbd run exited at start (%v):\n%s", p.name, err, p.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no control socket after 15s:\n%s", p.name, p.logs.String())
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *lbdProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("%s: lbd run after SIGTERM: %v\n%s", p.name, err, p.logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: lbd did not stop in 15s", p.name)
	}
}

func (p *lbdProc) state() string {
	st, err := control.NewClient(p.sock).Status(context.Background())
	if err != nil {
		return "error: " + err.Error()
	}
	for _, in := range st.VRRP {
		if in.Name == "VI_1" {
			return in.State
		}
	}
	return "absent"
}

func (p *lbdProc) hasVIP(t *testing.T) bool {
	has, err := p.ns.HasAddress("eth0", netip.MustParseAddr("10.9.0.100"))
	if err != nil {
		t.Fatal(err)
	}
	return has
}

func (p *lbdProc) isMasterFile() bool {
	_, err := os.Stat(filepath.Join(p.dir, "is-master"))
	return err == nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lbctl runs the real lbctl against p's socket.
func lbctl(t *testing.T, bin string, p *lbdProc, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"-s", p.sock}, args...)...).CombinedOutput()
	return string(out), err
}

// Two real lbd processes, VRRP only (no virtual_servers), on a host
// without IPVS: they start, elect a master that holds the VIP and runs
// its notify command, follow the track script, show their VRRP state
// through lbctl with no ipvsadm table, refuse a reload that adds a
// virtual server (the kernel has no IPVS) leaving everything as it was,
// and the backup takes over when the master stops.
func TestNetnsVRRPOnlyNeedsNoIPVS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces)")
	}
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Log("this kernel has IPVS: the test shows VRRP-only mode works, not that it needs no IPVS")
	}
	lbdBin, lbctlBin := buildCmd(t, "lbd"), buildCmd(t, "lbctl")
	_, _, nss := netnslab.LANT(t, "vo", 2)
	ns1, ns2 := nss[0], nss[1]
	d1 := startLbd(t, lbdBin, ns1, 200)
	d2 := startLbd(t, lbdBin, ns2, 100)
	waitFor(t, "d1 MASTER with the VIP, d2 BACKUP", func() bool {
		return d1.state() == "MASTER" && d2.state() == "BACKUP" && d1.hasVIP(t) && !d2.hasVIP(t) && d1.isMasterFile()
	})

	// lbctl: no ipvsadm header, a plain word about the mode, the VRRP part.
	for _, args := range [][]string{{"status", "-n"}, {"status", "-n", "--health"}} {
		out, err := lbctl(t, lbctlBin, d1, args...)
		if err != nil || !strings.Contains(out, "No IPVS table: lbd runs VRRP only") || strings.Contains(out, "IP Virtual Server") ||
			!strings.Contains(out, "VI_1") || !strings.Contains(out, "MASTER") {
			t.Errorf("lbctl %v: %v\n%s", args, err, out)
		}
	}

	// Tracking: d1's script fails, its priority drops to 50, d2 preempts.
	if err := os.Remove(filepath.Join(d1.dir, "healthy")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "d2 MASTER with the VIP after d1's script fails", func() bool {
		return d2.state() == "MASTER" && d1.state() == "BACKUP" && d2.hasVIP(t) && !d1.hasVIP(t) && d2.isMasterFile() && !d1.isMasterFile()
	})
	if err := os.WriteFile(filepath.Join(d1.dir, "healthy"), []byte("ok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "d1 MASTER again", func() bool { return d1.state() == "MASTER" && d2.state() == "BACKUP" && d1.hasVIP(t) })

	// A reload that adds a virtual server needs IPVS: refused, nothing changes.
	good, err := os.ReadFile(d2.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d2.cfg, []byte(withService(string(good))), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := lbctl(t, lbctlBin, d2, "reload")
	if err == nil || !strings.Contains(out, "this kernel has no IPVS (load the ip_vs module: modprobe ip_vs)") {
		t.Errorf("reload adding a virtual server on a kernel without IPVS: %v\n%s", err, out)
	}
	st, err := control.NewClient(d2.sock).Status(context.Background())
	if err != nil || !st.IPVS.VRRPOnly || len(st.VRRP) != 1 || st.VRRP[0].State != "BACKUP" {
		t.Errorf("d2 after the refused reload: %v %+v", err, st)
	}
	if err := os.WriteFile(d2.cfg, good, 0o600); err != nil {
		t.Fatal(err)
	}

	// The master stops: it says so (priority 0), d2 takes over at once.
	d1.stop(t)
	waitFor(t, "d2 MASTER with the VIP after d1 stopped", func() bool {
		return d2.state() == "MASTER" && d2.hasVIP(t) && !d1.hasVIP(t) && d2.isMasterFile()
	})
	if !strings.Contains(d1.logs.String(), "vrrp_only=true") {
		t.Errorf("d1's start log does not say VRRP only:\n%s", d1.logs.String())
	}

	// A file with services still needs IPVS: lbd run says so and exits.
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		if err := os.WriteFile(d1.cfg, []byte(withService(vrrpOnlyConfig(d1.dir, 200))), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := ns1.Run(ctx, lbdBin, "run", "-c", d1.cfg)
		if err == nil || !strings.Contains(out, "this kernel has no IPVS (load the ip_vs module: modprobe ip_vs)") {
			t.Errorf("lbd run with a virtual server on a kernel without IPVS: %v\n%s", err, out)
		}
	}
}

// A VRRP-only keepalived.conf imported with lbctl import-keepalived is a
// file lbd check accepts and lbd run runs, VRRP only, on this host without
// IPVS: the one director becomes master and holds the VIP.
func TestNetnsImportedVRRPOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces)")
	}
	lbdBin, lbctlBin := buildCmd(t, "lbd"), buildCmd(t, "lbctl")
	imported, err := exec.Command(lbctlBin, "import-keepalived", "../lbctl/testdata/vrrp-only-keepalived.conf").Output()
	if err != nil {
		t.Fatalf("import-keepalived: %v", err)
	}
	_, _, nss := netnslab.LANT(t, "vi", 1)
	ns := nss[0]
	dir := t.TempDir()
	p := &lbdProc{name: ns.Name(), dir: dir, cfg: filepath.Join(dir, "lbd.yaml"), sock: filepath.Join(dir, "lbd.sock"),
		ns: ns, logs: &logBuf{}, done: make(chan error, 1)}
	// Only where lbd keeps its files changes: this test's directory.
	y := strings.Replace(string(imported), "global:\n", fmt.Sprintf("global:\n  control_socket: %[1]s\n  state_dir: %[2]s\n  metrics_address: \"\"\n", p.sock, dir), 1)
	if err := os.WriteFile(p.cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(lbdBin, "check", "-c", p.cfg).CombinedOutput(); err != nil {
		t.Fatalf("lbd check of the imported file: %v\n%s\n%s", err, out, y)
	}
	p.start(t, lbdBin)
	waitFor(t, "VI_1 MASTER with the VIP", func() bool { return p.state() == "MASTER" && p.hasVIP(t) })
	out, err := lbctl(t, lbctlBin, p, "status", "-n")
	if err != nil || !strings.Contains(out, "No IPVS table: lbd runs VRRP only") || !strings.Contains(out, "VI_1") {
		t.Errorf("lbctl status: %v\n%s", err, out)
	}
	p.stop(t)
}
