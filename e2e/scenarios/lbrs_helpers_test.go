//go:build testbed_guest

package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lb/internal/netnslab"
)

// Helpers of the lbrs scenarios: the seed's LAN with the director made by
// hand (ipvsadm) and the real servers set up by the lbrs binary, which the
// image carries in /usr/local/bin.

// lbrsForward is an IPVS forwarding method as ipvsadm names it.
type lbrsForward struct {
	flag string // ipvsadm's -g / -i
	name string // the Forward column of ipvsadm -ln
}

var (
	forwardDR  = lbrsForward{flag: "-g", name: "Route"}
	forwardTUN = lbrsForward{flag: "-i", name: "Tunnel"}
)

// buildLbrsLAN builds the seed's LAN (client, director, web1, web2 on one
// bridge, fixed MACs), programs the director by hand as lvs_dr.sh does but
// with the given forwarding method, and starts the HTTP servers. The real
// servers get nothing else: no VIP, no sysctl. That is lbrs's job.
func buildLbrsLAN(t *testing.T, n *narrator, prefix string, fwd lbrsForward) *seedDR {
	t.Helper()
	commandPath(t, "lbrs")
	d := buildSeedLAN(t, n, prefix)

	n.Step("Director by hand (lvs_dr.sh): ip_forward=1, VIP %s/32 on eth0:0, IPVS service rr with web1, web2 as %s (%s)", seedVIP, fwd.name, fwd.flag)
	programSeedDirector(t, n, d.director, fwd.flag)
	table := run(t, d.director, "ipvsadm", "-ln")
	dests := ipvsDests(table)
	for _, w := range seedWebs() {
		if got, want := dests[w.addr+":80"], fwd.name+" weight 1"; got != want {
			t.Fatalf("destination %s:80 = %q, want %s; table:\n%s", w.addr, got, want, table)
		}
	}

	for _, w := range seedWebs() {
		serveName(t, d.webs[w.name], "0.0.0.0:80", w.name)
	}
	requireDirectAnswers(t, d.client, seedWebs())
	n.Note("web1 and web2 serve HTTP on 0.0.0.0:80 (answering their name); the client reaches both at their own addresses")
	return d
}

// expectNoAnswers sends requests to the VIP while the real servers do not
// accept it, and requires each to fail the way the forwarding method makes
// it fail. With DR the frame reaches the real server addressed to a VIP it
// does not own and is dropped: a timeout. With TUN the real server's kernel
// has no tunnel up to take the IP-in-IP packet and answers the director
// with an ICMP unreachable, which IPVS relays to the client: refused.
func expectNoAnswers(t *testing.T, n *narrator, client *netnslab.Namespace, requests int, fwd lbrsForward) {
	t.Helper()
	c := newHTTPClient(client, time.Second)
	for i := 1; i <= requests; i++ {
		got, err := get(c, "http://"+seedVIP+"/")
		switch {
		case err == nil:
			t.Errorf("request %d to the VIP answered %q while the real servers do not hold the VIP: want no answer", i, got)
			n.Note("request %d -> answered by %s (unexpected)", i, got)
		case fwd == forwardTUN && errors.Is(err, syscall.ECONNREFUSED):
			n.Note("request %d -> connection refused: no tunnel up on the real server, its ICMP unreachable relayed by IPVS", i)
		case fwd == forwardDR && isTimeout(err):
			n.Note("request %d -> no answer (timeout): the real server drops packets for an address it does not own", i)
		default:
			t.Errorf("request %d failed with %v; want %s", i, err,
				map[bool]string{true: "connection refused (TUN)", false: "a timeout (DR)"}[fwd == forwardTUN])
		}
	}
}

// spreadRequests sends requests new connections to the VIP and requires rr
// to have spread them evenly over web1 and web2.
func spreadRequests(t *testing.T, n *narrator, client *netnslab.Namespace, requests int) {
	t.Helper()
	c := newHTTPClient(client, settle)
	counts := map[string]int{}
	for i := 1; i <= requests; i++ {
		got, err := get(c, "http://"+seedVIP+"/")
		if err != nil {
			t.Errorf("request %d: %v", i, err)
			n.Note("request %2d -> FAILED: %v", i, err)
			continue
		}
		counts[got]++
		n.Note("request %2d -> answered by %s", i, got)
	}
	n.Note("totals: web1 %d, web2 %d", counts["web1"], counts["web2"])
	if counts["web1"] != requests/2 || counts["web2"] != requests/2 || len(counts) != 2 {
		t.Errorf("answers %v: want web1 and web2 %d each (rr over new connections)", counts, requests/2)
	}
}

// lbrsNode is one real server's lbrs files: its config and state file in a
// directory of its own (all namespaces share the VM's file system, so the
// default /var/lib/lbrs/state.json would be one lock for all).
type lbrsNode struct {
	name   string
	ns     *netnslab.Namespace
	config string
	state  string
	yaml   string
}

