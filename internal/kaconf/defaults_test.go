package kaconf

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/vrrp"

	"github.com/lvsd/lb/internal/config"
)

// instance wraps VRRP instance statements into a minimal file.
func instance(body string) string {
	return "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.100\n }\n" + body + "\n}\n"
}

// service wraps virtual server statements into a minimal file.
func service(head, body string) string {
	return "virtual_server " + head + " {\n" + body + "\n}\n"
}

var vrrpDefaultCases = []struct {
	name  string
	conf  string
	check func(*vrrp.Config) bool
	note  string
}{
	{"no state, no priority: BACKUP 100", instance(""),
		func(in *vrrp.Config) bool { return in.InitialState == vrrp.StartBackup && in.Priority == 100 }, ""},
	{"MASTER without priority owns the address", instance("state MASTER"),
		func(in *vrrp.Config) bool { return in.InitialState == vrrp.StartMaster && in.Priority == 255 }, "priority 255"},
	{"priority 255 without state starts MASTER", instance("priority 255"),
		func(in *vrrp.Config) bool { return in.InitialState == vrrp.StartMaster }, ""},
	{"BACKUP after MASTER is ignored", instance("state MASTER\nstate BACKUP\npriority 150"),
		func(in *vrrp.Config) bool { return in.InitialState == vrrp.StartMaster }, "keeps MASTER"},
	{"unknown state means BACKUP", instance("state EQUAL"),
		func(in *vrrp.Config) bool { return in.InitialState == vrrp.StartBackup }, "unknown state"},
	{"nopreempt cleared with MASTER", instance("state MASTER\npriority 200\nnopreempt"),
		func(in *vrrp.Config) bool { return !in.NoPreempt }, "nopreempt with state MASTER"},
	{"nopreempt cleared with priority 255", instance("priority 255\nnopreempt"),
		func(in *vrrp.Config) bool { return !in.NoPreempt }, "nopreempt with priority 255"},
	{"preempt cancels nopreempt", instance("nopreempt\npreempt"),
		func(in *vrrp.Config) bool { return !in.NoPreempt }, ""},
	{"preempt_delay cleared with nopreempt", instance("nopreempt\npreempt_delay 10"),
		func(in *vrrp.Config) bool { return in.NoPreempt && in.PreemptDelay == 0 }, "preempt_delay with nopreempt"},
	{"preempt_delay kept on BACKUP", instance("preempt_delay 2.5"),
		func(in *vrrp.Config) bool { return in.PreemptDelay == 2500*time.Millisecond }, ""},
	{"v2 advert_int rounded", instance("advert_int 1.5"),
		func(in *vrrp.Config) bool { return in.AdvertInterval == 2*time.Second }, "rounds it to 2s"},
	{"v2 advert_int below 1s becomes 1s", instance("advert_int 0.2"),
		func(in *vrrp.Config) bool { return in.AdvertInterval == time.Second }, "rounds it to 1s"},
	{"v3 keeps centiseconds", instance("version 3\nadvert_int 0.25"),
		func(in *vrrp.Config) bool { return in.AdvertInterval == 250*time.Millisecond }, ""},
	{"global vrrp_version", "global_defs {\n vrrp_version 3\n}\n" + instance(""),
		func(in *vrrp.Config) bool { return in.Version == 3 }, ""},
	{"IPv6 forces version 3", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n version 2\n virtual_ipaddress {\n 2001:db8::1\n }\n}",
		func(in *vrrp.Config) bool { return in.Version == 3 }, "always uses VRRP version 3"},
	{"auth_pass truncated to 8", instance("authentication {\n auth_type PASS\n auth_pass 0123456789\n}"),
		func(in *vrrp.Config) bool {
			return in.Authentication != nil && in.Authentication.Password == "01234567"
		}, "first 8"},
	{"no authentication with version 3", instance("version 3\nauthentication {\n auth_type PASS\n auth_pass x\n}"),
		func(in *vrrp.Config) bool { return in.Authentication == nil }, "ignores it"},
	{"no authentication without a password", instance("authentication {\n auth_type PASS\n}"),
		func(in *vrrp.Config) bool { return in.Authentication == nil }, "without auth_pass"},
	{"GARP defaults from global_defs, instance overrides", "global_defs {\n vrrp_garp_master_delay 1\n vrrp_garp_master_repeat 0\n}\n" + instance("garp_master_refresh_repeat 2"),
		func(in *vrrp.Config) bool {
			return in.GARP == vrrp.GARPConfig{MasterDelay: time.Second, MasterRepeat: 1, MasterRefreshRepeat: 2}
		}, "keepalived uses 1"},
	{"track weights: script default, 254 becomes 253",
		"vrrp_script s {\n script /bin/true\n weight -30\n}\n" + instance("track_script {\n s\n}\ntrack_interface {\n eth1 weight 254\n}"),
		func(in *vrrp.Config) bool {
			return cmp.Equal(in.TrackScripts, []vrrp.TrackScript{{Name: "s", Weight: ptr(-30)}}) &&
				slices.Equal(in.TrackInterfaces, []vrrp.TrackInterface{{Name: "eth1", Weight: 253}})
		}, "keepalived uses 253"},
	{"VIP on another device and labels", instance("virtual_ipaddress {\n 10.0.0.101/24 dev eth1 label eth1:web\n}"),
		func(in *vrrp.Config) bool {
			return len(in.VIPs) == 2 && in.VIPs[1] == vrrp.VIP{
				Prefix: netip.MustParsePrefix("10.0.0.101/24"), Device: "eth1", Label: "eth1:web"}
		}, ""},
	{"sync group: tracked interface weights count as 0", instance("track_interface {\n eth1 weight 5\n eth2\n}") + "vrrp_sync_group G {\n group {\n VI_1\n }\n}",
		func(in *vrrp.Config) bool {
			return slices.Equal(in.TrackInterfaces, []vrrp.TrackInterface{{Name: "eth1", Weight: 0}, {Name: "eth2", Weight: 0}})
		}, "keepalived ignores the weight"},
	{"dont_track_primary", instance("dont_track_primary"),
		func(in *vrrp.Config) bool { return in.DontTrackPrimary }, ""},
	{"interface given after the addresses", "vrrp_instance VI_1 {\n virtual_ipaddress {\n 10.0.0.100\n }\n virtual_router_id 5\n interface bond0\n}",
		func(in *vrrp.Config) bool { return in.VIPs[0].Device == "bond0" }, ""},
}

