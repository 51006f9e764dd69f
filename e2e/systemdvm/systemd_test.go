//go:build testbed_systemd

package systemdvm

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
)

// TestSystemdInstall installs the two packages with dpkg on a system with
// systemd as PID 1: the units are in place and neither is enabled or
// started by the installation.
func TestSystemdInstall(t *testing.T) {
	if out, _ := run("cat", "/proc/1/comm"); strings.TrimSpace(out) != "systemd" {
		t.Fatalf("PID 1 is %q, want systemd", strings.TrimSpace(out))
	}
	ensureInstalled(t)
	for _, unit := range []string{"lbd.service", "lbrs.service"} {
		p := show(t, unit, "FragmentPath", "UnitFileState", "ActiveState", "Type")
		t.Logf("%s: %v", unit, p)
		if p["FragmentPath"] != "/lib/systemd/system/"+unit || p["Type"] != "notify" {
			t.Errorf("%s: %v, want FragmentPath /lib/systemd/system/%s and Type notify", unit, p, unit)
		}
		if p["UnitFileState"] != "disabled" || p["ActiveState"] != "inactive" {
			t.Errorf("%s after dpkg -i: %v, want disabled and inactive (nothing enabled or started by surprise)", unit, p)
		}
	}
	// --man=no: the root has no man command; the pages the units name are
	// checked as files.
	for _, page := range []string{"/usr/share/man/man8/lbd.8.gz", "/usr/share/man/man8/lbrs.8.gz"} {
		if _, err := os.Stat(page); err != nil {
			t.Errorf("the units' Documentation: %v", err)
		}
	}
	if out, err := run("systemd-analyze", "verify", "--man=no", "lbd.service", "lbrs.service"); err != nil {
		t.Errorf("systemd-analyze verify: %v", err)
	} else if strings.TrimSpace(out) != "" {
		t.Logf("systemd-analyze verify said:\n%s", out)
	}
}

// The director's addresses: lbd0 (VRRP, the VIP) is one end of a veth pair
// whose other end sits in the namespace lbpeer, where tcpdump watches the
// wire; the two real servers are this test's HTTP servers on lo.
const (
	dirAddr = "10.77.0.1/24"
	vip     = "10.77.0.100"
	web1    = "10.77.1.10"
	web2    = "10.77.1.11"
)

// lbdYAML is the director's file: a VRRP instance holding the VIP with a
// track script run as nobody that always times out, the sync daemon
// following it, one service with an HTTP check on each real server and,
// on web1, a script check run as nobody.
func lbdYAML(weight1 int) string {
	return fmt.Sprintf(`global:
  router_id: systemd-vm
ipvs:
  sync_daemon:
    interface: lbd0
    sync_id: 51
    role: auto
    instance: VI_1
vrrp:
  instances:
    VI_1:
      state: MASTER
      interface: lbd0
      virtual_router_id: 51
      priority: 200
      advert_interval: 1
      bfd: {}
      virtual_ipaddresses:
        - address: %[1]s
          device: lbd0
      track_scripts:
        - name: chk_slow
  # Times out every time, as nobody: lbd must kill it (priority 200-10).
  scripts:
    chk_slow:
      command: ["/bin/sleep", "30"]
      interval: 2s
      timeout: 1s
      weight: -10
      user: nobody
virtual_servers:
  - address: %[1]s
    port: 80
    protocol: TCP
    scheduler: rr
    forwarding: DR
    delay_loop: 1
    real_servers:
      - address: %[2]s
        weight: %[4]d
        checks:
          - type: http
            urls:
              - path: /health
            connect_timeout: 1
          - type: script
            command: ["/bin/true"]
            user: nobody
      - address: %[3]s
        weight: 1
        checks:
          - type: http
            urls:
              - path: /health
            connect_timeout: 1
`, vip, web1, web2, weight1)
}

