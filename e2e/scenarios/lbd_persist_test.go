//go:build testbed_guest

package scenarios

import (
	"regexp"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// TestScenarioLbdPersistence runs lbd with an rr DR service with
// persistence_timeout 60: the 10 requests (new connections) of one client
// all reach the same real server, a second client's 10 all reach the
// other one (rr places each client's persistence template in turn), and
// the kernel holds one template per client (ipvsadm -lnc).
func TestScenarioLbdPersistence(t *testing.T) {
	n := newNarrator(t)
	l := buildLbdLab(t, n, "lbdpers", "DR")
	const client2Addr = "192.168.56.11"
	client2 := l.addClient(t, n, "client2", client2Addr)

	n.Step("lbd with TCP %s:80 rr, persistence_timeout 60, web1/web2 DR:", seedVIP)
	node := newLbdNode(t, "lbd-pers", l.director)
	node.writeConfig(t, "", lbdIPVSYAML+lbdServiceYAML(l, "rr", [2]int{1, 1}, "persistence_timeout: 60", ""))
	n.Block(node.yaml)
	d := node.start(t)
	_, took := d.waitReady(t)
	table := ipvsadmList(t, l.director)
	n.Note("ready after %v; ipvsadm -ln:", took.Round(time.Millisecond))
	n.Block(table)
	if !l.wantService(parseIPVS(t, table), "rr persistent 60", [2]int{1, 1}) {
		t.Fatalf("ipvsadm -ln does not show TCP %s:80 rr persistent 60 with web1, web2 Route 1", seedVIP)
	}

	const requests = 10
	first := ""
	pinned := map[string]string{} // client address -> server
	for _, c := range []struct {
		name string
		addr string
		ns   *netnslab.Namespace
	}{{"client", seedClient, l.client}, {"client2", client2Addr, client2}} {
		n.Step("%s (%s) sends %d requests, a new connection each", c.name, c.addr, requests)
		counts, seq := l.sendRequests(t, c.ns, vipURL, requests)
		n.Note("%s", seq)
		if len(counts) != 1 {
			t.Errorf("%s's %d requests reached %v: want one real server (persistence)", c.name, requests, counts)
			continue
		}
		for server, k := range counts {
			if k != requests {
				t.Errorf("%s: %d of %d requests answered by %s", c.name, k, requests, server)
			}
			pinned[c.addr] = server
			if first == "" {
				first = server
			} else if server == first {
				t.Errorf("client2 pinned to %s like the first client: rr should have placed its template on the other server", server)
			}
		}
	}

	n.Step("The kernel's persistence templates (ipvsadm -lnc): one per client (source port 0), to the server that answered it")
	conns := run(t, l.director, "ipvsadm", "-lnc")
	n.Block(conns)
	for c, server := range pinned {
		re := regexp.MustCompile(`(?m)^TCP\s+\S+\s+\S+\s+` + regexp.QuoteMeta(c) + `:0\s+` + regexp.QuoteMeta(seedVIP) + `:80\s+(\S+)\s*$`)
		m := re.FindAllStringSubmatch(conns, -1)
		if len(m) != 1 {
			t.Errorf("ipvsadm -lnc: %d persistence templates for %s, want 1", len(m), c)
			continue
		}
		if want := l.web(server).addr + ":80"; m[0][1] != want {
			t.Errorf("ipvsadm -lnc: the template of %s points to %s, but %s (%s) answered it", c, m[0][1], server, want)
		}
	}
}
