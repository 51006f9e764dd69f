package kaconf

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/vrrp"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lb/internal/config"
)

var fixtures = []string{"testdata/full.conf", "testdata/aliases.conf", "testdata/notify.conf", "testdata/checkers.conf"}

// The fixtures use every keyword the importer maps (so that the other
// tests on them cover every mapping), and nothing is reported unmapped.
func TestFixturesCoverMappedKeywords(t *testing.T) {
	var words []string
	files, _ := filepath.Glob("testdata/full.d/*.conf")
	for _, f := range append(files, fixtures...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			line, _ = decomment(line)
			for _, p := range splitBraces(line, len(line)+1) {
				if w := splitWords(p); len(w) > 0 {
					words = append(words, w[0])
				}
			}
		}
	}
	for _, list := range [][]string{globalMapped, instanceMapped, {"auth_type", "auth_pass"}, scriptMapped,
		syncGroupMapped, serviceMapped, realMapped, checkerCommon, checkerConnection, checkerHTTP, checkerMisc,
		checkerDNS, checkerUDP, checkerSMTP, urlMapped} {
		for _, k := range list {
			if !slices.Contains(words, k) {
				t.Errorf("no fixture uses %q", k)
			}
		}
	}
	for _, f := range fixtures {
		res, err := ConvertFile(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Unmapped) > 0 {
			t.Errorf("%s: unmapped %v", f, res.Unmapped)
		}
	}
}

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
var cmpPrefix = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func dp(d time.Duration) *time.Duration { return &d }
func ip(i int) *int                     { return &i }
func bp(b bool) *bool                   { return &b }