// setupDirectorNet makes lbd0, the peer namespace and the real servers'
// addresses, removed at the end of the test with the IPVS table.
func setupDirectorNet(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		run("systemctl", "stop", "lbd")
		run("ipvsadm", "-C")
		run("ipvsadm", "--stop-daemon", "master")
		run("ipvsadm", "--stop-daemon", "backup")
		run("ip", "link", "del", "lbd0")
		run("ip", "netns", "del", "lbpeer")
		run("ip", "addr", "del", web1+"/32", "dev", "lo")
		run("ip", "addr", "del", web2+"/32", "dev", "lo")
	})
	must(t, "ip", "netns", "add", "lbpeer")
	must(t, "ip", "link", "add", "lbd0", "type", "veth", "peer", "name", "lbpeer0", "netns", "lbpeer")
	must(t, "ip", "addr", "add", dirAddr, "dev", "lbd0")
	must(t, "ip", "link", "set", "lbd0", "up")
	must(t, "ip", "-n", "lbpeer", "link", "set", "lo", "up")
	must(t, "ip", "-n", "lbpeer", "addr", "add", "10.77.0.2/24", "dev", "lbpeer0")
	must(t, "ip", "-n", "lbpeer", "link", "set", "lbpeer0", "up")
	must(t, "ip", "addr", "add", web1+"/32", "dev", "lo")
	must(t, "ip", "addr", "add", web2+"/32", "dev", "lo")
}

// TestSystemdLbd drives lbd.service as installed by the package: start
// through READY=1, the hardening in force with VRRP (adverts and GARP on
// the wire), the sync daemon and the checks working, reload (a change
// applied; a broken file refused, lbd running on, the reason in systemctl
// status), kill -9 (Restart=always, zero IPVS writes) and stop (the table
// stays).
func TestSystemdLbd(t *testing.T) {
	ensureInstalled(t)
	setupDirectorNet(t)
	w1, w2 := startWeb(t, web1+":80"), startWeb(t, web2+":80")
	_ = w1
	wire := startCapture(t, "ip", "netns", "exec", "lbpeer", "tcpdump", "-l", "-n", "-i", "lbpeer0", "vrrp or arp")
	writeFile(t, "/etc/lbd/lbd.yaml", lbdYAML(1), 0o600)

	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"start", testLbdStart},
		{"hardening", testLbdHardening},
		{"vrrp", func(t *testing.T) { testLbdVRRP(t, wire) }},
		{"bfd", testLbdBFD},
		{"checks", func(t *testing.T) { testLbdChecks(t, w2) }},
		{"script-timeout", testLbdScriptTimeout},
		{"reload", testLbdReload},
		{"reload-broken", testLbdReloadBroken},
		{"kill9", testLbdKill9},
		{"stop", testLbdStop},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) {
			t.Logf("journal of lbd:\n%s", journal("lbd"))
			return
		}
	}
}

func journal(unit string) string {
	out, _ := run("journalctl", "-u", unit, "--no-pager", "-o", "short-monotonic", "-n", "60")
	return out
}

// testLbdStart: systemctl start returns once lbd said READY=1, which it
// says after its first apply: the table is in place when start returns.
func testLbdStart(t *testing.T) {
	start := time.Now()
	must(t, "systemctl", "start", "lbd")
	took := time.Since(start)
	table := ipvsSave(t)
	p := show(t, "lbd", "ActiveState", "SubState", "Type", "NotifyAccess", "MainPID", "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")
	t.Logf("systemctl start lbd returned after %s: %v; ipvsadm -Sn:\n%s", took.Round(time.Millisecond), p, table)
	if p["ActiveState"] != "active" || p["SubState"] != "running" || p["Type"] != "notify" {
		t.Fatalf("after systemctl start: %v, want active (running), Type=notify", p)
	}
	if !strings.Contains(table, "-A -t "+vip+":80 -s rr") || !strings.Contains(table, "-a -t "+vip+":80 -r "+web1+":80 -g -w 1") {
		t.Errorf("the table when systemctl start returned (READY=1 comes after the first apply):\n%s", table)
	}
	execAt, _ := strconv.ParseInt(p["ExecMainStartTimestampMonotonic"], 10, 64)
	activeAt, _ := strconv.ParseInt(p["ActiveEnterTimestampMonotonic"], 10, 64)
	t.Logf("READY=1 %s after the exec", time.Duration(activeAt-execAt)*time.Microsecond)
	if activeAt <= execAt {
		t.Errorf("active at %d µs, not after the exec at %d µs: not through READY=1", activeAt, execAt)
	}
	if out, _ := run("journalctl", "-u", "lbd", "--no-pager", "-o", "cat"); !strings.Contains(out, "Started lbd.service") && !strings.Contains(out, "Started lbd") {
		t.Errorf("the journal has no start of lbd:\n%s", out)
	}
}

