package kaconf

import (
	"slices"
	"strings"
	"testing"
)

var unmappedCases = []struct {
	name   string
	conf   string
	want   []string // LINE:KEYWORD
	reason string   // in the first issue's reason
}{
	{"checker mail and FIFO settings", "global_defs {\n smtp_alert_checker\n lvs_notify_fifo /run/x\n router_id x\n}",
		[]string{"2:smtp_alert_checker", "3:lvs_notify_fifo"}, "e-mail"},
	{"misspelt keyword with suggestion", instance("priorty 150"), []string{"7:priorty"}, `did you mean "priority"`},
	{"the seed's misspelling", instance("lvs_sync_daemon_inteface eth0"), []string{"7:lvs_sync_daemon_inteface"},
		"ipvs.sync_daemon {interface: eth0, instance: VI_1, sync_id: 51, role: auto}"},
	{"garp_interval is global only", instance("garp_interval 0.1"), []string{"7:garp_interval"}, "vrrp_garp_interval"},
	{"route options lbd lacks", instance("virtual_routes {\n 10.1.0.0/16 via 10.0.0.1 mtu 1400 onlink\n 10.2.0.0/16 nexthop via 10.0.0.1 weight 1\n throw 10.3.0.0/16\n}"),
		[]string{"8:mtu", "8:onlink", "9:10.2.0.0/16", "10:throw"}, "multipath"},
	{"rule options lbd lacks", instance("virtual_rules {\n from 10.1.0.0/16 table 5 protocol 12\n from 10.2.0.0/16 goto 40\n to 10.3.0.0/16 table 5 uidrange 1-2\n}"),
		[]string{"8:protocol", "9:from", "10:to"}, "goto"},
	{"invalid addresses in routes and rules", instance("virtual_routes {\n 10.1.0./16 via 10.0.0.1\n 10.2.0.0/16 via 10.0.0.\n}\nvirtual_rules {\n to 192.168.200./24 table 2\n}"),
		[]string{"8:10.1.0./16", "9:10.2.0.0/16", "12:to"}, "skips the line too"},
	{"other family advertised", instance("virtual_ipaddress {\n 2001:db8::5\n}"), []string{"8:2001:db8::5"}, "virtual_ipaddress_excluded"},
	{"address options", instance("virtual_ipaddress {\n 10.0.0.5/24 brd 10.0.0.255 dev eth0 no_track\n}"),
		[]string{"8:brd", "8:no_track"}, "not supported"},
	{"bad label", instance("virtual_ipaddress {\n 10.0.0.5 dev eth0 label web\n}"), []string{"8:label"}, "DEVICE:SUFFIX"},
	{"unknown track_script", instance("track_script {\n nope\n}"), []string{"8:nope"}, "keepalived ignores an unknown track_script too"},
	{"script defined after the instance", instance("track_script {\n later\n}") + "vrrp_script later {\n script /bin/true\n}",
		[]string{"8:later"}, "define the script first"},
	{"unicast instances sharing a VRID", instance("unicast_peer {\n 10.0.0.2\n}") +
		"vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n 10.0.0.200\n }\n unicast_peer {\n 10.0.0.3\n }\n}",
		[]string{"11:vrrp_instance"}, "different peers"},
	{"unicast max_ttl 0", instance("unicast_peer {\n 10.0.0.2 min_ttl 255\n 10.0.0.3 max_ttl 0\n}"),
		[]string{"9:max_ttl"}, "none arrives with TTL 0"},
	{"unicast min_ttl above max_ttl", instance("unicast_peer {\n 10.0.0.2 min_ttl 200 max_ttl 100\n}"),
		[]string{"8:min_ttl"}, "discards every advert"},
	{"unknown unicast_peer option", instance("unicast_peer {\n 10.0.0.2 ttl 5\n}"), []string{"8:ttl"}, "unknown unicast_peer option"},
	{"reverse weight", "vrrp_script s {\n script /bin/true\n}\n" + instance("track_script {\n s weight 10 reverse\n}"),
		[]string{"11:reverse"}, "reverse"},
	{"notify commands of one block as different users", instance("notify_master /bin/n.sh nobody\n notify_backup /bin/b.sh"),
		[]string{"8:notify_backup"}, `runs as script_user while the block's first notify command runs as nobody`},
	{"real server notify as another user", service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n notify_up /bin/true root\n}"),
		[]string{"4:notify_up"}, `runs as user "root": lbd runs this command as global.script_user`},
	{"user on a TCP_CHECK", service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n TCP_CHECK {\n user nobody\n }\n}"),
		[]string{"5:user"}, "only a MISC_CHECK"},
	{"unquoted script command", "vrrp_script s {\n script killall -0 nginx\n}", []string{"2:script"}, `it runs "killall" only`},
	{"vmac per address", instance("use_vmac_addr"), []string{"7:use_vmac_addr"}, "virtual MAC"},
	{"instance without interface is not imported", "vrrp_instance VI_9 {\n virtual_router_id 9\n virtual_ipaddress {\n 10.0.0.9\n }\n}",
		[]string{"1:vrrp_instance"}, "no interface"},
	{"script without command", "vrrp_script s {\n interval 2\n}", []string{"1:vrrp_script"}, "no script"},
	{"sync group of unknown instance", "vrrp_sync_group G {\n group {\n VI_X\n }\n}", []string{"3:VI_X", "1:vrrp_sync_group"}, "VI_X"},
	{"virtual server of an undefined group", "virtual_server_group G {\n 10.0.0.1 80\n}\nvirtual_server group H {\n real_server 10.0.0.2 80 {\n }\n}",
		[]string{"4:virtual_server"}, "virtual_server_group H is not defined"},
	{"checker lbd lacks", service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n BFD_CHECK {\n }\n}"),
		[]string{"4:BFD_CHECK"}, "no BFD check"},
	{"UDP_CHECK max_reply_length 0", service("10.0.0.100 53", "protocol UDP\nreal_server 10.0.0.1 53 {\n UDP_CHECK {\n require_reply\n max_reply_length 0\n }\n}"),
		[]string{"6:max_reply_length"}, "only empty replies"},
	{"SMTP_CHECK host block bind_if", service("10.0.0.100 25", "protocol TCP\nreal_server 10.0.0.1 25 {\n SMTP_CHECK {\n host {\n connect_ip 10.0.0.2\n bind_if eth0\n }\n }\n}"),
		[]string{"7:bind_if"}, noEquivalent},
	{"url regex", service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n HTTP_GET {\n url {\n path /\n regex \"ok\"\n }\n }\n}"),
		[]string{"7:regex"}, "regular expression"},
	{"MISC_CHECK has no connect_timeout", service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n MISC_CHECK {\n misc_path /bin/true\n connect_timeout 3\n }\n}"),
		[]string{"6:connect_timeout"}, "MISC_CHECK"},
	{"HTTP_GET without url", service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n HTTP_GET {\n connect_timeout 3\n }\n}"),
		[]string{"4:HTTP_GET"}, "without a url"},
	{"ha_suspend", service("10.0.0.100 80", "protocol TCP\nha_suspend\nreal_server 10.0.0.1 80 {\n}"), []string{"3:ha_suspend"}, noEquivalent},
	{"real server of the other family", service("10.0.0.100 80", "protocol TCP\nreal_server 2001:db8::1 80 {\n}\nreal_server 10.0.0.1 80 {\n}"),
		[]string{"3:real_server"}, "one family"},
	{"real server at 0.0.0.0", service("fwmark 1", "real_server 0.0.0.0 {\n}\nreal_server 10.0.0.1 {\n}"), []string{"2:real_server"}, "lbd refuses a real server at 0.0.0.0"},
	{"real server at its own VIP", service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.100 80 {\n}\nreal_server 10.0.0.1 80 {\n}"), []string{"3:real_server"}, "the service's own address"},
	{"service at 0.0.0.0", service("0.0.0.0 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n}"), []string{"1:virtual_server"}, "lbd refuses a service at 0.0.0.0"},
	{"duplicate real server", service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n}\nreal_server 10.0.0.1 80 {\n}"),
		[]string{"5:real_server"}, "listed twice"},
	{"second virtual server for one service", service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n}") +
		service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.2 80 {\n}"),
		[]string{"6:virtual_server"}, "merge the real servers"},
	{"lthreshold above uthreshold", service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n uthreshold 10\n lthreshold 20\n}"),
		[]string{"5:lthreshold"}, "above uthreshold"},
	{"sh flag with rr", service("10.0.0.100 80", "protocol TCP\nlb_algo rr\nsh-port\nreal_server 10.0.0.1 80 {\n}"),
		[]string{"4:sh-port"}, "does not apply"},
	{"unknown top-level keyword", "vrrp_instanse VI_1 {\n}\nuse_pid_dir", []string{"1:vrrp_instanse", "3:use_pid_dir"}, `did you mean "vrrp_instance"`},
	{"extra arguments", instance("priority 100 200"), []string{"7:priority"}, `extra arguments "200"`},
	{"tunnel options without TUN", service("10.0.0.1 80", "protocol TCP\nlb_kind DR type gue port 1\nreal_server 10.0.0.2 80 {\n}"),
		[]string{"3:type gue port 1"}, "no effect with DR"},
	{"weighted tracking in a sync group", "vrrp_script s {\n script /bin/true\n weight -10\n}\nvrrp_script z {\n script /bin/true\n}\n" +
		instance("track_interface {\n eth1 weight 5\n}\ntrack_script {\n s\n z\n}") +
		"vrrp_sync_group G {\n group {\n VI_1\n }\n}", []string{"8:s"}, "keepalived ignores a weighted script there"},
	{"fractional vrrp_script interval", "vrrp_script s {\n script /bin/true\n interval 1.5\n timeout 5000\n}", []string{"3:interval", "4:timeout"}, "whole seconds up to 4294"},
	{"AH authentication", instance("authentication {\n auth_type AH\n auth_pass 1111\n}"), []string{"7:auth_type"}, "RFC 3768 removed VRRP authentication"},
	{"sni_name", service("10.0.0.100 443", "protocol TCP\nreal_server 10.0.0.1 443 {\n SSL_GET {\n url {\n path /\n }\n sni_name a.example\n }\n}"),
		[]string{"8:sni_name"}, "any release up to 2.4.3"},
}

