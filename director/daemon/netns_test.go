//go:build netns

package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/internal/netnslab"
)

// netnsDirector is one lbd running in-process: the fake IPVS, the real
// VRRP in its namespace, the real control socket.
type netnsDirector struct {
	ns     *netnslab.Namespace
	k      *fake.Kernel
	d      *Daemon
	cfg    string
	sock   string
	logs   *syncBuf
	cancel context.CancelFunc
	done   chan error
}

func netnsConfig(dir string, prio, weight int, pass string, b1, b2 netip.AddrPort) string {
	return fmt.Sprintf(`global:
  control_socket: %s/lbd.sock
  state_dir: %s
  metrics_address: ""
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      priority: %d
      advert_interval: 1
      authentication: {type: PASS, password: "%s"}
      virtual_ipaddresses: [{address: 10.9.0.100/24, label: "eth0:0"}]
virtual_servers:
  - address: 10.9.0.100
    port: 80
    scheduler: rr
    delay_loop: 100ms
    connect_timeout: 1s
    retry: 0
    real_servers:
      - address: 10.9.1.1
        weight: %d
        checks: [{type: http, connect_ip: %s, connect_port: %d, urls: [{path: /health}]}]
      - address: 10.9.1.2
        checks: [{type: http, connect_ip: %s, connect_port: %d, urls: [{path: /health}]}]
`, dir, dir, prio, pass, weight, b1.Addr(), b1.Port(), b2.Addr(), b2.Port())
}

func startNetnsDirector(t *testing.T, ns *netnslab.Namespace, prio int) *netnsDirector {
	t.Helper()
	return startNetnsDirectorPass(t, ns, prio, "1111")
}

// startNetnsDirectorPass starts a director whose VRRP password is pass.
func startNetnsDirectorPass(t *testing.T, ns *netnslab.Namespace, prio int, pass string) *netnsDirector {
	t.Helper()
	dir := t.TempDir()
	return runNetnsDirector(t, ns, dir, netnsConfig(dir, prio, 1, pass, backends[0].addrPort(), backends[1].addrPort()))
}

// runNetnsDirector writes yaml to dir/lbd.yaml (its control socket must be
// dir/lbd.sock) and runs that lbd in-process with ns as its VRRP namespace
// until the test ends, logging its logs if the test failed.
func runNetnsDirector(t *testing.T, ns *netnslab.Namespace, dir, yaml string) *netnsDirector {
	t.Helper()
	n := &netnsDirector{ns: ns, k: fake.New(), cfg: filepath.Join(dir, "lbd.yaml"), sock: filepath.Join(dir, "lbd.sock"), logs: &syncBuf{}}
	if err := os.WriteFile(n.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := New(n.cfg, Options{Kernel: n.k, LogOutput: n.logs, Notify: func(string) {},
		Go: func(f func()) { go func() { _ = ns.Do(func() error { f(); return nil }) }() }})
	if err != nil {
		t.Fatal(err)
	}
	n.d = d
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		n.stop(t)
		if t.Failed() {
			t.Logf("%s logs:\n%s", ns.Name(), n.logs.String())
		}
	})
	return n
}

func (n *netnsDirector) stop(t *testing.T) {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("%s: Run: %v", n.ns.Name(), err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not stop", n.ns.Name())
	}
}

func (n *netnsDirector) hasVIP(t *testing.T) bool {
	has, err := n.ns.HasAddress("eth0", netip.MustParseAddr("10.9.0.100"))
	if err != nil {
		t.Fatal(err)
	}
	return has
}

func (n *netnsDirector) vrrpState(t *testing.T) string {
	in, err := n.vrrpInstance()
	if err != nil {
		return "error: " + err.Error()
	}
	return in.State
}

// vrrpInstance returns VI_1 as the control socket shows it.
func (n *netnsDirector) vrrpInstance() (control.VRRPInstance, error) {
	st, err := control.NewClient(n.sock).Status(context.Background())
	if err != nil {
		return control.VRRPInstance{}, err
	}
	for _, in := range st.VRRP {
		if in.Name == "VI_1" {
			return in, nil
		}
	}
	return control.VRRPInstance{State: "absent"}, nil
}