func TestFullFixtureVRRP(t *testing.T) {
	res, err := ConvertFile("testdata/full.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Director
	if d.Global.RouterID != "LB_FULL" || !d.Global.PurgeUnmanaged || !d.Global.FlushOnStop ||
		d.Global.ScriptUser != "root" || d.Global.ScriptGroup != "root" || !d.Global.EnableScriptSecurity {
		t.Errorf("global %+v", d.Global)
	}
	if want := (config.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}); d.IPVS.Timeouts != want {
		t.Errorf("timeouts %+v", d.IPVS.Timeouts)
	}
	if want := (config.SyncDaemon{Interface: "eth0", SyncID: 7, Role: config.SyncAuto, Instance: "VI_WEB"}); d.IPVS.SyncDaemon == nil || *d.IPVS.SyncDaemon != want {
		t.Errorf("sync daemon %+v", d.IPVS.SyncDaemon)
	}

	web := d.VRRP.Instance("VI_WEB")
	wantWeb := &vrrp.Config{
		Name: "VI_WEB", InitialState: vrrp.StartBackup, Interface: "eth0", VRID: 51, Version: 2, Priority: 150,
		AdvertInterval: 2 * time.Second, NoPreempt: true,
		Authentication: vrrp.PassAuth("secret99"),
		SourceAddr:     netip.MustParseAddr("192.168.56.11"),
		UnicastPeers:   []netip.Addr{netip.MustParseAddr("192.168.56.12")},
		UnicastMinTTL:  250, // min_ttl of the one peer; max_ttl 255 is no bound
		VIPs: []vrrp.VIP{
			{Prefix: netip.MustParsePrefix("192.168.56.90/24"), Device: "eth0", Label: "eth0:1"},
			{Prefix: netip.MustParsePrefix("192.168.56.91/32"), Device: "eth0"},
			{Prefix: netip.MustParsePrefix("192.168.56.92/32"), Device: "eth1"},
		},
		TrackInterfaces: []vrrp.TrackInterface{{Name: "eth1", Weight: -20}, {Name: "eth2", Weight: 0}},
		TrackScripts:    []vrrp.TrackScript{{Name: "chk_nginx", Weight: ptr(-50)}, {Name: "chk_disk", Weight: ptr(10)}},
		Notify: vrrp.Notify{
			Master: []string{"/etc/lbd/notify.sh", "master"},
			Backup: []string{"/etc/lbd/notify-backup.sh"},
			Fault:  []string{"/etc/lbd/notify.sh", "fault"},
			Stop:   []string{"/etc/lbd/notify.sh", "stop"},
			Any:    []string{"/etc/lbd/notify-any.sh"},
		},
		GARP: vrrp.GARPConfig{MasterDelay: 7 * time.Second, MasterRepeat: 4, MasterRefresh: 30 * time.Second,
			MasterRefreshRepeat: 3, Interval: time.Millisecond},
		SkipCheckAdvAddr: false, // "off" overrides the global vrrp_skip_check_adv_addr
	}
	if diff := cmp.Diff(wantWeb, web, cmpAddr, cmpPrefix); diff != "" {
		t.Errorf("VI_WEB (-want +got):\n%s", diff)
	}

	db := d.VRRP.Instance("VI_DB")
	wantDB := &vrrp.Config{
		Name: "VI_DB", InitialState: vrrp.StartMaster, Interface: "eth0", VRID: 52, Version: 3,
		Priority: 255, AdvertInterval: 500 * time.Millisecond, PreemptDelay: 0,
		VIPs: []vrrp.VIP{{Prefix: netip.MustParsePrefix("2001:db8::90/128"), Device: "eth0"}},
		// The global_defs GARP settings and vrrp_skip_check_adv_addr.
		GARP: vrrp.GARPConfig{MasterDelay: 10 * time.Second, MasterRepeat: 3, MasterRefresh: 60 * time.Second,
			MasterRefreshRepeat: 2, Interval: time.Millisecond},
		SkipCheckAdvAddr: true,
		DontTrackPrimary: true,
	}
	if diff := cmp.Diff(wantDB, db, cmpAddr, cmpPrefix); diff != "" {
		t.Errorf("VI_DB (-want +got):\n%s", diff)
	}
	for _, note := range []string{"priority 255", "preempt_delay with state MASTER", "lvs_flush"} {
		if !hasNote(res, note) {
			t.Errorf("no note about %q in %v", note, res.Notes)
		}
	}

	wantScripts := []vrrp.ScriptConfig{
		{Name: "chk_nginx", Command: []string{"/usr/bin/pgrep", "-x", "nginx"}, Interval: 2 * time.Second,
			Timeout: 3 * time.Second, Rise: 2, Fall: 3, Weight: -50},
		{Name: "chk_disk", Command: []string{"/usr/local/bin/check", "disk", "with space"},
			Interval: 5 * time.Second, Timeout: 5 * time.Second, Rise: 1, Fall: 1, User: "root"},
	}
	if diff := cmp.Diff(wantScripts, d.VRRP.Scripts); diff != "" {
		t.Errorf("scripts (-want +got):\n%s", diff)
	}
	wantGroups := []vrrp.SyncGroupConfig{{Name: "SG_1", Instances: []string{"VI_LB", "VI_DB"},
		Notify: vrrp.Notify{Master: []string{"/etc/lbd/sg.sh", "master"}, Any: []string{"/etc/lbd/sg-any.sh"}}}}
	if diff := cmp.Diff(wantGroups, d.VRRP.SyncGroups); diff != "" {
		t.Errorf("sync groups (-want +got):\n%s", diff)
	}
}