// Nothing is dropped silently: every keyword without an lbd equivalent,
// every unknown or misspelt keyword, every option that cannot be carried
// over is reported with its line.
func TestUnmappedReported(t *testing.T) {
	for _, tt := range unmappedCases {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, tt.conf)
			got := issueKeys(res)
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Fatalf("unmapped %q, want %q\n%v", got, want, res.Unmapped)
			}
			found := false
			for _, i := range res.Unmapped {
				found = found || strings.Contains(i.Reason, tt.reason)
			}
			if !found {
				t.Errorf("no reason contains %q: %v", tt.reason, res.Unmapped)
			}
		})
	}
}

// The unmapped list is printed as FILE:LINE: keyword "X" not mapped: reason,
// and repeated in the YAML header as comments.
func TestUnmappedFormat(t *testing.T) {
	res := convert(t, "global_defs {\n router_id r\n smtp_alert_checker\n}\n")
	if len(res.Unmapped) != 1 {
		t.Fatalf("unmapped %v", res.Unmapped)
	}
	i := res.Unmapped[0]
	want := `keepalived.conf:3: keyword "smtp_alert_checker" not mapped: ` + noMail
	if i.String() != want {
		t.Errorf("got  %s\nwant %s", i, want)
	}
	if !strings.Contains(string(res.YAML), "\n# unmapped: keepalived.conf:3: smtp_alert_checker: "+noMail+"\n") {
		t.Errorf("YAML header:\n%s", res.YAML)
	}
	if !strings.HasPrefix(string(res.YAML), "# lbd.yaml imported from keepalived.conf") {
		t.Errorf("YAML does not start with the header:\n%s", res.YAML)
	}
}

