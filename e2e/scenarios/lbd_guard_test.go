//go:build testbed_guest

package scenarios

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// guardServices is how many services the removal guard scenario runs.
const guardServices = 4

// guardVIP is the VRRP instance's address in the removal guard scenario.
const guardVIP = "192.168.56.90/32 eth0:0"

// guardServicesYAML is the virtual_servers section of services
// TCP 192.168.56.9i:80 (i in idx), each with one DR real server and no
// check.
func guardServicesYAML(idx ...int) string {
	var b strings.Builder
	b.WriteString("virtual_servers:\n")
	for _, i := range idx {
		fmt.Fprintf(&b, "  - address: 192.168.56.9%d\n    port: 80\n    scheduler: rr\n    real_servers: [{address: 192.168.56.20%d}]\n", i, i)
	}
	return b.String()
}

// guardVRRPYAML is one VRRP instance, alone on its LAN: it becomes MASTER
// and holds guardVIP.
const guardVRRPYAML = `vrrp:
  instances:
    VI_1:
      state: MASTER
      interface: eth0
      virtual_router_id: 51
      priority: 200
      advert_interval: 1
      virtual_ipaddresses:
        - {address: 192.168.56.90, device: eth0, label: "eth0:0"}
`

// TestScenarioLbdRemovalGuard is issue 12's defect 1 against the real
// kernel: ": > lbd.yaml; lbctl reload" emptied the IPVS table, and a
// truncated file removed part of it. lbd runs 4 services and a VRRP
// instance holding a VIP; an emptied file, a truncated one (lbctl reload
// and SIGHUP) are refused with lbctl exiting 1 and the kernel's table
// (ipvsadm -ln) and the VIP unchanged; lbctl reload --force applies the
// truncated file. Then the start: lbd stopped, a file that would remove
// the service lbd left in the kernel makes lbd run exit non-zero with the
// table unchanged, and lbd run --force applies it.
func TestScenarioLbdRemovalGuard(t *testing.T) {
	n := newNarrator(t)
	lab := netnslab.NewT(t, "lbdguard")
	lan, err := lab.AddSwitch("lan")
	must(t, err)
	dir, _ := addSeedHost(t, lab, lan, "director", "eth0", seedDirector)
	node := newLbdNode(t, "lbd-guard", dir)

	n.Step("lbd with %d services and VRRP instance VI_1 (VIP %s)", guardServices, guardVIP)
	node.writeConfig(t, "", guardServicesYAML(1, 2, 3, 4)+guardVRRPYAML)
	full := node.yaml
	d := node.start(t)
	d.waitReady(t)
	waitGuardVIP(t, d, true)
	before := ipvsadmList(t, dir)
	n.Block(before)
	if got := len(parseIPVS(t, before)); got != guardServices {
		t.Fatalf("ipvsadm -ln shows %d services, want %d", got, guardServices)
	}

	refused := func(what string, want ...string) {
		t.Helper()
		out, errOut, code := node.lbctl(t, "reload")
		n.Note("lbctl reload (%s): exit %d\n%s%s", what, code, out, errOut)
		if code != 1 || !strings.Contains(out, "not reloaded") {
			t.Errorf("%s: lbctl reload exit %d, stdout %q: want 1 and \"not reloaded\"", what, code, out)
		}
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: lbctl reload's error %q lacks %q", what, errOut, w)
			}
		}
		guardUnchanged(t, d, what, before)
	}

	n.Step(": > lbd.yaml; lbctl reload")
	must(t, os.WriteFile(node.config, nil, 0o644))
	refused("emptied file", "no virtual_servers and no vrrp instances: the file is empty or truncated?")

	cut := strings.Index(full, "  - address: 192.168.56.92")
	truncated := full[:cut]
	n.Step("lbd.yaml truncated after the first service (the VRRP section lost too); lbctl reload")
	must(t, os.WriteFile(node.config, []byte(truncated), 0o644))
	refused("truncated file",
		"would remove 3 of the 4 IPVS services lbd manages (75%, more than removal_guard.max_percent 50%): TCP 192.168.56.92:80, TCP 192.168.56.93:80, TCP 192.168.56.94:80",
		"and 1 of the 1 VRRP instances lbd manages (all of them): VI_1",
		"lbctl reload --force")

	n.Step("The same file, kill -HUP: refused too (SIGHUP never forces)")
	refusals := strings.Count(d.log.String(), "reload refused")
	d.signal(t, syscall.SIGHUP)
	waitLog(t, d, "a refused SIGHUP reload", func(log string) bool { return strings.Count(log, "reload refused") > refusals })
	guardUnchanged(t, d, "SIGHUP", before)

	n.Step("lbctl reload --force: applied")
	out, errOut, code := node.lbctl(t, "reload", "--force")
	n.Note("exit %d\n%s%s", code, out, errOut)
	if code != 0 {
		t.Fatalf("lbctl reload --force: exit %d: %s", code, errOut)
	}
	after := ipvsadmList(t, dir)
	n.Block(after)
	if svcs := parseIPVS(t, after); len(svcs) != 1 || svcs["TCP 192.168.56.91:80"] == nil {
		t.Errorf("after the forced reload ipvsadm -ln shows %d services, want TCP 192.168.56.91:80 alone:\n%s", len(svcs), after)
	}
	waitGuardVIP(t, d, false)

	n.Step("lbd stopped (the table stays); a file whose one service is another: lbd run refuses to start")
	if _, err := d.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("lbd stop: %v", err)
	}
	before = ipvsadmList(t, dir)
	node.writeConfig(t, "", guardServicesYAML(5))
	refusedStart := node.start(t)
	select {
	case <-refusedStart.done:
	case <-time.After(settle):
		t.Fatalf("lbd run with a file that removes every managed service still runs after %v", settle)
	}
	log := refusedStart.log.String()
	n.Note("lbd run: %v", refusedStart.err)
	if refusedStart.err == nil || !strings.Contains(log, "start refused") ||
		!strings.Contains(log, "would remove 1 of the 1 IPVS services lbd manages (all of them): TCP 192.168.56.91:80") ||
		!strings.Contains(log, "lbd run --force") {
		t.Errorf("lbd run: exit %v, log:\n%s", refusedStart.err, log)
	}
	if now := ipvsadmList(t, dir); now != before {
		t.Errorf("a refused start changed the table:\n%s", diffLines(before, now))
	}

	n.Step("lbd run --force: applied")
	forced := &lbdDaemon{daemon: startDaemon(t, dir, "lbd run --force on "+node.name, commandPath(t, "lbd"), "run", "--force", "-c", node.config), node: node}
	forced.waitReady(t)
	after = ipvsadmList(t, dir)
	n.Block(after)
	if svcs := parseIPVS(t, after); len(svcs) != 1 || svcs["TCP 192.168.56.95:80"] == nil {
		t.Errorf("after lbd run --force ipvsadm -ln shows %d services, want TCP 192.168.56.95:80 alone:\n%s", len(svcs), after)
	}
}