// testLbdHardening: the unit's sandbox is in force on the running lbd.
func testLbdHardening(t *testing.T) {
	pid := show(t, "lbd", "MainPID")["MainPID"]
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"CapBnd:":     "00000000000130e0", // CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_MODULE CAP_SETUID CAP_SETGID CAP_KILL
		"NoNewPrivs:": "1",
		"Seccomp:":    "2", // RestrictAddressFamilies and friends are seccomp filters
	}
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) == 2 {
			if w, ok := want[f[0]]; ok {
				if f[1] != w {
					t.Errorf("lbd's %s %s, want %s", f[0], f[1], w)
				}
				delete(want, f[0])
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("not in /proc/%s/status: %v", pid, want)
	}
	mounts, err := os.ReadFile("/proc/" + pid + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	roUsr := false
	for _, l := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(l)
		if len(f) > 5 && f[4] == "/usr" && strings.HasPrefix(f[5], "ro") {
			roUsr = true
		}
	}
	if !roUsr {
		t.Errorf("ProtectSystem: /usr is not read-only in lbd's mounts:\n%s", mounts)
	}
}

// testLbdVRRP: the instance becomes MASTER, adds the VIP, and its adverts
// and gratuitous ARP reach the wire; the sync daemon follows it.
func testLbdVRRP(t *testing.T, wire *capture) {
	waitFor(t, "VI_1 MASTER with the VIP on lbd0", 30*time.Second, func() (bool, string) {
		out, _ := run("ip", "-o", "addr", "show", "dev", "lbd0")
		st, err := lbdStatus()
		if err != nil {
			return false, err.Error()
		}
		return len(st.VRRP) == 1 && st.VRRP[0].State == "MASTER" && strings.Contains(out, " "+vip+"/32 "), fmt.Sprintf("%+v %s", st.VRRP, out)
	})
	waitFor(t, "adverts and GARP on the wire", 20*time.Second, func() (bool, string) {
		adv := wire.lines("VRRPv2, Advertisement, vrid 51")
		garp := wire.lines("ARP", vip)
		return len(adv) >= 3 && len(garp) >= 1, fmt.Sprintf("%d adverts, GARP %q", len(adv), garp)
	})
	t.Logf("on the wire: %q ... %q", wire.lines("VRRPv2")[0], wire.lines("ARP", vip))
	sent, err := metric("lbd_vrrp_adverts_sent_total")
	if err != nil || sent < 3 {
		t.Errorf("lbd_vrrp_adverts_sent_total %v (%v), want >= 3", sent, err)
	}
	waitFor(t, "the master sync daemon on lbd0", 20*time.Second, func() (bool, string) {
		out, _ := run("ipvsadm", "-L", "--daemon")
		return strings.Contains(out, "master sync daemon") && strings.Contains(out, "syncid=51"), out
	})
}

// peerYAML is a VRRP-only BACKUP of VI_1 with BFD, in the peer namespace:
// it runs a BFD session to the master it hears, which the systemd lbd
// answers on UDP 3784 from inside its sandbox.
const peerYAML = `global:
  router_id: peer
  control_socket: /run/lbpeer.sock
  metrics_address: ""
vrrp:
  instances:
    VI_1:
      state: BACKUP
      interface: lbpeer0
      virtual_router_id: 51
      priority: 100
      advert_interval: 1
      bfd: {}
      virtual_ipaddresses:
        - address: ` + vip + `
          device: lbpeer0
`