// includedFixture is a keepalived.conf (ka/keepalived.conf) that includes
// another file.
var includedFixture = map[string]string{
	"ka/keepalived.conf": "global_defs {\n enable_snmp_vrrp\n}\ninclude a.conf\nvrrp_strict_mode\n",
	"ka/a.conf":          "global_defs {\n enable_traps\n}\n",
}

// Issues from included files carry their file and come in reading order.
func TestUnmappedInIncludedFile(t *testing.T) {
	res, err := Convert("ka/keepalived.conf", []byte(includedFixture["ka/keepalived.conf"]), memFS(includedFixture))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range res.Unmapped {
		got = append(got, i.Pos.String()+":"+i.Keyword)
	}
	want := []string{"ka/keepalived.conf:2:enable_snmp_vrrp", "ka/a.conf:2:enable_traps", "ka/keepalived.conf:5:vrrp_strict_mode"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// keepalived ignores a virtual server without real servers ("has no real
// servers - ignoring"), and so does the import: a note, not an unmapped
// keyword, and no service in the file.
func TestVirtualServerWithoutRealServersIsANote(t *testing.T) {
	res := convert(t, service("10.0.0.100 80", "protocol TCP"))
	if len(res.Unmapped) != 0 {
		t.Errorf("unmapped %v, want none", res.Unmapped)
	}
	if !hasNote(res, "has no real_server: keepalived ignores") {
		t.Errorf("no note: %v", res.Notes)
	}
	if n := len(res.Director.VirtualServers); n != 0 {
		t.Errorf("%d virtual servers imported, want 0", n)
	}
}