// newLbrsNode writes an lbrs.yaml for ns: mode and VIP, the ARP sysctls as
// the seed's lvs-rs.sh sets them, a private state file, plus extra lines.
func newLbrsNode(t *testing.T, name string, ns *netnslab.Namespace, mode, extra string) *lbrsNode {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	must(t, os.MkdirAll(dir, 0o755))
	nd := &lbrsNode{name: name, ns: ns, config: filepath.Join(dir, "lbrs.yaml"), state: filepath.Join(dir, "state.json")}
	nd.yaml = fmt.Sprintf(`mode: %s
vips:
  - %s
sysctls:
  arp_ignore: 1
  arp_announce: 2
%sstate_file: %s
log_level: info
`, mode, seedVIP, extra, nd.state)
	must(t, os.WriteFile(nd.config, []byte(nd.yaml), 0o644))
	return nd
}

// cli runs a one-shot lbrs subcommand on the node and returns its output
// and exit status (-1 when it did not run).
func (nd *lbrsNode) cli(t *testing.T, sub string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := nd.ns.Command(ctx, commandPath(t, "lbrs"), sub, "-c", nd.config)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	t.Fatalf("lbrs %s on %s: %v\n%s", sub, nd.name, err, out.String())
	return "", -1
}

// lbrsDaemon is "lbrs run" running in a node's namespace.
type lbrsDaemon struct {
	*daemon
	node *lbrsNode
}

// startLbrs starts "lbrs run -c CONFIG" in the node's namespace. At the end
// of the test a daemon still running gets SIGTERM (it restores the node),
// then SIGKILL if it does not exit; its log is shown when the test failed.
func startLbrs(t *testing.T, nd *lbrsNode) *lbrsDaemon {
	t.Helper()
	d := startDaemon(t, nd.ns, "lbrs run on "+nd.name, commandPath(t, "lbrs"), "run", "-c", nd.config)
	return &lbrsDaemon{daemon: d, node: nd}
}

// startLbrsNodes shows web1's lbrs.yaml, starts "lbrs run" on web1 and
// web2 and waits until each has applied its configuration ("lbrs status"
// exits 0; web1's shown).
func startLbrsNodes(t *testing.T, n *narrator, nodes map[string]*lbrsNode) map[string]*lbrsDaemon {
	t.Helper()
	n.Block(nodes["web1"].yaml)
	daemons := map[string]*lbrsDaemon{}
	for _, w := range seedWebs() {
		daemons[w.name] = startLbrs(t, nodes[w.name])
	}
	for _, w := range seedWebs() {
		status, took := daemons[w.name].waitApplied(t)
		n.Note("%s: lbrs status exit 0 after %v", w.name, took.Round(time.Millisecond))
		if w.name == "web1" {
			n.Block(status)
		}
	}
	return daemons
}

// stopLbrsNodes sends SIGTERM to the lbrs of web1 and web2 in turn and
// requires each to exit 0, then (after check, which looks at what the mode
// put on its device) the sysctls back at origs and the state file removed.
func stopLbrsNodes(t *testing.T, d *seedDR, daemons map[string]*lbrsDaemon, nodes map[string]*lbrsNode, origs map[string]map[string]string,
	check func(w seedWeb, ns *netnslab.Namespace, took time.Duration)) {
	t.Helper()
	for _, w := range seedWebs() {
		took, err := daemons[w.name].stop(t, syscall.SIGTERM)
		if err != nil {
			t.Errorf("lbrs run on %s exited with %v after SIGTERM, want 0", w.name, err)
		}
		ns := d.webs[w.name]
		check(w, ns, took)
		checkSysctls(t, ns, origs[w.name], "after SIGTERM")
		if _, err := os.Stat(nodes[w.name].state); !os.IsNotExist(err) {
			t.Errorf("%s state file %s after restore: %v, want it removed", w.name, nodes[w.name].state, err)
		}
	}
}