// testLbdBFD: a backup lbd (a plain process in the peer namespace) brings
// its BFD session to the systemd lbd Up and stays BACKUP; it is stopped
// before the next steps.
func testLbdBFD(t *testing.T) {
	writeFile(t, "/root/lbpeer.yaml", peerYAML, 0o600)
	peer := exec.Command("ip", "netns", "exec", "lbpeer", "/usr/sbin/lbd", "run", "-c", "/root/lbpeer.yaml")
	var out strings.Builder
	peer.Stdout, peer.Stderr = &out, &out
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		peer.Process.Signal(syscall.SIGTERM)
		peer.Wait()
		if t.Failed() {
			t.Logf("the peer's log:\n%s", out.String())
		}
	}()
	waitFor(t, "the peer's BFD session to the systemd lbd Up", 60*time.Second, func() (bool, string) {
		b, err := exec.Command("lbctl", "-s", "/run/lbpeer.sock", "status", "--json").Output()
		if err != nil {
			return false, err.Error()
		}
		var st control.Status
		if err := json.Unmarshal(b, &st); err != nil {
			return false, err.Error()
		}
		if len(st.VRRP) != 1 {
			return false, string(b)
		}
		v := st.VRRP[0]
		up := len(v.BFD) == 1 && v.BFD[0].Peer.String() == "10.77.0.1" && v.BFD[0].State == "Up"
		return up && v.State == "BACKUP", fmt.Sprintf("state %s bfd %+v", v.State, v.BFD)
	})
	st, err := lbdStatus()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the systemd lbd: VI_1 %s, BFD %+v", st.VRRP[0].State, st.VRRP[0].BFD)
	if st.VRRP[0].State != "MASTER" {
		t.Errorf("the systemd lbd is %s with the peer up, want MASTER", st.VRRP[0].State)
	}
}

// realServer returns the status of the real server at addr.
func realServer(st control.Status, addr string) (control.RealServer, bool) {
	for _, rs := range st.RealServers {
		if rs.Address.String() == addr {
			return rs, true
		}
	}
	return control.RealServer{}, false
}

// testLbdChecks: both real servers up (web1's script check runs as nobody),
// web2 failing its HTTP check goes down, and up again when it recovers.
func testLbdChecks(t *testing.T, w2 *webServer) {
	state := func(addr string, up bool) func() (bool, string) {
		return func() (bool, string) {
			st, err := lbdStatus()
			if err != nil {
				return false, err.Error()
			}
			rs, ok := realServer(st, addr)
			inKernel := rs.KernelWeight != nil && *rs.KernelWeight > 0
			return ok && rs.Up == up && inKernel == up, fmt.Sprintf("%+v checks %+v", rs, st.Checks)
		}
	}
	waitFor(t, "web1 and web2 up", 30*time.Second, func() (bool, string) {
		ok1, s1 := state(web1, true)()
		ok2, s2 := state(web2, true)()
		return ok1 && ok2, s1 + " | " + s2
	})
	w2.setFailing(true)
	waitFor(t, "web2 down after its check failed", 30*time.Second, state(web2, false))
	w2.setFailing(false)
	waitFor(t, "web2 up again", 30*time.Second, state(web2, true))
}

// testLbdScriptTimeout: the track script run as nobody times out every
// 2 s; lbd kills each one (at most one sleep at a time) and the instance
// runs at priority 190.
func testLbdScriptTimeout(t *testing.T) {
	waitFor(t, "VI_1 at priority 190 (chk_slow failing)", 30*time.Second, func() (bool, string) {
		st, err := lbdStatus()
		return err == nil && len(st.VRRP) == 1 && st.VRRP[0].EffectivePriority == 190, fmt.Sprintf("%+v %v", st.VRRP, err)
	})
	time.Sleep(7 * time.Second) // three or four timeouts
	out, _ := run("pgrep", "-u", "nobody", "-a", "sleep")
	if n := len(strings.FieldsFunc(out, func(r rune) bool { return r == '\n' })); n > 1 {
		t.Errorf("%d timed-out scripts left running (lbd could not kill them):\n%s\n%s", n, out, journal("lbd"))
	}
}