// Where keepalived's default or correction differs from lbd's default, the
// imported file says what keepalived did.
func TestKeepalivedDefaultsVRRP(t *testing.T) {
	for _, tt := range vrrpDefaultCases {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, tt.conf)
			in := res.Director.VRRP.Instance("VI_1")
			if in == nil {
				t.Fatal("no instance VI_1")
			}
			if !tt.check(in) {
				t.Errorf("instance %+v\nYAML:\n%s", in, res.YAML)
			}
			if tt.note != "" && !hasNote(res, tt.note) {
				t.Errorf("no note containing %q in %v", tt.note, res.Notes)
			}
		})
	}
}

// plainReal is a real server without options.
const plainReal = "real_server 10.0.0.1 80 {\n}\n"

var lvsDefaultCases = []struct {
	name  string
	conf  string
	check func(*config.VirtualServer) bool
	note  string
}{
	{"no lb_kind: NAT", service("10.0.0.100 80", "protocol TCP\n"+plainReal),
		func(vs *config.VirtualServer) bool { return vs.Forwarding == config.NAT }, "forwards with NAT"},
	{"no protocol: UDP", service("10.0.0.100 80", "lb_kind DR\n"+plainReal),
		func(vs *config.VirtualServer) bool { return vs.Protocol == config.UDP }, "UDP service"},
	{"no lb_algo: wlc", service("10.0.0.100 80", "protocol TCP\n"+plainReal),
		func(vs *config.VirtualServer) bool { return vs.Scheduler == "wlc" }, ""},
	{"persistence_timeout without value: 360s", service("10.0.0.100 80", "persistence_timeout\n"+plainReal),
		func(vs *config.VirtualServer) bool { return vs.PersistenceTimeout == 360*time.Second }, ""},
	{"port 0 makes the service persistent", service("10.0.0.100 0", "protocol TCP\n"+plainReal),
		func(vs *config.VirtualServer) bool { return vs.PersistenceTimeout == 360*time.Second }, "port 0 without persistence"},
	{"no port at all", service("10.0.0.100", "protocol TCP\nreal_server 10.0.0.1 {\n}"),
		func(vs *config.VirtualServer) bool { return vs.Port == 0 && vs.PersistenceTimeout == 360*time.Second }, ""},
	{"granularity without timeout", service("10.0.0.100 80", "persistence_granularity 255.255.0.0\n"+plainReal),
		func(vs *config.VirtualServer) bool {
			return vs.PersistenceTimeout == 360*time.Second && vs.PersistenceNetmask == 16
		}, "persistence_granularity without persistence_timeout"},
	{"vs weight is the real servers' default", service("10.0.0.100 80", "weight 7\n"+plainReal+"real_server 10.0.0.2 80 {\n weight 2\n}"),
		func(vs *config.VirtualServer) bool {
			return vs.RealServers[0].Weight == 7 && vs.RealServers[1].Weight == 2
		}, ""},
	{"real server without port takes the service's", service("10.0.0.100 80", "lb_kind NAT\nreal_server 10.0.0.1 {\n}"),
		func(vs *config.VirtualServer) bool { return vs.RealServers[0].Port == 80 }, ""},
	{"DR real server port reset to the service's", service("10.0.0.100 80", "lb_kind DR\nreal_server 10.0.0.1 8080 {\n}"),
		func(vs *config.VirtualServer) bool { return vs.RealServers[0].Port == 80 }, "keepalived uses 80"},
	{"NAT real server keeps its port", service("10.0.0.100 80", "lb_kind NAT\nreal_server 10.0.0.1 8080 {\n}"),
		func(vs *config.VirtualServer) bool { return vs.RealServers[0].Port == 8080 }, ""},
	{"quorum above the total weight is lowered", service("10.0.0.100 80", "quorum 5\n"+plainReal),
		func(vs *config.VirtualServer) bool { return vs.Quorum == 1 }, "keepalived lowers it"},
	{"hysteresis below quorum", service("10.0.0.100 80", "quorum 2\nhysteresis 3\nweight 2\n"+plainReal),
		func(vs *config.VirtualServer) bool { return vs.Quorum == 2 && vs.Hysteresis == 1 }, "sets it to 1"},
	{"ops reset on TCP", service("10.0.0.100 80", "protocol TCP\nops\n"+plainReal),
		func(vs *config.VirtualServer) bool { return !vs.OnePacket }, "UDP only"},
	{"fwmark protocol ignored", service("fwmark 3", "protocol TCP\n"+"real_server 10.0.0.1 {\n}"),
		func(vs *config.VirtualServer) bool { return vs.Protocol == "" && vs.Family == config.IPv4 }, "ignores it"},
	{"fwmark family from the real servers", service("fwmark 3", "real_server 2001:db8::1 {\n}"),
		func(vs *config.VirtualServer) bool { return vs.Family == config.IPv6 }, ""},
	{"sorry server port and forwarding", service("10.0.0.100 80", "lb_kind DR\nsorry_server 10.0.0.9 8080\nsorry_server_lvs_method NAT\n"+plainReal),
		func(vs *config.VirtualServer) bool {
			return vs.SorryServer != nil && vs.SorryServer.Port == 8080 && vs.SorryServer.Forwarding == config.NAT
		}, ""},
	{"DR sorry server port reset", service("10.0.0.100 80", "lb_kind DR\nsorry_server 10.0.0.9 8080\n"+plainReal),
		func(vs *config.VirtualServer) bool { return vs.SorryServer.Port == 80 }, "sorry server port 8080"},
	{"tunnel options come with the lvs_method that sets TUN", service("10.0.0.100 80", "lb_kind TUN type gue port 5555\n"+plainReal+"real_server 10.0.0.2 80 {\n lvs_method TUN\n}"),
		func(vs *config.VirtualServer) bool {
			return vs.RealServers[0].Tunnel.Type == config.TunnelGUE && vs.RealServers[0].Tunnel.Port == 5555 &&
				vs.RealServers[1].Tunnel.Type == config.TunnelIPIP
		}, ""},
	{"inhibit_on_failure inherited", service("10.0.0.100 80", "inhibit_on_failure\n"+plainReal+"real_server 10.0.0.2 80 {\n inhibit_on_failure false\n}"),
		func(vs *config.VirtualServer) bool {
			return vs.RealServers[0].InhibitOnFailure && !vs.RealServers[1].InhibitOnFailure
		}, ""},
}