// guardUnchanged checks that the kernel's table is still before and that
// lbd still holds the VIP as MASTER.
func guardUnchanged(t *testing.T, d *lbdDaemon, what, before string) {
	t.Helper()
	if now := ipvsadmList(t, d.node.ns); now != before {
		t.Errorf("%s: the refused reload changed the table:\n%s", what, diffLines(before, now))
	}
	if !hasAddr(ipv4Addrs(t, d.node.ns, "eth0"), guardVIP) {
		t.Errorf("%s: the VIP %s is gone after a refused reload", what, guardVIP)
	}
	if st, err := d.status(t); err != nil || len(st.VRRP) != 1 || st.VRRP[0].State != "MASTER" {
		t.Errorf("%s: VRRP after a refused reload: %+v, %v", what, st.VRRP, err)
	}
}

// waitGuardVIP waits until VI_1 is MASTER with the VIP on eth0 (held) or
// the VIP is gone (not held).
func waitGuardVIP(t *testing.T, d *lbdDaemon, held bool) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		has := hasAddr(ipv4Addrs(t, d.node.ns, "eth0"), guardVIP)
		ok := has == held
		if held && ok {
			st, err := d.status(t)
			ok = err == nil && len(st.VRRP) == 1 && st.VRRP[0].State == "MASTER"
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("VIP %s held %v, want %v, after %v; log:\n%s", guardVIP, has, held, settle, d.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLog waits until ok holds for the daemon's log.
func waitLog(t *testing.T, d *lbdDaemon, what string, ok func(log string) bool) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for !ok(d.log.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s in lbd's log after %v:\n%s", what, settle, d.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