// fullServices returns the virtual servers of testdata/full.conf.
func fullServices(t *testing.T) []config.VirtualServer {
	t.Helper()
	res, err := ConvertFile("testdata/full.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	vss := res.Director.VirtualServers
	if len(vss) != 3 {
		t.Fatalf("%d virtual servers", len(vss))
	}
	return vss
}

// The included web service: DR, persistence, quorum, sorry server, HTTP,
// HTTPS and TCP checks with timing at each level.
func TestFullFixtureWebService(t *testing.T) {
	web := &fullServices(t)[0]
	if web.Key() != "TCP 192.168.56.90:80" || web.Scheduler != "wrr" || web.Forwarding != config.DR ||
		web.PersistenceTimeout != 300*time.Second || web.PersistenceNetmask != 24 || web.Quorum != 2 ||
		web.Hysteresis != 1 || !web.InhibitOnFailure ||
		!slices.Equal(web.QuorumUp, []string{"/etc/lbd/quorum.sh", "up"}) ||
		!slices.Equal(web.QuorumDown, []string{"/etc/lbd/quorum.sh", "down"}) {
		t.Errorf("web service %+v", web)
	}
	if want := (config.SorryServer{Address: netip.MustParseAddr("192.168.56.250"), Port: 80, Forwarding: config.DR, Inhibit: true}); web.SorryServer == nil || *web.SorryServer != want {
		t.Errorf("sorry server %+v", web.SorryServer)
	}
	r0, r1 := &web.RealServers[0], &web.RealServers[1]
	if r0.Weight != 3 || r0.UpperThreshold != 1000 || r0.LowerThreshold != 100 || !r0.InhibitOnFailure ||
		!slices.Equal(r0.NotifyUp, []string{"/etc/lbd/rs.sh", "up"}) || !slices.Equal(r0.NotifyDown, []string{"/etc/lbd/rs.sh", "down"}) {
		t.Errorf("real server 0 %+v", r0)
	}
	if r1.Weight != 0 || r1.InhibitOnFailure {
		t.Errorf("real server 1: weight %d inhibit %v, want 0 false", r1.Weight, r1.InhibitOnFailure)
	}
	http := &r0.Checks[0]
	if http.Type != config.CheckHTTP || http.ConnectIP != netip.MustParseAddr("192.168.56.210") || http.ConnectPort != 8080 ||
		http.BindTo != netip.MustParseAddr("192.168.56.11") || http.VirtualHost != "www.example.com" ||
		r0.EffectiveTarget(http) != netip.MustParseAddrPort("192.168.56.210:8080") {
		t.Errorf("http check %+v", http)
	}
	wantURL := []config.URL{{Path: "/health", Digest: "d36f8f9425c4a8000ad9c4a97185aca5",
		StatusCodes: []config.StatusRange{{Lo: 200, Hi: 200}, {Lo: 301, Hi: 302}}}}
	if diff := cmp.Diff(wantURL, http.URLs); diff != "" {
		t.Errorf("urls (-want +got):\n%s", diff)
	}
	https, tcp := &r1.Checks[0], &r1.Checks[1]
	if https.Type != config.CheckHTTPS || https.VirtualHost != "www.example.com" || https.SNI != "www.example.com" {
		t.Errorf("https check %+v", https)
	}

	// Timing: each level as written, keepalived's defaults where lbd's differ.
	for _, tt := range []struct {
		name string
		rs   *config.RealServer
		c    *config.Check
		want healthcheck.Timing
	}{
		{"http: vs delay_loop, connect_timeout and alpha; nb_get_retry", r0, http, healthcheck.Timing{
			DelayLoop: 10 * time.Second, ConnectTimeout: 4 * time.Second, Retry: 2, DelayBeforeRetry: 3 * time.Second,
			Warmup: 10 * time.Second, Alpha: true, Rise: 1, Fall: 3}},
		{"https: rs delay_loop and retry", r1, https, healthcheck.Timing{
			DelayLoop: 20 * time.Second, ConnectTimeout: 4 * time.Second, Retry: 4, DelayBeforeRetry: 2 * time.Second,
			Warmup: 20 * time.Second, Alpha: true, Rise: 1, Fall: 5}},
		{"tcp: keepalived's 1s delay_before_retry, its own warmup and alpha", r1, tcp, healthcheck.Timing{
			DelayLoop: 20 * time.Second, ConnectTimeout: 2 * time.Second, Retry: 4, DelayBeforeRetry: time.Second,
			Warmup: 0, Alpha: false, Rise: 1, Fall: 5}},
	} {
		if got := web.EffectiveCheck(tt.rs, tt.c); got != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

// The other included services: fwmark, sh with sh-port, GUE tunnel,
// MISC_CHECK; UDP, NAT, one packet scheduling, DNS_CHECK.
func TestFullFixtureOtherServices(t *testing.T) {
	vss := fullServices(t)
	fw := &vss[1]
	if fw.Key() != "FWM 5 ipv4" || fw.Scheduler != "sh" || !slices.Equal(fw.SchedulerFlags, []config.SchedulerFlag{"sh-port", "sh-fallback"}) ||
		fw.Forwarding != config.TUN || fw.Protocol != "" {
		t.Errorf("fwmark service %s %+v", fw.Key(), fw)
	}
	f0, f1 := &fw.RealServers[0], &fw.RealServers[1]
	if f0.Forwarding != config.TUN || f0.Tunnel == nil || *f0.Tunnel != (config.Tunnel{Type: config.TunnelGUE, Port: 6080, Checksum: config.ChecksumCsum}) {
		t.Errorf("tunnelled real server %+v tunnel %+v", f0, f0.Tunnel)
	}
	if f1.Forwarding != config.DR || f1.Tunnel != nil {
		t.Errorf("DR real server %+v", f1)
	}
	m0, m1 := &f0.Checks[0], &f1.Checks[0]
	if m0.Type != config.CheckScript || !slices.Equal(m0.Command, []string{"/usr/local/bin/check-rs", "10.0.0.1"}) || !m0.Dynamic {
		t.Errorf("misc check %+v", m0)
	}
	// A MISC_CHECK times out after misc_timeout, else the virtual server's
	// delay_loop; it does not retry.
	if got := fw.EffectiveCheck(f0, m0); got.ConnectTimeout != 60*time.Second || got.Retry != 0 || got.DelayBeforeRetry != time.Second || got.Fall != 1 {
		t.Errorf("misc timing %+v", got)
	}
	if got := fw.EffectiveCheck(f1, m1); got.ConnectTimeout != 7*time.Second || got.Retry != 0 {
		t.Errorf("misc timing with misc_timeout %+v", got)
	}
	if m0.User != "" || m1.User != "root" || m1.Group != "" {
		t.Errorf("MISC_CHECK users %q/%q, %q/%q; want none, root", m0.User, m0.Group, m1.User, m1.Group)
	}

	// UDP, NAT, one packet scheduling, DNS_CHECK.
	dns := &vss[2]
	if dns.Key() != "UDP 192.168.56.95:53" || !dns.OnePacket || dns.Forwarding != config.NAT {
		t.Errorf("dns service %+v", dns)
	}
	rs := &dns.RealServers[0]
	c := &rs.Checks[0]
	if rs.Port != 5353 || c.Type != config.CheckDNS || c.QueryType != "A" || c.QueryName != "www.example.com" || c.ConnectPort != 5353 {
		t.Errorf("dns real server %+v check %+v", rs, c)
	}
	// DNS_CHECK: 3 retries, delay_before_retry = delay_loop.
	if got := dns.EffectiveCheck(rs, c); got.Retry != 3 || got.DelayBeforeRetry != 60*time.Second || got.Warmup != 60*time.Second {
		t.Errorf("dns timing %+v", got)
	}
}

func TestAliasesFixture(t *testing.T) {
	res, err := ConvertFile("testdata/aliases.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Director
	in := d.VRRP.Instance("VI_A")
	if in.InitialState != vrrp.StartBackup || in.Priority != 100 || in.NoPreempt || in.SourceAddr != netip.MustParseAddr("10.1.0.1") {
		t.Errorf("VI_A %+v", in)
	}
	// lvs_sync_daemon_interface: sync_id is the instance's VRID.
	if want := (config.SyncDaemon{Interface: "eth0", SyncID: 60, Role: config.SyncAuto, Instance: "VI_A"}); d.IPVS.SyncDaemon == nil || *d.IPVS.SyncDaemon != want {
		t.Errorf("sync daemon %+v", d.IPVS.SyncDaemon)
	}
	if !d.Global.FlushOnStop {
		t.Error("flush_on_stop not set")
	}
	fw := &d.VirtualServers[0]
	if fw.Key() != "FWM 9 ipv4" || fw.Scheduler != "mh" || fw.Forwarding != config.NAT ||
		!slices.Equal(fw.SchedulerFlags, []config.SchedulerFlag{"mh-port", "mh-fallback", "flag-3"}) {
		t.Errorf("fwmark service %+v", fw)
	}
	if want := (config.SorryServer{Address: netip.MustParseAddr("10.1.0.250"), Port: 8080, Forwarding: config.NAT}); *fw.SorryServer != want {
		t.Errorf("sorry server %+v", fw.SorryServer)
	}
	rs := &fw.RealServers[0]
	// A TUN real server of a fwmark service: keepalived clears the port;
	// its check keeps connecting to the port written.
	if rs.Weight != 5 || rs.Port != 0 || rs.Forwarding != config.TUN ||
		*rs.Tunnel != (config.Tunnel{Type: config.TunnelGRE, Checksum: config.ChecksumCsum}) ||
		rs.EffectiveTarget(&rs.Checks[0]) != netip.MustParseAddrPort("10.1.0.10:8080") {
		t.Errorf("real server %+v", rs)
	}
	if got := fw.EffectiveCheck(rs, &rs.Checks[0]); got.Retry != 2 || got.DelayBeforeRetry != 4*time.Second || got.Warmup != time.Second {
		t.Errorf("vs-level retry/delay_before_retry/warmup not inherited: %+v", got)
	}

	if sh := &d.VirtualServers[2]; !slices.Equal(sh.SchedulerFlags, []config.SchedulerFlag{"flag-1", "flag-2"}) ||
		sh.RealServers[0].Port != 0 || sh.Forwarding != config.DR {
		t.Errorf("sh service %+v", sh)
	}

	tun := &d.VirtualServers[1]
	rs = &tun.RealServers[0]
	c := &rs.Checks[0]
	if !rs.InhibitOnFailure || rs.Forwarding != config.TUN || rs.Tunnel == nil || rs.Tunnel.Type != config.TunnelIPIP {
		t.Errorf("real server %+v", rs)
	}
	// enable_sni: keepalived sends the virtualhost as SNI, and so does lbd.
	if c.VirtualHost != "u.example.com" || c.SNI != "u.example.com" || len(c.URLs) != 2 {
		t.Errorf("https check %+v", c)
	}
	want := healthcheck.Timing{DelayLoop: 15 * time.Second, ConnectTimeout: time.Second, Retry: 1,
		DelayBeforeRetry: 5 * time.Second, Warmup: 3 * time.Second, Alpha: true, Rise: 1, Fall: 2}
	if got := tun.EffectiveCheck(rs, c); got != want {
		t.Errorf("timing %+v\nwant   %+v", got, want)
	}
}

// The YAML is stable, and what lbd reads back from it is the mapped model.
func TestYAMLRoundTrip(t *testing.T) {
	for _, f := range append(fixtures, "testdata/seed-ssl-get.conf", "testdata/seed-master.conf") {
		a, err := ConvertFile(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ConvertFile(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(a.YAML) != string(b.YAML) {
			t.Errorf("%s: two conversions differ", f)
		}
		again, err := config.ParseDirector("again.yaml", a.YAML)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if diff := cmp.Diff(a.Director, again, cmpAddr, cmpPrefix); diff != "" {
			t.Errorf("%s: re-read differs:\n%s", f, diff)
		}
	}
}

// yamlQuotingConf has names and values that mean something else in YAML.
const yamlQuotingConf = `global_defs {
  router_id on
}
vrrp_script "null" {
  script "/bin/echo ~ 'a: b' #x"
}
vrrp_instance ~ {
  interface yes
  virtual_router_id 7
  authentication {
    auth_type PASS
    auth_pass "1e3"
  }
  virtual_ipaddress {
    10.9.9.9 dev yes label yes:1
  }
  track_script {
    null
  }
}
vrrp_instance "a b: c" {
  interface no
  virtual_router_id 8
  virtual_ipaddress {
    10.9.9.10
  }
}
virtual_server 10.9.9.9 80 {
  protocol TCP
  real_server 10.0.0.1 80 {
    HTTP_GET {
      url {
        path "/a b#c"
      }
      virtualhost "*.example"
    }
  }
}
`

// Names and values that mean something else in YAML stay strings.
func TestYAMLQuoting(t *testing.T) {
	res := convert(t, yamlQuotingConf)
	d := res.Director
	if d.Global.RouterID != "on" {
		t.Errorf("router_id %q", d.Global.RouterID)
	}
	in := d.VRRP.Instance("~")
	if in == nil || in.Interface != "yes" || in.Authentication.Password != "1e3" || in.VIPs[0].Label != "yes:1" ||
		in.TrackScripts[0].Name != "null" {
		t.Errorf("instance ~ %+v", in)
	}
	if in := d.VRRP.Instance("a b: c"); in == nil || in.Interface != "no" {
		t.Errorf("instance 'a b: c' %+v", in)
	}
	if s := d.VRRP.Script("null"); s == nil || !slices.Equal(s.Command, []string{"/bin/echo", "~", "a: b", "#x"}) {
		t.Errorf("script %+v", s)
	}
	c := d.VirtualServers[0].RealServers[0].Checks[0]
	if c.URLs[0].Path != "/a b#c" || c.VirtualHost != "*.example" {
		t.Errorf("check %+v", c)
	}
}
