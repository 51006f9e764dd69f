//go:build testbed_guest

package scenarios

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lb/internal/netnslab"
)

// The seed's addresses (lvs_dr.sh, lvs-rs.sh).
const (
	seedVIP      = "192.168.56.90"
	seedDirector = "192.168.56.100"
	seedClient   = "192.168.56.10"
)

// seedWeb is one real server of the seed.
type seedWeb struct {
	name string
	addr string
}

func seedWebs() []seedWeb {
	return []seedWeb{{"web1", "192.168.56.200"}, {"web2", "192.168.56.201"}}
}

// seedMAC is a fixed MAC per host, 02:56:00:00:00:<last octet>, so ARP
// answers can be told apart.
func seedMAC(addr string) net.HardwareAddr {
	ip := netip.MustParseAddr(addr).As4()
	return net.HardwareAddr{0x02, 0x56, 0, 0, 0, ip[3]}
}

// seedDR is the seed's LVS-DR network, built by hand as the tutorial does.
type seedDR struct {
	lab      *netnslab.Lab
	client   *netnslab.Namespace
	director *netnslab.Namespace
	webs     map[string]*netnslab.Namespace
}

// buildSeedDR reproduces lvs_dr.sh on a director and lvs-rs.sh on each real
// server, except that the real server named noVIP does not get the VIP on
// its lo (it still gets the ARP sysctls): a deliberately broken topology.
func buildSeedDR(t *testing.T, n *narrator, noVIP string) *seedDR {
	t.Helper()
	d := buildSeedLAN(t, n, "seed")

	n.Step("Director (lvs_dr.sh): ip_forward=1, VIP %s/32 on eth0:0, IPVS service rr with web1, web2 as DR (-g)", seedVIP)
	programSeedDirector(t, n, d.director, "-g")

	for _, w := range seedWebs() {
		ns := d.webs[w.name]
		if w.name == noVIP {
			n.Step("Real server %s (lvs-rs.sh) WITHOUT the VIP on lo: arp_ignore=1, arp_announce=2 only", w.name)
		} else {
			n.Step("Real server %s (lvs-rs.sh): VIP %s/32 on lo:0, arp_ignore=1 and arp_announce=2 on lo and all", w.name, seedVIP)
			must(t, ns.AddAddress("lo", netip.MustParsePrefix(seedVIP+"/32"), "lo:0"))
		}
		for _, dev := range []string{"lo", "all"} {
			must(t, ns.Sysctl("net.ipv4.conf."+dev+".arp_ignore", "1"))
			must(t, ns.Sysctl("net.ipv4.conf."+dev+".arp_announce", "2"))
		}
		serveName(t, ns, "0.0.0.0:80", w.name)
		n.Note("%s serves HTTP on 0.0.0.0:80, answering %q", w.name, w.name)
	}

	requireDirectAnswers(t, d.client, seedWebs())
	n.Note("client reaches web1 and web2 directly at their own addresses")
	return d
}

// ipvsDest is one "  -> addr:port Forward Weight ActiveConn InActConn" row.
var ipvsDestRE = regexp.MustCompile(`(?m)^  -> (\S+)\s+(Route|Masq|Tunnel|Local)\s+(\d+)\s+\d+\s+\d+\s*$`)

// ipvsDests returns the destinations of "ipvsadm -ln" output, "ADDR:PORT"
// -> "FORWARD weight WEIGHT" ("Route weight 1").
func ipvsDests(table string) map[string]string {
	dests := map[string]string{}
	for _, m := range ipvsDestRE.FindAllStringSubmatch(table, -1) {
		dests[m[1]] = m[2] + " weight " + m[3]
	}
	return dests
}