// waitApplied polls "lbrs status" until it exits 0 (every item OK) and
// returns its output and how long that took. It also checks that the
// process the test signals is lbrs itself (nsenter must have exec'd it, or
// signals would hit nsenter).
func (d *lbrsDaemon) waitApplied(t *testing.T) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(15 * time.Second)
	for {
		if d.exited() {
			t.Fatalf("lbrs run on %s exited: %v\n%s", d.node.name, d.err, d.log.String())
		}
		out, code := d.node.cli(t, "status")
		if code == 0 {
			d.requireComm(t, "lbrs")
			return out, time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("lbrs status on %s still exit %d after 15 s:\n%s\nlbrs run log:\n%s", d.node.name, code, out, d.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ipv4Addrs returns dev's IPv4 addresses as "ADDR/LEN LABEL" (the label is
// the device name for an unlabelled address), read over netlink.
func ipv4Addrs(t *testing.T, ns *netnslab.Namespace, dev string) []string {
	t.Helper()
	lk, err := ns.Handle().LinkByName(dev)
	if err != nil {
		t.Fatalf("%s: link %s: %v", ns.Name(), dev, err)
	}
	addrs, err := ns.Handle().AddrList(lk, netlink.FAMILY_V4)
	if err != nil {
		t.Fatalf("%s: addresses of %s: %v", ns.Name(), dev, err)
	}
	var out []string
	for _, a := range addrs {
		out = append(out, a.IPNet.String()+" "+a.Label)
	}
	return out
}

// hasAddr reports whether want ("ADDR/LEN LABEL") is in addrs.
func hasAddr(addrs []string, want string) bool {
	for _, a := range addrs {
		if a == want {
			return true
		}
	}
	return false
}

// linkUp reports whether dev is administratively up in ns.
func linkUp(t *testing.T, ns *netnslab.Namespace, dev string) bool {
	t.Helper()
	lk, err := ns.Handle().LinkByName(dev)
	if err != nil {
		t.Fatalf("%s: link %s: %v", ns.Name(), dev, err)
	}
	return lk.Attrs().Flags&net.FlagUp != 0
}

// readSysctls reads keys ("net.ipv4.conf.lo.arp_ignore") in ns.
func readSysctls(t *testing.T, ns *netnslab.Namespace, keys []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, k := range keys {
		v, err := ns.ReadSysctl(k)
		if err != nil {
			t.Fatalf("%s: sysctl %s: %v", ns.Name(), k, err)
		}
		m[k] = v
	}
	return m
}

// checkSysctls requires every key of want to have its value in ns.
func checkSysctls(t *testing.T, ns *netnslab.Namespace, want map[string]string, when string) {
	t.Helper()
	for k, v := range want {
		got, err := ns.ReadSysctl(k)
		if err != nil {
			t.Errorf("%s: sysctl %s %s: %v", ns.Name(), k, when, err)
			continue
		}
		if got != v {
			t.Errorf("%s: %s = %s %s, want %s", ns.Name(), k, got, when, v)
		}
	}
}

// sysctlKeys lists the conf keys of name on each device, in order.
func sysctlKeys(name string, devs ...string) []string {
	var keys []string
	for _, d := range devs {
		keys = append(keys, "net.ipv4.conf."+d+"."+name)
	}
	return keys
}

// arpReplyRE matches busybox arping's "Unicast reply from IP [MAC] 1.2ms".
var arpReplyRE = regexp.MustCompile(`(?m)^Unicast reply from (\S+) \[([0-9A-Fa-f:]+)\]`)

// arpProbe broadcasts ARP requests for ip from ns's dev with busybox
// arping and returns how many replies came from each MAC, and the output.
// -b keeps every probe a broadcast (without it arping goes unicast to the
// first MAC that answered), so every host on the LAN hears each one; busybox
// then prints one "Unicast reply" line per answer, from every answering
// host (checked with two hosts claiming one address), although its summary
// says "0 broadcast(s)".
func arpProbe(t *testing.T, ns *netnslab.Namespace, dev, ip string, probes int) (map[string]int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := ns.Command(ctx, "busybox", "arping", "-b", "-I", dev, "-c", fmt.Sprint(probes), "-w", fmt.Sprint(probes+1), ip)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: no reply
		t.Fatalf("busybox arping in %s: %v\n%s", ns.Name(), err, out.String())
	}
	macs := map[string]int{}
	for _, m := range arpReplyRE.FindAllStringSubmatch(out.String(), -1) {
		if m[1] != ip {
			t.Errorf("arping for %s got a reply about %s", ip, m[1])
			continue
		}
		hw, err := net.ParseMAC(m[2])
		if err != nil {
			t.Fatalf("arping printed MAC %q: %v", m[2], err)
		}
		macs[hw.String()]++
	}
	return macs, out.String()
}

// checkARPOnlyDirector asserts the client resolved the VIP to the
// director's MAC (after traffic) and that broadcast ARP probes for the VIP
// are answered by the director alone, never by a real server.
func checkARPOnlyDirector(t *testing.T, n *narrator, client *netnslab.Namespace) {
	t.Helper()
	dirMAC := seedMAC(seedDirector).String()
	mac := neighMAC(t, client, "eth0", seedVIP)
	n.Note("client's neighbour entry (ip neigh) for %s: %s (director %s)", seedVIP, mac, dirMAC)
	if mac.String() != dirMAC {
		t.Errorf("client resolved the VIP to %s, want the director's %s", mac, dirMAC)
	}
	neigh := run(t, client, "ip", "neigh", "show", "dev", "eth0")
	n.Block(neigh)

	const probes = 2
	macs, out := arpProbe(t, client, "eth0", seedVIP, probes)
	n.Note("busybox arping -b -c %d %s from the client:", probes, seedVIP)
	n.Block(out)
	if macs[dirMAC] != probes {
		t.Errorf("the director (%s) answered %d of %d ARP probes for the VIP, want every one: %v\n%s", dirMAC, macs[dirMAC], probes, macs, out)
	}
	for m, c := range macs {
		if m != dirMAC {
			who := m
			for _, w := range seedWebs() {
				if seedMAC(w.addr).String() == m {
					who = w.name + " (" + m + ")"
				}
			}
			t.Errorf("%s answered %d ARP request(s) for the VIP: a real server must never claim it", who, c)
		}
	}
}
