//go:build testbed_guest

package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/internal/netnslab"
)

// planServicesA and planServicesB are the two files of the plan scenario:
// from A to B one weight changes, a real server joins, a scheduler
// changes, a service goes and another comes.
const planServicesA = `virtual_servers:
  - {address: 192.168.56.91, port: 80, scheduler: rr, real_servers: [{address: 192.168.56.201}, {address: 192.168.56.202}]}
  - {address: 192.168.56.92, port: 80, scheduler: wlc, real_servers: [{address: 192.168.56.203}]}
  - {address: 192.168.56.93, port: 80, scheduler: rr, real_servers: [{address: 192.168.56.204}]}
`

const planServicesB = `virtual_servers:
  - {address: 192.168.56.91, port: 80, scheduler: rr, real_servers: [{address: 192.168.56.201, weight: 3}, {address: 192.168.56.202}, {address: 192.168.56.205}]}
  - {address: 192.168.56.92, port: 80, scheduler: wrr, real_servers: [{address: 192.168.56.203}]}
  - {address: 192.168.56.94, port: 80, scheduler: sh, real_servers: [{address: 192.168.56.206}]}
`

var ruleRE = regexp.MustCompile(`msg="IPVS changed" .*rule="([^"]*)"`)

// planLines are the IPVS writes of a plan's text: its lines in ipvsadm
// syntax, without what an update changes.
func planLines(out string) []string {
	var rules []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "-") {
			rule, _, _ := strings.Cut(l, "\t#")
			rules = append(rules, rule)
		}
	}
	return rules
}

// writtenSince are the IPVS writes lbd logged after the first from bytes
// of its log (the rules, without what an update changes: "(weight 1 -> 3)").
func writtenSince(log string, from int) []string {
	var rules []string
	for _, m := range ruleRE.FindAllStringSubmatch(log[from:], -1) {
		rule, _, _ := strings.Cut(m[1], " (")
		rules = append(rules, rule)
	}
	return rules
}

// TestScenarioLbdPlan is issue 17's plan on the real kernel: lbctl reload
// --dry-run prints the writes the reload then makes (lbd's log of its
// netlink writes), and the same lines given to the real ipvsadm, one by
// one, turn the table before into the table lbd made. With lbd stopped,
// lbd plan -c FILE plans a start against the kernel's table, and the start
// writes just that. lbctl events --json: valid JSON lines, seq increasing,
// the VRRP transitions with their reason, the reload.
func TestScenarioLbdPlan(t *testing.T) {
	n := newNarrator(t)
	lab := netnslab.NewT(t, "lbdplan")
	lan, err := lab.AddSwitch("lan")
	must(t, err)
	dir, _ := addSeedHost(t, lab, lan, "director", "eth0", seedDirector)
	node := newLbdNode(t, "lbd-plan", dir)

	n.Step("lbd with 3 services and VRRP instance VI_1")
	node.writeConfig(t, "resync_interval: 1h", planServicesA+guardVRRPYAML)
	d := node.start(t)
	d.waitReady(t)
	waitGuardVIP(t, d, true)
	saveA := run(t, dir, "ipvsadm", "-S", "-n")
	n.Block(saveA)

	n.Step("lbd.yaml changed (weight, a server added, a scheduler, a service replaced, VI_1's priority); lbctl reload --dry-run")
	node.writeConfig(t, "resync_interval: 1h", planServicesB+strings.Replace(guardVRRPYAML, "priority: 200", "priority: 150", 1))
	out, errOut, code := node.lbctl(t, "reload", "--dry-run")
	n.Block(out)
	planned := planLines(out)
	if code != 1 || len(planned) == 0 || !strings.Contains(out, "vrrp: restart VI_1") || !strings.Contains(out, "Plan: ") {
		t.Fatalf("lbctl reload --dry-run: exit %d (want 1), stderr %q", code, errOut)
	}
	if now := run(t, dir, "ipvsadm", "-S", "-n"); now != saveA {
		t.Fatalf("the dry run changed the table:\n%s", diffLines(saveA, now))
	}

	n.Step("lbctl reload: lbd writes exactly the plan")
	from := len(d.log.String())
	if out, errOut, code := node.lbctl(t, "reload"); code != 0 {
		t.Fatalf("lbctl reload: exit %d\n%s%s", code, out, errOut)
	}
	written := writtenSince(d.log.String(), from)
	n.Note("planned %d writes, lbd wrote %d", len(planned), len(written))
	if !slices.Equal(planned, written) {
		t.Errorf("the reload wrote\n%s\nthe plan said\n%s", strings.Join(written, "\n"), strings.Join(planned, "\n"))
	}
	saveB := run(t, dir, "ipvsadm", "-S", "-n")
	n.Block(saveB)

	checkEvents(t, n, node)

	n.Step("lbd stopped; the plan's lines given to ipvsadm on the table before make the table lbd made")
	if _, err := d.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("lbd stop: %v", err)
	}
	replayPlan(t, dir, node.dir, saveA, planned)
	if now := run(t, dir, "ipvsadm", "-S", "-n"); now != saveB {
		t.Errorf("ipvsadm with the plan's lines made another table:\n%s", diffLines(saveB, now))
	}

	n.Step("no lbd: lbd plan -c FILE plans a start against the kernel; the start writes that")
	node.writeConfig(t, "resync_interval: 1h", strings.Replace(planServicesB, "weight: 3", "weight: 5", 1)+guardVRRPYAML)
	pout, code := lbdPlan(t, dir, node.config)
	n.Block(pout)
	planned = planLines(pout)
	want := []string{"-e -t 192.168.56.91:80 -r 192.168.56.201:80 -g -w 5"}
	if code != 1 || !strings.HasPrefix(pout, "# plan of "+node.config+" against the kernel\n") || !slices.Equal(planned, want) ||
		!strings.Contains(pout, "vrrp: start VI_1") || strings.Contains(pout, "needs a restart") {
		t.Fatalf("lbd plan: exit %d, writes %q (want %q)", code, planned, want)
	}
	d2 := node.start(t)
	d2.waitReady(t)
	if written := writtenSince(d2.log.String(), 0); !slices.Equal(written, planned) {
		t.Errorf("the start wrote %q, lbd plan said %q", written, planned)
	}
}