// statsRow returns Conns, InPkts, OutPkts of a destination in
// "ipvsadm -ln --stats" output.
func statsRow(out, dest string) (conns, inPkts, outPkts int, err error) {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && f[0] == "->" && f[1] == dest {
			nums := make([]int, 3)
			for i := range nums {
				if nums[i], err = strconv.Atoi(f[2+i]); err != nil {
					return 0, 0, 0, fmt.Errorf("stats of %s: %q is not a plain number", dest, f[2+i])
				}
			}
			return nums[0], nums[1], nums[2], nil
		}
	}
	return 0, 0, 0, fmt.Errorf("no stats row for %s in:\n%s", dest, out)
}

// settledStats returns "ipvsadm -ln --stats" once every one of dests shows
// at least conns connections and two reads 2.2 s apart agree. The kernel
// folds its per-CPU counters into what ipvsadm reads every 2 s (the rate
// estimator's tick), each destination at its own point of the tick, so
// fresh traffic shows up late, and not everywhere at once; give up after
// 2 x settle (fourteen ticks) and return the last output.
func settledStats(t *testing.T, director *netnslab.Namespace, dests []string, conns int) string {
	t.Helper()
	deadline := time.Now().Add(2 * settle)
	var prev string
	for {
		out := run(t, director, "ipvsadm", "-ln", "--stats")
		enough := true
		for _, dest := range dests {
			got, _, _, err := statsRow(out, dest)
			enough = enough && err == nil && got >= conns
		}
		if (enough && out == prev) || time.Now().After(deadline) {
			return out
		}
		prev = out
		time.Sleep(2200 * time.Millisecond)
	}
}

// seedWebDests are the real servers as ipvsadm names them.
var seedWebDests = []string{"192.168.56.200:80", "192.168.56.201:80"}

// checkBypassStats reads the director's counters once web2 shows
// requests/2 connections and requires each real server to have had
// requests/2 connections, some packets in and none out: with DR (or TUN,
// the method named in messages) the replies bypass the director.
func checkBypassStats(t *testing.T, n *narrator, director *netnslab.Namespace, requests int, method string) {
	t.Helper()
	stats := settledStats(t, director, seedWebDests, requests/2)
	n.Block(stats)
	for _, w := range seedWebs() {
		conns, in, out, err := statsRow(stats, w.addr+":80")
		if err != nil {
			t.Error(err)
			continue
		}
		if conns != requests/2 || in == 0 || out != 0 {
			t.Errorf("stats of %s: conns %d, inpkts %d, outpkts %d; want %d conns, some inpkts, 0 outpkts (%s)", w.name, conns, in, out, requests/2, method)
		}
	}
}

// TestScenarioSeedDR is the seed tutorial's LVS-DR setup, done by hand with
// ipvsadm on a real kernel: 20 new connections to the VIP are spread 10/10
// over web1 and web2 by rr, the replies bypass the director (DR), and only
// the director answers ARP for the VIP.
func TestScenarioSeedDR(t *testing.T) {
	n := newNarrator(t)
	d := buildSeedDR(t, n, "")

	n.Step("The director's IPVS table (ipvsadm -ln)")
	table := run(t, d.director, "ipvsadm", "-ln")
	n.Block(table)
	if !regexp.MustCompile(`(?m)^TCP  ` + regexp.QuoteMeta(seedVIP) + `:80 rr\s*$`).MatchString(table) {
		t.Errorf("ipvsadm -ln has no line %q:\n%s", "TCP  "+seedVIP+":80 rr", table)
	}
	dests := ipvsDests(table)
	for _, w := range seedWebs() {
		if got := dests[w.addr+":80"]; got != "Route weight 1" {
			t.Errorf("destination %s:80 = %q, want Route weight 1; table:\n%s", w.addr, got, table)
		}
	}
	timeouts := run(t, d.director, "ipvsadm", "-L", "--timeout")
	if !strings.Contains(timeouts, "Timeout (tcp tcpfin udp): 1 1 1") {
		t.Errorf("ipvsadm --set 1 1 1 not in effect: %q", strings.TrimSpace(timeouts))
	}

	const requests = 20
	n.Step("Client sends %d HTTP requests to http://%s/, a new connection each", requests, seedVIP)
	spreadRequests(t, n, d.client, requests)

	n.Step("Counters (ipvsadm -ln --stats): DR replies bypass the director, so OutPkts stay 0")
	checkBypassStats(t, n, d.director, requests, "DR")

	n.Step("ARP: the client learned the VIP at the director's MAC (arp_ignore keeps web1/web2 quiet)")
	mac := neighMAC(t, d.client, "eth0", seedVIP)
	n.Note("client's neighbour %s is %s (director %s)", seedVIP, mac, seedMAC(seedDirector))
	if !bytes.Equal(mac, seedMAC(seedDirector)) {
		t.Errorf("client resolved the VIP to %s, want the director's %s", mac, seedMAC(seedDirector))
	}
}

