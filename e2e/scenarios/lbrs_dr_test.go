//go:build testbed_guest

package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// TestScenarioLbrsDR is the seed's LVS-DR setup with the real servers made
// by "lbrs run" instead of lvs-rs.sh: before lbrs the VIP goes unanswered;
// with it, rr spreads 20 connections 10/10, only the director ever answers
// ARP for the VIP, a VIP deleted by hand comes back as lo:0 from the
// address event (resync_interval is 1h: the periodic resync cannot be what
// puts it back; how long it took is printed), and SIGTERM puts every
// address and sysctl back as lbrs found it.
func TestScenarioLbrsDR(t *testing.T) {
	n := newNarrator(t)
	d := buildLbrsLAN(t, n, "lbrsdr", forwardDR)
	keys := append(sysctlKeys("arp_ignore", "lo", "all"), sysctlKeys("arp_announce", "lo", "all")...)

	n.Step("Real servers before lbrs: no VIP on lo; all.arp_announce=1 (a non-default value restore must bring back)")
	nodes := map[string]*lbrsNode{}
	origs := map[string]map[string]string{}
	for _, w := range seedWebs() {
		ns := d.webs[w.name]
		must(t, ns.Sysctl("net.ipv4.conf.all.arp_announce", "1"))
		origs[w.name] = readSysctls(t, ns, keys)
		if addrs := ipv4Addrs(t, ns, "lo"); len(addrs) != 1 || addrs[0] != "127.0.0.1/8 lo" {
			t.Fatalf("%s lo before lbrs = %q, want only 127.0.0.1/8", w.name, addrs)
		}
		n.Note("%s: %s", w.name, fmtSysctls(origs[w.name], keys))
		nodes[w.name] = newLbrsNode(t, w.name, ns, "dr", "resync_interval: 1h\n")
	}

	n.Step("Client tries the VIP twice before lbrs runs: IPVS forwards, the real servers drop (no VIP on lo)")
	expectNoAnswers(t, n, d.client, 2, forwardDR)

	n.Step("lbrs run -c lbrs.yaml on web1 and web2 (each its own config and state file); web1's config:")
	daemons := startLbrsNodes(t, n, nodes)

	n.Step("What lbrs did on each real server: VIP %s/32 on lo as lo:0, arp_ignore=1 and arp_announce=2 on lo and all", seedVIP)
	applied := map[string]string{}
	for _, k := range keys {
		applied[k] = map[bool]string{true: "1", false: "2"}[strings.HasSuffix(k, "arp_ignore")]
	}
	for _, w := range seedWebs() {
		ns := d.webs[w.name]
		addrs := ipv4Addrs(t, ns, "lo")
		n.Note("%s lo: %s", w.name, strings.Join(addrs, ", "))
		if !hasAddr(addrs, seedVIP+"/32 lo:0") {
			t.Errorf("%s lo = %q, want %s/32 labelled lo:0", w.name, addrs, seedVIP)
		}
		checkSysctls(t, ns, applied, "under lbrs run")
	}

	const requests = 20
	n.Step("Client sends %d HTTP requests to http://%s/, a new connection each", requests, seedVIP)
	spreadRequests(t, n, d.client, requests)

	n.Step("ARP: the VIP belongs to the director on the wire; web1/web2 hold it on lo but never answer for it")
	checkARPOnlyDirector(t, n, d.client)

	n.Step("Drift: someone runs 'ip addr del %s/32 dev lo' on web1; lbrs must put it back on the address event", seedVIP)
	web1 := d.webs["web1"]
	run(t, web1, "ip", "addr", "del", seedVIP+"/32", "dev", "lo")
	deleted := time.Now()
	var addrs []string
	for {
		addrs = ipv4Addrs(t, web1, "lo")
		if hasAddr(addrs, seedVIP+"/32 lo:0") || time.Since(deleted) > settle {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	back := time.Since(deleted)
	fmt.Printf("MEASURE lbrs_vip_repair=%.3fs\n", back.Seconds())
	n.Note("web1 lo after %v: %s", back.Round(time.Millisecond), strings.Join(addrs, ", "))
	if !hasAddr(addrs, seedVIP+"/32 lo:0") {
		t.Errorf("VIP not back on web1's lo %v after its deletion (resync_interval 1h: only the address event repairs): %q", settle, addrs)
	}
	repairs := daemons["web1"].waitLog(settle, "msg=repair", "action=add-addr", seedVIP)
	if len(repairs) != 1 {
		t.Errorf("web1's lbrs logged %d repairs adding the VIP, want 1:\n%s", len(repairs), daemons["web1"].log.String())
	}
	n.Note("web1's lbrs log:")
	n.Block(strings.Join(repairs, "\n"))
	n.Note("traffic after the repair:")
	spreadRequests(t, n, d.client, 2)

	n.Step("SIGTERM to both lbrs: each exits 0 after removing the VIP and writing back the original sysctls")
	stopLbrsNodes(t, d, daemons, nodes, origs, func(w seedWeb, ns *netnslab.Namespace, took time.Duration) {
		addrs := ipv4Addrs(t, ns, "lo")
		n.Note("%s: exited in %v; lo: %s; %s", w.name, took.Round(time.Millisecond), strings.Join(addrs, ", "),
			fmtSysctls(readSysctls(t, ns, keys), keys))
		if len(addrs) != 1 || addrs[0] != "127.0.0.1/8 lo" {
			t.Errorf("%s lo after SIGTERM = %q, want only 127.0.0.1/8", w.name, addrs)
		}
	})
	n.Note("the VIP is unanswered again, as before lbrs:")
	expectNoAnswers(t, n, d.client, 1, forwardDR)
}

// fmtSysctls prints keys and their values in order, short names.
func fmtSysctls(m map[string]string, keys []string) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, strings.TrimPrefix(k, "net.ipv4.conf.")+"="+m[k])
	}
	return strings.Join(parts, " ")
}