// testLbdReload: systemctl reload applies a changed weight.
func testLbdReload(t *testing.T) {
	pid := show(t, "lbd", "MainPID")["MainPID"]
	writeFile(t, "/etc/lbd/lbd.yaml", lbdYAML(3), 0o600)
	must(t, "systemctl", "reload", "lbd")
	want := "-a -t " + vip + ":80 -r " + web1 + ":80 -g -w 3"
	waitFor(t, "web1 at weight 3 after systemctl reload", 20*time.Second, func() (bool, string) {
		out := ipvsSave(t)
		return strings.Contains(out, want), out
	})
	if p := show(t, "lbd", "MainPID", "ActiveState"); p["MainPID"] != pid || p["ActiveState"] != "active" {
		t.Errorf("after the reload: %v, want the same pid %s, active", p, pid)
	}
}

// testLbdReloadBroken: a broken file is refused: lbd runs on with the old
// table, and systemctl status shows why.
func testLbdReloadBroken(t *testing.T) {
	pid := show(t, "lbd", "MainPID")["MainPID"]
	before := ipvsSave(t)
	writeFile(t, "/etc/lbd/lbd.yaml", lbdYAML(5)+"no_such_key: 1\n", 0o600)
	must(t, "systemctl", "reload", "lbd")
	var status string
	waitFor(t, "the refusal in systemctl status", 20*time.Second, func() (bool, string) {
		status, _ = run("systemctl", "status", "lbd", "--no-pager", "-l", "-n", "20")
		return strings.Contains(status, "reload refused") && strings.Contains(status, "no_such_key"), status
	})
	t.Logf("systemctl status lbd:\n%s", status)
	if !strings.Contains(status, "/etc/lbd/lbd.yaml:") {
		t.Errorf("systemctl status does not name the file and line:\n%s", status)
	}
	// lbd's STATUS= (Status: in systemctl status) keeps the reason in view.
	if st := show(t, "lbd", "StatusText")["StatusText"]; !strings.Contains(st, "reload invalid") || !strings.Contains(st, "/etc/lbd/lbd.yaml:") {
		t.Errorf("StatusText %q, want the refused reload with the file and line", st)
	}
	if !strings.Contains(status, "active (running)") {
		t.Errorf("lbd is not active (running) after the broken reload:\n%s", status)
	}
	if p := show(t, "lbd", "MainPID"); p["MainPID"] != pid {
		t.Errorf("MainPID %s after the broken reload, want %s", p["MainPID"], pid)
	}
	if after := ipvsSave(t); after != before {
		t.Errorf("the table changed on a broken reload:\n%s\nwant:\n%s", after, before)
	}
	writeFile(t, "/etc/lbd/lbd.yaml", lbdYAML(3), 0o600)
	must(t, "systemctl", "reload", "lbd")
}

