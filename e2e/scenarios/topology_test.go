//go:build testbed_guest

package scenarios

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/lvsd/lb/internal/netnslab"
)

// Building blocks of the seed's LAN 192.168.56.0/24, shared by the
// scenarios that make it by hand (seed, lbrs), with lbd, and with the
// examples' director pair.

// addSeedHost connects the namespace name of lab (added when the lab has
// none of that name yet) to sw as ifName with addr/24 and addr's seedMAC.
func addSeedHost(t *testing.T, lab *netnslab.Lab, sw *netnslab.Switch, name, ifName, addr string) (*netnslab.Namespace, *netnslab.Link) {
	t.Helper()
	ns := lab.Namespace(name)
	if ns == nil {
		var err error
		ns, err = lab.AddNamespace(name)
		must(t, err)
	}
	lk, err := lab.Connect(ns, sw, netnslab.Port{
		Name:  ifName,
		MAC:   seedMAC(addr),
		Addrs: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr(addr), 24)},
	})
	must(t, err)
	return ns, lk
}

// buildSeedLAN builds the seed's LAN: client, director, web1 and web2 on
// one bridge, fixed MACs, nothing else configured. prefix names the lab.
func buildSeedLAN(t *testing.T, n *narrator, prefix string) *seedDR {
	t.Helper()
	n.Step("Building the seed's LAN 192.168.56.0/24: a bridge and one namespace per machine")
	lab := netnslab.NewT(t, prefix)
	lan, err := lab.AddSwitch("lan")
	must(t, err)
	host := func(name, addr string) *netnslab.Namespace {
		ns, _ := addSeedHost(t, lab, lan, name, "eth0", addr)
		n.Note("%-8s eth0 %s/24  mac %s", name, addr, seedMAC(addr))
		return ns
	}
	d := &seedDR{lab: lab, webs: map[string]*netnslab.Namespace{}}
	d.client = host("client", seedClient)
	d.director = host("director", seedDirector)
	for _, w := range seedWebs() {
		d.webs[w.name] = host(w.name, w.addr)
	}
	return d
}

// programSeedDirector does on director what lvs_dr.sh does, with the
// forwarding flag given (ipvsadm's -g or -i): ip_forward=1, the VIP on
// eth0:0, the rr service on VIP:80 with web1 and web2, timeouts 1 1 1.
func programSeedDirector(t *testing.T, n *narrator, director *netnslab.Namespace, flag string) {
	t.Helper()
	must(t, director.Sysctl("net.ipv4.ip_forward", "1"))
	must(t, director.AddAddress("eth0", netip.MustParsePrefix(seedVIP+"/32"), "eth0:0"))
	svc := seedVIP + ":80"
	for _, args := range [][]string{
		{"-C"},
		{"-A", "-t", svc, "-s", "rr"},
		{"-a", "-t", svc, "-r", "192.168.56.200:80", flag},
		{"-a", "-t", svc, "-r", "192.168.56.201:80", flag},
		{"--set", "1", "1", "1"},
	} {
		run(t, director, "ipvsadm", args...)
		n.Note("ipvsadm %s", strings.Join(args, " "))
	}
}

// requireDirectAnswers requires every one of webs to answer its name at
// its own address, from ns, before anything goes through the VIP: a
// failure later is then the load balancer's, not the server's.
func requireDirectAnswers(t *testing.T, ns *netnslab.Namespace, webs []seedWeb) {
	t.Helper()
	direct := newHTTPClient(ns, settle)
	for _, w := range webs {
		got, err := get(direct, "http://"+w.addr+"/")
		if err != nil || got != w.name {
			t.Fatalf("real server %s at its own address: answer %q, error %v; want %q", w.name, got, err, w.name)
		}
	}
}
