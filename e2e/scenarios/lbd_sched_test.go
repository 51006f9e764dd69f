//go:build testbed_guest

package scenarios

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestScenarioLbdSchedulers runs lbd with one service on the VIP for each
// forwarding method (DR, NAT, TUN) and each of the schedulers rr, wrr and
// lc (nine combinations, one topology per method; lbd moves from one
// scheduler to the next by reload: SIGHUP for rr->wrr, "lbctl reload" for
// wrr->lc). rr spreads 20 new connections 10/10; wrr with weights 3:1
// spreads 40 about 30/10; lc sends new connections to the real server with
// fewer open ones while the client holds connections on the other.
func TestScenarioLbdSchedulers(t *testing.T) {
	for _, fwd := range []string{"DR", "NAT", "TUN"} {
		t.Run(fwd, func(t *testing.T) {
			n := newNarrator(t)
			l := buildLbdLab(t, n, "lbds"+strings.ToLower(fwd), fwd)
			node := newLbdNode(t, "lbd-"+strings.ToLower(fwd), l.director)
			// lbd belongs to this level (its cleanup stops it): the
			// scheduler subtests reload it.
			n.Step("%s: lbd run -c lbd.yaml in the director's namespace, scheduler rr:", fwd)
			node.writeConfig(t, "", lbdIPVSYAML+lbdServiceYAML(l, "rr", [2]int{1, 1}, "", ""))
			n.Block(node.yaml)
			d := node.start(t)
			_, took := d.waitReady(t)
			n.Note("lbd answers on %s, table in sync after %v", node.socket, took.Round(time.Millisecond))
			if fwd == "NAT" {
				v, err := l.director.ReadSysctl("net.ipv4.ip_forward")
				must(t, err)
				n.Note("director net.ipv4.ip_forward = %s (ipvs.sysctls.ip_forward: true)", v)
				if v != "1" {
					t.Fatalf("lbd did not turn net.ipv4.ip_forward on: %s", v)
				}
			}

			for _, sc := range []struct {
				sched   string
				weights [2]int
				check   func(t *testing.T, n *narrator, l *lbdLab)
			}{
				{"rr", [2]int{1, 1}, checkRR},
				{"wrr", [2]int{3, 1}, checkWRR},
				{"lc", [2]int{1, 1}, checkLC},
			} {
				ok := t.Run(sc.sched, func(t *testing.T) {
					start := time.Now()
					switch sc.sched {
					case "rr":
						n.Step("%s/%s: 20 new connections", fwd, sc.sched)
					case "wrr":
						node.writeConfig(t, "", lbdIPVSYAML+lbdServiceYAML(l, sc.sched, sc.weights, "", ""))
						n.Step("%s/%s: scheduler wrr, weights 3:1 in lbd.yaml; kill -HUP lbd (reload)", fwd, sc.sched)
						d.signal(t, syscall.SIGHUP)
					case "lc":
						node.writeConfig(t, "", lbdIPVSYAML+lbdServiceYAML(l, sc.sched, sc.weights, "", ""))
						n.Step("%s/%s: scheduler lc, weights 1:1 in lbd.yaml; lbctl reload", fwd, sc.sched)
						out, errOut, code := node.lbctl(t, "reload")
						n.Block(out)
						if code != 0 {
							t.Fatalf("lbctl reload: exit %d: %s%s", code, out, errOut)
						}
						if !strings.Contains(out, "TCP "+seedVIP+":80") {
							t.Errorf("lbctl reload did not report the changed service TCP %s:80:\n%s", seedVIP, out)
						}
					}
					table, took, ok := waitIPVS(t, l.director, settle, func(s map[string]*ipvsService) bool {
						return l.wantService(s, sc.sched, sc.weights)
					})
					n.Note("ipvsadm -ln (as wanted after %v):", took.Round(time.Millisecond))
					n.Block(table)
					if !ok {
						t.Fatalf("the kernel table never showed TCP %s:80 %s with web1, web2 %s weights %v", seedVIP, sc.sched, forwardName(fwd), sc.weights)
					}
					if d.exited() {
						t.Fatalf("lbd exited: %v", d.err)
					}
					sc.check(t, n, l)
					n.Note("%s/%s done in %v", fwd, sc.sched, time.Since(start).Round(time.Millisecond))
				})
				if !ok {
					break
				}
			}
		})
	}
}