// testLbdKill9: Restart=always brings a killed lbd back, and the new one
// adopts the table with zero IPVS writes.
func testLbdKill9(t *testing.T) {
	waitFor(t, "lbd in sync before the kill", 20*time.Second, func() (bool, string) {
		st, err := lbdStatus()
		return err == nil && st.IPVS.InSync, fmt.Sprintf("%+v %v", st.IPVS.Pending, err)
	})
	before := ipvsSave(t)
	p := show(t, "lbd", "MainPID", "NRestarts")
	must(t, "kill", "-9", p["MainPID"])
	killed := time.Now()
	var now map[string]string
	waitFor(t, "lbd restarted by systemd", time.Minute, func() (bool, string) {
		now = show(t, "lbd", "MainPID", "NRestarts", "ActiveState", "SubState")
		return now["MainPID"] != p["MainPID"] && now["MainPID"] != "0" && now["ActiveState"] == "active" && now["SubState"] == "running", fmt.Sprint(now)
	})
	t.Logf("restarted %s after the kill: %v (before %v)", time.Since(killed).Round(time.Millisecond), now, p)
	n0, _ := strconv.Atoi(p["NRestarts"])
	if n, _ := strconv.Atoi(now["NRestarts"]); n != n0+1 {
		t.Errorf("NRestarts %d, want %d", n, n0+1)
	}
	var st control.Status
	waitFor(t, "the new lbd's status after its first apply", 20*time.Second, func() (bool, string) {
		var err error
		st, err = lbdStatus()
		return err == nil && strconv.Itoa(st.Daemon.PID) == now["MainPID"] && st.IPVS.LastApply != nil, fmt.Sprint(err)
	})
	t.Logf("the new lbd: writes %d, last apply %+v, in sync %v", st.IPVS.Writes, st.IPVS.LastApply, st.IPVS.InSync)
	if st.IPVS.Writes != 0 || st.IPVS.LastApply.Writes != 0 {
		t.Errorf("the restarted lbd made %d IPVS writes (last apply %+v), want 0", st.IPVS.Writes, st.IPVS.LastApply)
	}
	if after := ipvsSave(t); after != before {
		t.Errorf("the table after the restart:\n%s\nwant as before:\n%s", after, before)
	}
}

// testLbdStop: systemctl stop ends lbd cleanly and leaves the table.
func testLbdStop(t *testing.T) {
	before := ipvsSave(t)
	must(t, "systemctl", "stop", "lbd")
	p := show(t, "lbd", "ActiveState", "Result", "ExecMainStatus")
	t.Logf("after systemctl stop: %v", p)
	if p["ActiveState"] != "inactive" || p["Result"] != "success" {
		t.Errorf("after systemctl stop: %v, want inactive, result success", p)
	}
	if after := ipvsSave(t); after != before || !strings.Contains(after, "-A -t "+vip+":80") {
		t.Errorf("the table after systemctl stop:\n%s\nwant as before:\n%s", after, before)
	}
}