// replayPlan restores the table save (ipvsadm -R) and runs ipvsadm with
// each planned line.
func replayPlan(t *testing.T, ns *netnslab.Namespace, tmp, save string, planned []string) {
	t.Helper()
	file := tmp + "/before.ipvsadm"
	must(t, os.WriteFile(file, []byte(save), 0o644))
	run(t, ns, "ipvsadm", "-C")
	run(t, ns, "sh", "-c", "ipvsadm -R < "+file)
	for _, p := range planned {
		run(t, ns, "ipvsadm", strings.Fields(p)...)
	}
}

// lbdPlan runs "lbd plan -c FILE" in ns and returns its stdout and exit
// status.
func lbdPlan(t *testing.T, ns *netnslab.Namespace, file string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := ns.Command(ctx, commandPath(t, "lbd"), "plan", "-c", file)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), 0
	case errors.As(err, &ee):
		if ee.ExitCode() > 1 {
			t.Logf("lbd plan stderr: %s", stderr.String())
		}
		return stdout.String(), ee.ExitCode()
	}
	t.Fatalf("lbd plan: %v\n%s", err, stderr.String())
	return "", -1
}

// checkEvents reads lbctl events --json: every line valid JSON, seq
// increasing, VI_1's transitions to MASTER with a reason, the reload.
func checkEvents(t *testing.T, n *narrator, node *lbdNode) {
	t.Helper()
	out, errOut, code := node.lbctl(t, "events", "--json")
	if code != 0 {
		t.Fatalf("lbctl events --json: exit %d: %s", code, errOut)
	}
	var last uint64
	var master, reload bool
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e events.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Seq <= last {
			t.Fatalf("event line %q: %v (seq after %d)", l, err, last)
		}
		last = e.Seq
		if e.Kind == events.KindVRRP && e.Subject == "VI_1" && e.Fields["to"] == "MASTER" && e.Fields["reason"] != "" {
			master = true
		}
		if e.Kind == events.KindReload && e.Fields["result"] == "applied" {
			reload = true
		}
	}
	text, _, _ := node.lbctl(t, "events")
	n.Block(text)
	if !master || !reload {
		t.Errorf("events lack VI_1 -> MASTER with a reason (%v) or the applied reload (%v):\n%s", master, reload, out)
	}
}