// checkRR: 20 new connections are spread 10/10.
func checkRR(t *testing.T, n *narrator, l *lbdLab) {
	const requests = 20
	counts, seq := l.sendRequests(t, l.client, vipURL, requests)
	n.Note("%d requests: %s", requests, seq)
	n.Note("totals: web1 %d, web2 %d", counts["web1"], counts["web2"])
	if counts["web1"] != requests/2 || counts["web2"] != requests/2 || len(counts) != 2 {
		t.Errorf("rr answers %v: want web1 and web2 %d each", counts, requests/2)
	}
}

// checkWRR: with weights 3:1, 40 new connections go about 30/10 (the
// kernel's wrr is exact over whole cycles; +/-2 is allowed).
func checkWRR(t *testing.T, n *narrator, l *lbdLab) {
	const requests = 40
	counts, seq := l.sendRequests(t, l.client, vipURL, requests)
	n.Note("%d requests: %s", requests, seq)
	n.Note("totals: web1 %d, web2 %d (weights 3:1, expected 30/10)", counts["web1"], counts["web2"])
	if d := counts["web1"] - 30; d < -2 || d > 2 || counts["web1"]+counts["web2"] != requests {
		t.Errorf("wrr answers %v: want web1 30 +/-2 and web2 the rest of %d", counts, requests)
	}
}

// checkLC: the client holds 2N connections (lc alternates: N each), closes
// web2's, and then every new connection goes to web2, which has no open
// one, while web1 holds N.
func checkLC(t *testing.T, n *narrator, l *lbdLab) {
	const held = 3
	var conns []*heldConn
	per := map[string]int{}
	for range 2 * held {
		h := l.holdConn(t, l.client, seedVIP+":80")
		conns = append(conns, h)
		per[h.server]++
	}
	n.Note("client opens and holds %d keep-alive connections: web1 holds %d, web2 holds %d", 2*held, per["web1"], per["web2"])
	if per["web1"] != held || per["web2"] != held {
		t.Errorf("lc spread %d held connections %v: want %d each (lc alternates while the active counts tie)", 2*held, per, held)
	}
	var web1 []*heldConn
	for _, h := range conns {
		if h.server == "web2" {
			h.c.Close()
		} else {
			web1 = append(web1, h)
		}
	}
	w1, w2 := l.web("web1").addr+":80", l.web("web2").addr+":80"
	table, _, ok := waitIPVS(t, l.director, settle, func(s map[string]*ipvsService) bool {
		r1, ok1 := s["TCP "+seedVIP+":80"].dest(w1)
		r2, ok2 := s["TCP "+seedVIP+":80"].dest(w2)
		return ok1 && ok2 && r1.active == len(web1) && r2.active == 0
	})
	n.Note("client closes web2's connections; ipvsadm -ln:")
	n.Block(table)
	if !ok {
		t.Fatalf("ActiveConn never became web1 %d, web2 0 after closing web2's connections", len(web1))
	}
	const requests = 6
	counts, seq := l.sendRequests(t, l.client, vipURL, requests)
	n.Note("%d new connections while web1 holds %d open: %s", requests, len(web1), seq)
	if counts["web2"] != requests {
		t.Errorf("lc answers %v while web1 holds %d connections and web2 none: want all %d on web2", counts, len(web1), requests)
	}
	for i, h := range web1 {
		got, err := h.get()
		if err != nil || got != "web1" {
			t.Errorf("held connection %d to web1 after the new ones: answer %q, error %v", i+1, got, err)
		}
		h.c.Close()
	}
}