// sysctl reads or writes a sysctl.
func sysctl(t *testing.T, name string, value ...string) string {
	t.Helper()
	p := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
	if len(value) > 0 {
		writeFile(t, p, value[0], 0o644)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestSystemdLbrs: lbrs.service puts the VIP on lo and sets the ARP
// sysctls; systemctl stop lbrs restores the node as it found it.
func TestSystemdLbrs(t *testing.T) {
	ensureInstalled(t)
	const rsVIP = "10.77.2.100"
	names := []string{"net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce", "net.ipv4.conf.lo.arp_ignore", "net.ipv4.conf.lo.arp_announce"}
	orig := map[string]string{}
	for _, n := range names {
		orig[n] = sysctl(t, n)
	}
	t.Cleanup(func() {
		run("systemctl", "stop", "lbrs")
		for n, v := range orig {
			os.WriteFile("/proc/sys/"+strings.ReplaceAll(n, ".", "/"), []byte(v), 0o644)
		}
		run("ip", "addr", "del", rsVIP+"/32", "dev", "lo")
	})
	// A value that is not the default, to see it come back rather than 0.
	sysctl(t, "net.ipv4.conf.all.arp_announce", "1")
	found := map[string]string{}
	for _, n := range names {
		found[n] = sysctl(t, n)
	}
	writeFile(t, "/etc/lbrs/lbrs.yaml", "mode: dr\nvips:\n  - "+rsVIP+"\nsysctls:\n  arp_ignore: 1\n  arp_announce: 2\n", 0o644)
	must(t, "systemctl", "start", "lbrs")
	if p := show(t, "lbrs", "ActiveState", "SubState"); p["ActiveState"] != "active" || p["SubState"] != "running" {
		t.Fatalf("after systemctl start lbrs: %v\n%s", p, journal("lbrs"))
	}
	if out := must(t, "ip", "-o", "addr", "show", "dev", "lo"); !strings.Contains(out, " "+rsVIP+"/32 ") {
		t.Errorf("the VIP is not on lo while lbrs runs:\n%s", out)
	}
	for n, want := range map[string]string{names[0]: "1", names[1]: "2", names[2]: "1", names[3]: "2"} {
		if got := sysctl(t, n); got != want {
			t.Errorf("while lbrs runs %s = %s, want %s", n, got, want)
		}
	}
	must(t, "systemctl", "stop", "lbrs")
	p := show(t, "lbrs", "ActiveState", "Result")
	t.Logf("after systemctl stop lbrs: %v", p)
	if p["ActiveState"] != "inactive" || p["Result"] != "success" {
		t.Errorf("after systemctl stop lbrs: %v, want inactive, result success\n%s", p, journal("lbrs"))
	}
	if out := must(t, "ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(out, rsVIP) {
		t.Errorf("the VIP is still on lo after systemctl stop lbrs:\n%s", out)
	}
	for _, n := range names {
		if got := sysctl(t, n); got != found[n] {
			t.Errorf("after systemctl stop lbrs %s = %s, want %s as before", n, got, found[n])
		}
	}
}

// TestSystemdLbrsTun: lbrs.service in tun mode on a node without the ipip
// module: lbrs loads it with modprobe inside the unit's sandbox
// (CAP_SYS_MODULE, SystemCallFilter=@system-service @module, ProtectSystem
// strict), puts the VIP on tunl0 with rp_filter 0, and systemctl stop
// takes it off and restores rp_filter. The initramfs loaded every module
// the testbed needs, ipip among them, and copied them to /lib/modules:
// the test unloads ipip and runs depmod first.
func TestSystemdLbrsTun(t *testing.T) {
	ensureInstalled(t)
	const rsVIP = "10.77.4.100"
	must(t, "depmod", "-a")
	if _, err := os.Stat("/sys/module/ipip"); err == nil {
		must(t, "rmmod", "ipip")
	}
	if _, err := os.Stat("/sys/class/net/tunl0"); err == nil {
		t.Fatalf("tunl0 exists with ipip unloaded")
	}
	names := []string{"net.ipv4.conf.all.rp_filter"}
	orig := sysctl(t, names[0])
	sysctl(t, names[0], "2") // not the value lbrs sets, to see it come back
	t.Cleanup(func() {
		run("systemctl", "stop", "lbrs")
		os.WriteFile("/proc/sys/net/ipv4/conf/all/rp_filter", []byte(orig), 0o644)
	})
	writeFile(t, "/etc/lbrs/lbrs.yaml", "mode: tun\nvips:\n  - "+rsVIP+"\n", 0o644)
	if _, err := run("systemctl", "start", "lbrs"); err != nil {
		t.Fatalf("%v\n%s", err, journal("lbrs"))
	}
	if _, err := os.Stat("/sys/module/ipip"); err != nil {
		t.Errorf("ipip not loaded by lbrs: %v\n%s", err, journal("lbrs"))
	}
	if out, _ := run("ip", "-o", "addr", "show", "dev", "tunl0"); !strings.Contains(out, " "+rsVIP+"/32 ") {
		t.Errorf("the VIP is not on tunl0 while lbrs runs:\n%s\n%s", out, journal("lbrs"))
	}
	if got := sysctl(t, "net.ipv4.conf.tunl0.rp_filter"); got != "0" {
		t.Errorf("tunl0 rp_filter %s while lbrs runs, want 0", got)
	}
	must(t, "systemctl", "stop", "lbrs")
	if p := show(t, "lbrs", "ActiveState", "Result"); p["ActiveState"] != "inactive" || p["Result"] != "success" {
		t.Errorf("after systemctl stop lbrs: %v\n%s", p, journal("lbrs"))
	}
	if out, _ := run("ip", "-o", "addr", "show", "dev", "tunl0"); strings.Contains(out, rsVIP) {
		t.Errorf("the VIP is still on tunl0 after systemctl stop lbrs:\n%s", out)
	}
	if got := sysctl(t, names[0]); got != "2" {
		t.Errorf("all.rp_filter %s after systemctl stop lbrs, want 2 as before", got)
	}
}

// TestSystemdPackageLifecycle runs the maintainer scripts' systemd branches
// (taken only when /run/systemd/system exists, so the throwaway-root test
// of deploy/cmd/mkdeb never reaches them) on lbd: with lbd enabled and
// running, installing the package again (an upgrade: postinst configure
// with the old version) keeps it enabled and try-restarts it, and the new
// lbd adopts the table with zero writes and the operator's lbd.yaml;
// dpkg -r stops it (prerm) and leaves the table and lbd.yaml; dpkg -P
// removes /etc/lbd and /var/lib/lbd.
func TestSystemdPackageLifecycle(t *testing.T) {
	ensureInstalled(t)
	t.Cleanup(func() {
		run("systemctl", "disable", "--now", "lbd")
		run("ipvsadm", "-C")
	})
	const conf = "/etc/lbd/lbd.yaml"
	yaml := "virtual_servers:\n  - address: 10.77.3.100\n    port: 80\n    protocol: TCP\n    scheduler: wrr\n    real_servers:\n      - address: 10.77.3.10\n        weight: 2\n"
	writeFile(t, conf, yaml, 0o600)
	must(t, "systemctl", "enable", "--now", "lbd")
	before := show(t, "lbd", "MainPID", "UnitFileState", "ActiveState")
	table := ipvsSave(t)
	if before["ActiveState"] != "active" || before["UnitFileState"] != "enabled" || !strings.Contains(table, "-A -t 10.77.3.100:80 -s wrr") {
		t.Fatalf("after systemctl enable --now lbd: %v\n%s", before, table)
	}
	debs, _ := filepath.Glob(filepath.Join(guestDir, "lbd_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("lbd's package in %s: %v", guestDir, debs)
	}
	t.Log(must(t, "dpkg", "--force-unsafe-io", "-i", debs[0]))
	after := show(t, "lbd", "MainPID", "UnitFileState", "ActiveState")
	t.Logf("lbd before the upgrade %v, after %v", before, after)
	if after["UnitFileState"] != "enabled" || after["ActiveState"] != "active" || after["MainPID"] == before["MainPID"] {
		t.Errorf("after the upgrade: %v, want enabled, active and a new pid (try-restart; before %v)", after, before)
	}
	var st control.Status
	waitFor(t, "the restarted lbd's first apply", 20*time.Second, func() (bool, string) {
		var err error
		st, err = lbdStatus()
		return err == nil && strconv.Itoa(st.Daemon.PID) == after["MainPID"] && st.IPVS.LastApply != nil, fmt.Sprint(err)
	})
	if st.IPVS.Writes != 0 {
		t.Errorf("the lbd restarted by the upgrade made %d IPVS writes (last apply %+v), want 0", st.IPVS.Writes, st.IPVS.LastApply)
	}
	if b, err := os.ReadFile(conf); err != nil || string(b) != yaml {
		t.Errorf("%s after the upgrade: %q (%v), want the operator's file", conf, b, err)
	}

	t.Log(must(t, "dpkg", "-r", "lbd"))
	if p := show(t, "lbd", "ActiveState"); p["ActiveState"] != "inactive" {
		t.Errorf("after dpkg -r lbd: %v, want inactive (prerm stops it)", p)
	}
	if got := ipvsSave(t); got != table {
		t.Errorf("the table after dpkg -r lbd:\n%s\nwant as before:\n%s", got, table)
	}
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("dpkg -r removed the operator's %s: %v", conf, err)
	}
	t.Log(must(t, "dpkg", "-P", "lbd"))
	for _, p := range []string{"/etc/lbd", "/var/lib/lbd"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after dpkg -P lbd: %v, want it gone", p, err)
		}
	}
}
