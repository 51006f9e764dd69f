package kaconf

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/healthcheck"

	"github.com/lvsd/lb/vrrp"

	"github.com/lvsd/lb/internal/config"
)

// The seed tutorial's three keepalived.conf files, extracted verbatim (with
// their no-break spaces and Chinese comments) into testdata.
func TestSeedConfigs(t *testing.T) {
	for _, tt := range []struct {
		file      string
		state     vrrp.StartState
		prio      int
		nopreempt bool
		vip       string
		unmapped  []string // LINE:KEYWORD
		services  int
	}{
		// The notification_email block and notification_email_from map
		// to notify.email; what is left is the misspelling. The nginx
		// pair's virtual server without real servers is a note: keepalived
		// ignores it ("has no real servers - ignoring") and so does lbd.
		{"seed-ssl-get.conf", vrrp.StartBackup, 100, true, "192.168.56.70", nil, 1},
		{"seed-backup.conf", vrrp.StartBackup, 100, true, "192.168.56.90",
			[]string{"32:lvs_sync_daemon_inteface"}, 0},
		{"seed-master.conf", vrrp.StartMaster, 200, false, "192.168.56.90",
			[]string{"32:lvs_sync_daemon_inteface"}, 0},
	} {
		t.Run(tt.file, func(t *testing.T) {
			res, err := ConvertFile("testdata/"+tt.file, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := res.Director
			if got := issueKeys(res); !slices.Equal(got, tt.unmapped) {
				t.Errorf("unmapped %q, want %q", got, tt.unmapped)
			}
			if e := d.Notify.Email; e.From != "Alexandre.Cassen@firewall.loc" || len(e.To) != 0 || e.SMTPServer != "" {
				t.Errorf("notify.email %+v: want the seed's sender, no address (all commented out), no server", e)
			}
			if d.Global.RouterID != "LVS_DEVEL" {
				t.Errorf("router_id %q", d.Global.RouterID)
			}
			if len(d.VRRP.Instances) != 1 {
				t.Fatalf("%d instances", len(d.VRRP.Instances))
			}
			in := d.VRRP.Instances[0]
			if in.Name != "VI_1" || in.InitialState != tt.state || in.Priority != tt.prio || in.NoPreempt != tt.nopreempt ||
				in.Interface != "eth1" || in.VRID != 51 || in.Version != 2 || in.AdvertInterval != time.Second {
				t.Errorf("instance %+v", in)
			}
			if in.Authentication == nil || *in.Authentication != *vrrp.PassAuth("1111") {
				t.Errorf("authentication %+v", in.Authentication)
			}
			want := []vrrp.VIP{{Prefix: netip.MustParsePrefix(tt.vip + "/32"), Device: "eth1"}}
			if !slices.Equal(in.VIPs, want) {
				t.Errorf("VIPs %+v, want %+v", in.VIPs, want)
			}
			if d.IPVS.SyncDaemon != nil {
				t.Errorf("sync daemon %+v: keepalived runs none for the misspelt keyword", d.IPVS.SyncDaemon)
			}
			if len(d.VirtualServers) != tt.services {
				t.Fatalf("%d virtual servers, want %d", len(d.VirtualServers), tt.services)
			}
			if d.Global.FlushOnStop != (tt.services > 0) {
				t.Errorf("flush_on_stop %v with %d services", d.Global.FlushOnStop, tt.services)
			}
			if tt.services == 0 && !hasNote(res, "has no real_server: keepalived ignores") {
				t.Errorf("no note about the virtual server without real servers: %v", res.Notes)
			}
			if !hasNote(res, "U+00A0") {
				t.Errorf("no note about the no-break spaces: %v", res.Notes)
			}
			// The header lists what was not imported.
			for _, i := range res.Unmapped {
				line := "# unmapped: testdata/" + tt.file + ":" + itoa(i.Pos.Line) + ": " + i.Keyword + ": "
				if !strings.Contains(string(res.YAML), line) {
					t.Errorf("YAML header lacks %q", line)
				}
			}
		})
	}
}

// The first variant's virtual server: DR, rr, 1s persistence, a real server
// of weight 10 with an SSL_GET check of two URLs with digests.
func TestSeedSSLGetService(t *testing.T) {
	res, err := ConvertFile("testdata/seed-ssl-get.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	vs := only(t, res.Director)
	if vs.Key() != "TCP 192.168.56.70:8080" || vs.Scheduler != "rr" || vs.Forwarding != config.DR ||
		vs.PersistenceTimeout != time.Second || vs.PersistenceNetmask != 32 || vs.Quorum != 1 {
		t.Errorf("service %s %+v", vs.Key(), vs)
	}
	if len(vs.RealServers) != 1 {
		t.Fatalf("%d real servers", len(vs.RealServers))
	}
	rs := &vs.RealServers[0]
	if rs.AddrPort() != netip.MustParseAddrPort("192.168.56.201:8080") || rs.Weight != 10 || rs.Forwarding != config.DR {
		t.Errorf("real server %+v", rs)
	}
	if len(rs.Checks) != 1 {
		t.Fatalf("%d checks", len(rs.Checks))
	}
	c := &rs.Checks[0]
	wantURLs := []config.URL{
		{Path: "/", Digest: "ff20ad2481f97b1754ef3e12ecd3a9cc", StatusCodes: []config.StatusRange{{Lo: 200, Hi: 299}}},
		{Path: "/mrtg/", Digest: "9b3a0c85a887a256d6939da88aabd8cd", StatusCodes: []config.StatusRange{{Lo: 200, Hi: 299}}},
	}
	if c.Type != config.CheckHTTPS || len(c.URLs) != 2 ||
		!slices.EqualFunc(c.URLs, wantURLs, func(a, b config.URL) bool {
			return a.Path == b.Path && a.Digest == b.Digest && slices.Equal(a.StatusCodes, b.StatusCodes)
		}) {
		t.Errorf("check %+v", c)
	}
	// keepalived's timing: delay_loop 6 from the virtual server, the
	// checker's own connect_timeout, nb_get_retry, delay_before_retry, and
	// a first check at a random time within one delay_loop.
	got := vs.EffectiveCheck(rs, c)
	want := healthcheck.Timing{DelayLoop: 6 * time.Second, ConnectTimeout: 3 * time.Second, Retry: 3,
		DelayBeforeRetry: 3 * time.Second, Warmup: 6 * time.Second, Rise: 1, Fall: 4}
	if got != want {
		t.Errorf("timing %+v\nwant   %+v", got, want)
	}
}