func TestKeepalivedDefaultsLVS(t *testing.T) {
	for _, tt := range lvsDefaultCases {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, tt.conf)
			vs := only(t, res.Director)
			if !tt.check(vs) {
				t.Errorf("service %+v\nYAML:\n%s", vs, res.YAML)
			}
			if tt.note != "" && !hasNote(res, tt.note) {
				t.Errorf("no note containing %q in %v", tt.note, res.Notes)
			}
		})
	}
}

var checkTimingCases = []struct {
	name          string
	vs, rs, check string // statements at each level
	kind          string
	want          healthcheck.Timing
}{
	{"TCP_CHECK defaults", "", "", "", "TCP_CHECK",
		healthcheck.Timing{DelayLoop: 60 * time.Second, ConnectTimeout: 5 * time.Second, Retry: 1,
			DelayBeforeRetry: time.Second, Warmup: 60 * time.Second, Rise: 1, Fall: 2}},
	{"HTTP_GET defaults", "", "", "url {\n path /\n}", "HTTP_GET",
		healthcheck.Timing{DelayLoop: 60 * time.Second, ConnectTimeout: 5 * time.Second, Retry: 1,
			DelayBeforeRetry: 3 * time.Second, Warmup: 60 * time.Second, Rise: 1, Fall: 2}},
	{"DNS_CHECK defaults", "delay_loop 10", "", "", "DNS_CHECK",
		healthcheck.Timing{DelayLoop: 10 * time.Second, ConnectTimeout: 5 * time.Second, Retry: 3,
			DelayBeforeRetry: 10 * time.Second, Warmup: 10 * time.Second, Rise: 1, Fall: 4}},
	{"MISC_CHECK defaults: timeout is the vs delay_loop", "delay_loop 30", "delay_loop 5", "misc_path /bin/true", "MISC_CHECK",
		healthcheck.Timing{DelayLoop: 5 * time.Second, ConnectTimeout: 30 * time.Second, Retry: 0,
			DelayBeforeRetry: time.Second, Warmup: 5 * time.Second, Rise: 1, Fall: 1}},
	{"MISC_CHECK ignores connect_timeout of the servers", "connect_timeout 2", "connect_timeout 3", "misc_path /bin/true\nmisc_timeout 4", "MISC_CHECK",
		healthcheck.Timing{DelayLoop: 60 * time.Second, ConnectTimeout: 4 * time.Second, Retry: 0,
			DelayBeforeRetry: time.Second, Warmup: 60 * time.Second, Rise: 1, Fall: 1}},
	{"inheritance vs -> rs -> checker", "delay_loop 6\nretry 5\nconnect_timeout 2\nwarmup 1\nalpha", "retry 2\ndelay_before_retry 4", "connect_timeout 1", "TCP_CHECK",
		healthcheck.Timing{DelayLoop: 6 * time.Second, ConnectTimeout: time.Second, Retry: 2,
			DelayBeforeRetry: 4 * time.Second, Warmup: time.Second, Alpha: true, Rise: 1, Fall: 3}},
	{"warm-up follows the checker's delay_loop", "delay_loop 6", "", "delay_loop 2", "TCP_CHECK",
		healthcheck.Timing{DelayLoop: 2 * time.Second, ConnectTimeout: 5 * time.Second, Retry: 1,
			DelayBeforeRetry: time.Second, Warmup: 2 * time.Second, Rise: 1, Fall: 2}},
	{"UDP_CHECK defaults", "", "", "", "UDP_CHECK",
		healthcheck.Timing{DelayLoop: 60 * time.Second, ConnectTimeout: 5 * time.Second, Retry: 1,
			DelayBeforeRetry: time.Second, Warmup: 60 * time.Second, Rise: 1, Fall: 2}},
	{"PING_CHECK defaults", "delay_loop 6", "", "retry 4", "PING_CHECK",
		healthcheck.Timing{DelayLoop: 6 * time.Second, ConnectTimeout: 5 * time.Second, Retry: 4,
			DelayBeforeRetry: time.Second, Warmup: 6 * time.Second, Rise: 1, Fall: 5}},
	{"SMTP_CHECK defaults", "", "", "", "SMTP_CHECK",
		healthcheck.Timing{DelayLoop: 60 * time.Second, ConnectTimeout: 5 * time.Second, Retry: 1,
			DelayBeforeRetry: time.Second, Warmup: 60 * time.Second, Rise: 1, Fall: 2}},
}

