package config

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/healthcheck"

	"github.com/lvsd/lb/vrrp"
)

const examplesDir = "../../deploy/examples"

// Every file in deploy/examples is valid: lbd-*.yaml as a Director,
// lbrs-*.yaml as an Agent.
func TestExamplesValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var lbd, lbrs int
	for _, f := range files {
		base := filepath.Base(f)
		switch {
		case strings.HasPrefix(base, "lbd"):
			lbd++
			if _, err := LoadDirector(f); err != nil {
				t.Errorf("%s:\n%v", base, err)
			}
		case strings.HasPrefix(base, "lbrs"):
			lbrs++
			if _, err := LoadAgent(f); err != nil {
				t.Errorf("%s:\n%v", base, err)
			}
		default:
			t.Errorf("%s: example is neither lbd-*.yaml nor lbrs-*.yaml", base)
		}
	}
	if lbd < 2 || lbrs < 1 {
		t.Errorf("found %d lbd and %d lbrs examples, want at least 2 and 1", lbd, lbrs)
	}
}

// The examples reproduce the seed's set-up.
func TestExamplesMatchSeed(t *testing.T) {
	master, err := LoadDirector(filepath.Join(examplesDir, "lbd-master.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	backup, err := LoadDirector(filepath.Join(examplesDir, "lbd-backup.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		d         *Director
		state     vrrp.StartState
		prio      int
		nopreempt bool
	}{
		{master, vrrp.StartMaster, 200, false},
		{backup, vrrp.StartBackup, 100, true},
	} {
		if len(tt.d.VRRP.Instances) != 1 {
			t.Fatalf("want one VRRP instance, got %d", len(tt.d.VRRP.Instances))
		}
		in := tt.d.VRRP.Instances[0]
		if in.InitialState != tt.state || in.Priority != tt.prio || in.NoPreempt != tt.nopreempt {
			t.Errorf("%s: state %s priority %d nopreempt %v; want %s %d %v", in.Name, in.InitialState, in.Priority, in.NoPreempt, tt.state, tt.prio, tt.nopreempt)
		}
		if in.VRID != 51 || in.AdvertInterval != time.Second || in.Version != 2 || in.Interface != "eth0" {
			t.Errorf("instance: VRID %d advert %v version %d interface %s", in.VRID, in.AdvertInterval, in.Version, in.Interface)
		}
		if in.Authentication == nil || *in.Authentication != *vrrp.PassAuth("1111") {
			t.Errorf("authentication = %+v", in.Authentication)
		}
		wantVIP := vrrp.VIP{Prefix: netip.MustParsePrefix("192.168.56.90/32"), Device: "eth0", Label: "eth0:0"}
		if len(in.VIPs) != 1 || in.VIPs[0] != wantVIP {
			t.Errorf("VIPs = %+v", in.VIPs)
		}
		ipvs := tt.d.IPVS
		if ipvs.Timeouts != (Timeouts{TCP: time.Second, TCPFin: time.Second, UDP: time.Second}) {
			t.Errorf("timeouts = %+v", ipvs.Timeouts)
		}
		if ipvs.Sysctls.IPForward == nil || !*ipvs.Sysctls.IPForward {
			t.Error("ip_forward not on")
		}
		if len(tt.d.VirtualServers) != 1 {
			t.Fatalf("want one virtual server, got %d", len(tt.d.VirtualServers))
		}
		vs := &tt.d.VirtualServers[0]
		if vs.Key() != "TCP 192.168.56.90:80" || vs.Scheduler != "rr" || vs.Forwarding != DR || vs.Persistent() {
			t.Errorf("service %s scheduler %s forwarding %s persistent %v", vs.Key(), vs.Scheduler, vs.Forwarding, vs.Persistent())
		}
		var addrs []string
		for i := range vs.RealServers {
			rs := &vs.RealServers[i]
			addrs = append(addrs, rs.AddrPort().String())
			if rs.Forwarding != DR || rs.Weight != 1 || len(rs.Checks) != 1 {
				t.Errorf("%s: forwarding %s weight %d checks %d", rs.AddrPort(), rs.Forwarding, rs.Weight, len(rs.Checks))
				continue
			}
			c := &rs.Checks[0]
			if c.Type != CheckHTTP || len(c.URLs) != 1 || !isMD5Hex(c.URLs[0].Digest) {
				t.Errorf("%s: check %+v", rs.AddrPort(), c)
			}
			want := healthcheck.Timing{DelayLoop: 6 * time.Second, ConnectTimeout: 3 * time.Second, Retry: 3,
				DelayBeforeRetry: 3 * time.Second, Rise: 1, Fall: 4}
			if got := vs.EffectiveCheck(rs, c); got != want {
				t.Errorf("%s: timing %+v, want %+v", rs.AddrPort(), got, want)
			}
		}
		if strings.Join(addrs, " ") != "192.168.56.200:80 192.168.56.201:80" {
			t.Errorf("real servers = %v", addrs)
		}
	}
	// The two directors differ only in their VRRP role.
	mi, bi := master.VRRP.Instances[0], backup.VRRP.Instances[0]
	mi.InitialState, mi.Priority, mi.NoPreempt = bi.InitialState, bi.Priority, bi.NoPreempt
	master.VRRP.Instances[0] = mi
	if !reflect.DeepEqual(master, backup) {
		t.Errorf("master and backup differ beyond state/priority/nopreempt:\n%+v\n%+v", master, backup)
	}

	web, err := LoadAgent(filepath.Join(examplesDir, "lbrs-web.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if web.Mode != ModeDR || len(web.VIPs) != 1 || web.VIPs[0] != netip.MustParseAddr("192.168.56.90") ||
		web.Sysctls.ArpIgnore != 1 || web.Sysctls.ArpAnnounce != 2 || web.Interface != "lo" || web.Label(0) != "lo:0" {
		t.Errorf("agent = %+v", web)
	}
}