func TestNetnsDaemonComposition(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root")
	}
	backends[0], backends[1] = newBackend(t), newBackend(t)
	lab, lan, nss := netnslab.LANT(t, "lbd", 2)
	ns1, ns2 := nss[0], nss[1]
	d1 := startNetnsDirector(t, ns1, 200)
	d2 := startNetnsDirector(t, ns2, 100)

	waitFor(t, "d1 MASTER with the VIP, d2 BACKUP", func() bool {
		return d1.vrrpState(t) == "MASTER" && d2.vrrpState(t) == "BACKUP" && d1.hasVIP(t) && !d2.hasVIP(t)
	})
	// VRRP counters over the socket: d1 sends, d2 receives, and a third
	// router with another password drops d1's adverts as "auth".
	ns3, err := lab.AddHost("d3", lan, netip.MustParsePrefix("10.9.0.3/24"))
	if err != nil {
		t.Fatal(err)
	}
	d3 := startNetnsDirectorPass(t, ns3, 50, "2222")
	var v3 control.VRRPInstance
	waitFor(t, "d3 drops d1's adverts for auth", func() bool {
		v3, err = d3.vrrpInstance()
		return err == nil && v3.Drops["auth"] > 0
	})
	d3.stop(t)
	if v3.AdvertsReceived != 0 {
		t.Errorf("d3 accepted adverts with another password: %+v", v3)
	}
	v1, err1 := d1.vrrpInstance()
	v2, err2 := d2.vrrpInstance()
	if err1 != nil || err2 != nil || v1.AdvertsSent == 0 || v2.AdvertsReceived == 0 {
		t.Errorf("VRRP counters: d1 %+v (%v), d2 %+v (%v)", v1, err1, v2, err2)
	}

	fakeDests := func(k *fake.Kernel) map[string]uint32 {
		out := map[string]uint32{}
		for _, s := range k.Table().Services {
			for _, d := range s.Destinations {
				out[d.Address.String()] = d.Weight
			}
		}
		return out
	}
	both := map[string]uint32{"10.9.1.1": 1, "10.9.1.2": 1}
	waitFor(t, "both tables programmed", func() bool { return eqDests(fakeDests(d1.k), both) && eqDests(fakeDests(d2.k), both) })

	// Health: the second real server fails on both directors.
	backends[1].fail.Store(true)
	one := map[string]uint32{"10.9.1.1": 1}
	waitFor(t, "server 2 removed", func() bool { return eqDests(fakeDests(d1.k), one) && eqDests(fakeDests(d2.k), one) })
	st, err := control.NewClient(d1.sock).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var down bool
	for _, rs := range st.RealServers {
		if rs.Address.String() == "10.9.1.2" && !rs.Up && strings.Contains(rs.Reason, "status 500") {
			down = true
		}
	}
	if !down || len(st.VRRP) != 1 || st.VRRP[0].State != "MASTER" || len(st.VRRP[0].VIPs) != 1 {
		t.Errorf("status over the socket: %+v", st)
	}
	backends[1].fail.Store(false)
	waitFor(t, "server 2 back", func() bool { return eqDests(fakeDests(d1.k), both) })

	transBefore := fmt.Sprint(d1.d.Transitions())
	cl := control.NewClient(d1.sock)
	// Reload with a bad file: nothing changes.
	good, _ := os.ReadFile(d1.cfg)
	os.WriteFile(d1.cfg, []byte(strings.Replace(string(good), "priority: 200", "priority: 900", 1)), 0o600)
	d1.k.ResetCounters()
	if _, err := cl.Reload(context.Background(), control.ReloadRequest{}); err == nil || !strings.Contains(err.Error(), "priority") {
		t.Errorf("bad reload: %v", err)
	}
	// Reload with a weight change: one write, VRRP untouched.
	os.WriteFile(d1.cfg, []byte(strings.Replace(string(good), "weight: 1", "weight: 4", 1)), 0o600)
	res, err := cl.Reload(context.Background(), control.ReloadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Apply == nil || res.Apply.Writes != 1 || d1.k.Writes() != 1 {
		t.Errorf("weight reload: %+v, writes %d %v", res.Apply, d1.k.Writes(), d1.k.Log())
	}
	// A flap would show within an advert interval: let d2 hear three more
	// of d1's adverts (counted, not timed), then look.
	v2, err = d2.vrrpInstance()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three more adverts of d1 at d2", func() bool {
		now, err := d2.vrrpInstance()
		return err == nil && now.AdvertsReceived >= v2.AdvertsReceived+3
	})
	if after := fmt.Sprint(d1.d.Transitions()); after != transBefore || !d1.hasVIP(t) || d1.vrrpState(t) != "MASTER" {
		t.Errorf("reload flapped VRRP: transitions %s -> %s, VIP %v", transBefore, after, d1.hasVIP(t))
	}

	// Stop d1: it leaves with priority 0, d2 takes the VIP; d1's table stays.
	d1.stop(t)
	waitFor(t, "VIP on d2", func() bool { return d2.hasVIP(t) && !d1.hasVIP(t) && d2.vrrpState(t) == "MASTER" })
	if len(d1.k.Table().Services) != 1 {
		t.Errorf("d1's table flushed on stop")
	}
}
