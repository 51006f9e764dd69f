//go:build testbed_guest

package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// TestScenarioLbrsTUN is LVS-TUN: the director encapsulates each client
// packet in IP-in-IP to the real server (ipvsadm -i), and "lbrs run" in
// tun mode brings tunl0 up with the VIP, relaxes rp_filter (strict on the
// real servers beforehand, as many distributions ship it) and keeps the
// node quiet on ARP. Before lbrs nothing answers; with it rr spreads 20
// connections 10/10 with no reply through the director; SIGTERM removes
// the VIP, takes tunl0 down again and restores rp_filter and the ARP
// sysctls.
func TestScenarioLbrsTUN(t *testing.T) {
	n := newNarrator(t)
	d := buildLbrsLAN(t, n, "lbrstun", forwardTUN)
	keys := append(append(sysctlKeys("rp_filter", "tunl0", "all"),
		sysctlKeys("arp_ignore", "tunl0", "all")...), sysctlKeys("arp_announce", "tunl0", "all")...)

	n.Step("Real servers before lbrs: tunl0 exists (the ipip module makes one per namespace) and is down; rp_filter=1 (strict) on tunl0 and all")
	nodes := map[string]*lbrsNode{}
	origs := map[string]map[string]string{}
	for _, w := range seedWebs() {
		ns := d.webs[w.name]
		if _, err := ns.Handle().LinkByName("tunl0"); err != nil {
			t.Fatalf("%s has no tunl0 (%v): the ipip module (with tunnel4, ip_tunnel) must be loaded in the VM", w.name, err)
		}
		if linkUp(t, ns, "tunl0") {
			t.Fatalf("%s: tunl0 is up before lbrs ran", w.name)
		}
		for _, k := range sysctlKeys("rp_filter", "tunl0", "all") {
			must(t, ns.Sysctl(k, "1"))
		}
		origs[w.name] = readSysctls(t, ns, keys)
		n.Note("%s: tunl0 down, no address; %s", w.name, fmtSysctls(origs[w.name], keys))
		nodes[w.name] = newLbrsNode(t, w.name, ns, "tun", "")
	}

	n.Step("Client tries the VIP twice before lbrs runs: the director tunnels, the real servers refuse (tunl0 down)")
	expectNoAnswers(t, n, d.client, 2, forwardTUN)

	// The refused connections count in IPVS's statistics (and so do the
	// ICMP errors relayed back); zero the counters once they show them, on
	// both real servers, settled, so the traffic below is counted alone.
	settledStats(t, d.director, seedWebDests, 1)
	run(t, d.director, "ipvsadm", "-Z")

	n.Step("lbrs run -c lbrs.yaml (mode tun) on web1 and web2; web1's config:")
	daemons := startLbrsNodes(t, n, nodes)

	n.Step("What lbrs did: tunl0 up with %s/32, rp_filter=0 on tunl0 and all, arp_ignore=1 and arp_announce=2 on tunl0 and all", seedVIP)
	applied := map[string]string{}
	for _, k := range keys {
		switch {
		case strings.HasSuffix(k, "rp_filter"):
			applied[k] = "0"
		case strings.HasSuffix(k, "arp_ignore"):
			applied[k] = "1"
		default:
			applied[k] = "2"
		}
	}
	for _, w := range seedWebs() {
		ns := d.webs[w.name]
		addrs := ipv4Addrs(t, ns, "tunl0")
		up := linkUp(t, ns, "tunl0")
		n.Note("%s tunl0: up=%v %s", w.name, up, strings.Join(addrs, ", "))
		if !up || len(addrs) != 1 || addrs[0] != seedVIP+"/32 tunl0" {
			t.Errorf("%s tunl0: up %v, addresses %q; want up with only %s/32", w.name, up, addrs, seedVIP)
		}
		checkSysctls(t, ns, applied, "under lbrs run")
	}

	const requests = 20
	n.Step("Client sends %d HTTP requests to http://%s/, a new connection each", requests, seedVIP)
	spreadRequests(t, n, d.client, requests)

	n.Step("Counters (ipvsadm -ln --stats, zeroed after the refused tries): 10 connections each, replies bypass the director (OutPkts 0)")
	checkBypassStats(t, n, d.director, requests, "TUN")

	n.Step("ARP: the VIP sits on tunl0 of web1/web2, yet only the director answers for it on the LAN")
	checkARPOnlyDirector(t, n, d.client)

	n.Step("SIGTERM to both lbrs: VIP off tunl0, tunl0 down again, rp_filter and the ARP sysctls as they were")
	stopLbrsNodes(t, d, daemons, nodes, origs, func(w seedWeb, ns *netnslab.Namespace, took time.Duration) {
		addrs := ipv4Addrs(t, ns, "tunl0")
		up := linkUp(t, ns, "tunl0")
		n.Note("%s: exited in %v; tunl0 up=%v %s; %s", w.name, took.Round(time.Millisecond), up,
			strings.Join(addrs, ", "), fmtSysctls(readSysctls(t, ns, keys), keys))
		if up || len(addrs) != 0 {
			t.Errorf("%s tunl0 after SIGTERM: up %v, addresses %q; want down with none", w.name, up, addrs)
		}
	})
}