// TestScenarioSeedDRWithoutVIPOnLo builds the same network but leaves the
// VIP off web2's lo: web2 drops the frames the director forwards to it, so
// every connection IPVS sends to web2 times out while web1's succeed. It
// proves the testbed sees a broken topology as broken.
func TestScenarioSeedDRWithoutVIPOnLo(t *testing.T) {
	n := newNarrator(t)
	d := buildSeedDR(t, n, "web2")

	const requests = 10
	n.Step("Client sends %d requests to the VIP; rr sends half of them to web2, which does not own the VIP", requests)
	// web2's requests time out whatever the timeout (its kernel drops
	// them); web1's must not: 5 s, past TCP's SYN retransmissions at 1 and
	// 3 s, leaves a busy VM time to answer.
	c := newHTTPClient(d.client, 5*time.Second)
	counts := map[string]int{}
	failed := 0
	for i := 1; i <= requests; i++ {
		got, err := get(c, "http://"+seedVIP+"/")
		if err != nil {
			failed++
			if !isTimeout(err) {
				t.Errorf("request %d failed other than by a timeout: %v", i, err)
			}
			n.Note("request %2d -> no answer (%v)", i, shortErr(err))
			continue
		}
		counts[got]++
		n.Note("request %2d -> answered by %s", i, got)
	}
	n.Note("totals: web1 %d, web2 %d, failed %d (expected: web2's kernel drops packets for an address it does not own)", counts["web1"], counts["web2"], failed)
	if counts["web1"] != requests/2 || counts["web2"] != 0 || failed != requests/2 {
		t.Errorf("answers %v, %d failed: want web1 %d, web2 0, %d failed", counts, failed, requests/2, requests/2)
	}

	n.Step("IPVS did forward to web2 (conns and inpkts counted); web2 just dropped them")
	stats := settledStats(t, d.director, []string{"192.168.56.201:80"}, requests/2)
	n.Block(stats)
	conns, in, _, err := statsRow(stats, "192.168.56.201:80")
	if err != nil {
		t.Fatal(err)
	}
	if conns != requests/2 || in < requests/2 {
		t.Errorf("web2 stats: conns %d, inpkts %d; want %d conns and at least as many packets", conns, in, requests/2)
	}
}

func shortErr(err error) string {
	if isTimeout(err) {
		return "timeout"
	}
	return err.Error()
}

// neighMAC returns the MAC ns has learned for addr on dev.
func neighMAC(t *testing.T, ns *netnslab.Namespace, dev, addr string) net.HardwareAddr {
	t.Helper()
	lk, err := ns.Handle().LinkByName(dev)
	must(t, err)
	neighs, err := ns.Handle().NeighList(lk.Attrs().Index, netlink.FAMILY_V4)
	must(t, err)
	for _, nb := range neighs {
		if nb.IP.String() == addr {
			return nb.HardwareAddr
		}
	}
	t.Fatalf("%s has no neighbour entry for %s: %v", ns.Name(), addr, neighs)
	return nil
}