// checkTimingConf is a service with statements vs, a real server with
// statements rs, and in it a checker of kind with statements check.
func checkTimingConf(vs, rs, kind, check string) string {
	return service("10.0.0.100 80", "protocol TCP\n"+vs+"\nreal_server 10.0.0.1 80 {\n"+rs+"\n"+kind+" {\n"+check+"\n}\n}")
}

// keepalived's checker timing: per-type defaults for retry and
// delay_before_retry, a warm-up of up to one delay_loop, inheritance
// virtual server -> real server -> checker.
func TestKeepalivedCheckTiming(t *testing.T) {
	for _, tt := range checkTimingCases {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, checkTimingConf(tt.vs, tt.rs, tt.kind, tt.check))
			vs := only(t, res.Director)
			rs := &vs.RealServers[0]
			if len(rs.Checks) != 1 {
				t.Fatalf("%d checks", len(rs.Checks))
			}
			if got := vs.EffectiveCheck(rs, &rs.Checks[0]); got != tt.want {
				t.Errorf("got  %+v\nwant %+v\nYAML:\n%s", got, tt.want, res.YAML)
			}
		})
	}
}

func TestFlushOnStop(t *testing.T) {
	if d := convert(t, instance("")).Director; d.Global.FlushOnStop {
		t.Error("flush_on_stop set without virtual servers")
	}
	d := convert(t, service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n}")).Director
	if !d.Global.FlushOnStop {
		t.Error("flush_on_stop not set: keepalived removes its services when it stops")
	}
}

var syncDaemonCases = []struct {
	line string
	want config.SyncDaemon
}{
	{"lvs_sync_daemon eth1 VI_1", config.SyncDaemon{Interface: "eth1", SyncID: 51, Role: config.SyncAuto, Instance: "VI_1"}},
	{"lvs_sync_daemon eth1 VI_1 9", config.SyncDaemon{Interface: "eth1", SyncID: 9, Role: config.SyncAuto, Instance: "VI_1"}},
	{"lvs_sync_daemon eth1 inst VI_1 id 0", config.SyncDaemon{Interface: "eth1", SyncID: 0, Role: config.SyncAuto, Instance: "VI_1"}},
}

// syncDaemonConf is global_defs with line, and instance VI_1.
func syncDaemonConf(line string) string {
	return "global_defs {\n " + line + "\n}\n" + instance("")
}

func TestGlobalSyncDaemon(t *testing.T) {
	for _, tt := range syncDaemonCases {
		res := convert(t, syncDaemonConf(tt.line))
		if sd := res.Director.IPVS.SyncDaemon; sd == nil || *sd != tt.want {
			t.Errorf("%s: sync daemon %+v, want %+v", tt.line, sd, tt.want)
		}
	}
}
