package kaconf

import (
	"errors"
	"slices"
	"testing"
)

var malformedCases = []struct {
	name string
	conf string
	want []string
}{
	{"missing closing brace", "global_defs {\n router_id x\n\nvrrp_script s {\n script /bin/true\n}\n",
		[]string{`keepalived.conf:1: the block of "global_defs" opened here is never closed (missing "}")`}},
	{"extra closing brace", "global_defs {\n router_id x\n}\n}\n",
		[]string{`keepalived.conf:4: unexpected "}" (no block is open)`}},
	{"missing argument", instance("priority"),
		[]string{"keepalived.conf:7: priority: missing argument"}},
	{"priority out of range and not a number", instance("priority 300\nadvert_int fast"),
		[]string{`keepalived.conf:7: priority: "300" is not a whole number from 1 to 255`,
			`keepalived.conf:8: advert_int: "fast" is not a number of seconds`}},
	{"bad address", instance("virtual_ipaddress {\n 10.0.0.300/24\n}\nunicast_src_ip me"),
		[]string{`keepalived.conf:8: virtual_ipaddress: "10.0.0.300/24" is not an address or address/length`,
			`keepalived.conf:10: unicast_src_ip: "me" is not an IP address`}},
	{"missing virtual_router_id", "vrrp_instance VI_1 {\n interface eth0\n virtual_ipaddress {\n 10.0.0.1\n }\n}",
		[]string{"keepalived.conf:1: vrrp_instance VI_1: missing virtual_router_id (keepalived requires it)"}},
	{"block missing", "vrrp_instance VI_1\nvirtual_server 10.0.0.1 80",
		[]string{`keepalived.conf:1: vrrp_instance: missing "{"`, `keepalived.conf:2: virtual_server: missing "{"`}},
	{"block where none is taken", instance("nopreempt {\n}"),
		[]string{"keepalived.conf:7: nopreempt does not take a block"}},
	{"unknown scheduler and forwarding", service("10.0.0.1 80", "lb_algo fast\nlb_kind ROUTE\nreal_server 10.0.0.2 80 {\n}"),
		[]string{`keepalived.conf:2: lb_algo: unknown scheduler "fast" (want one of rr wrr lc wlc lblc lblcr dh sh mh sed nq fo ovf twos)`,
			`keepalived.conf:3: lb_kind: unknown forwarding method "ROUTE" (want NAT, DR or TUN)`}},
	{"bad digest", service("10.0.0.1 80", "real_server 10.0.0.2 80 {\n HTTP_GET {\n url {\n path /\n digest 1234\n }\n }\n}"),
		[]string{`keepalived.conf:6: digest: "1234" is not an MD5 sum (32 hexadecimal digits)`}},
	{"duplicate instance", instance("") + instance(""),
		[]string{"keepalived.conf:9: vrrp_instance VI_1 is defined twice (first at line 1)"}},
	{"duplicate VRID on one interface", instance("") + "vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n 10.0.0.200\n }\n}",
		[]string{"keepalived.conf:9: vrrp_instance VI_2: VRID 51 on eth0 (ipv4) is already used by vrrp_instance VI_1 at line 1 (keepalived refuses this too)"}},
	{"empty names", "vrrp_script \"\" {\n script /bin/true\n}\nvrrp_sync_group \"\" {\n group {\n x\n }\n}",
		[]string{"keepalived.conf:1: vrrp_script: empty name", "keepalived.conf:4: vrrp_sync_group: empty name"}},
	{"unterminated quote", instance(`notify_master "/bin/x`),
		[]string{"keepalived.conf:7: unterminated double quote"}},
	{"bad script quoting", instance(`notify_master "/bin/x 'y"`),
		[]string{"keepalived.conf:7: notify_master: missing terminating '"}},
	{"real server without address", service("10.0.0.1 80", "real_server {\n}"),
		[]string{"keepalived.conf:2: real_server: missing argument"}},
}

// Malformed input stops the conversion with every error found, each with
// its line, in file order.
func TestMalformed(t *testing.T) {
	for _, tt := range malformedCases {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Convert("keepalived.conf", []byte(tt.conf), nil)
			if err == nil {
				t.Fatalf("no error; YAML:\n%s", res.YAML)
			}
			if res != nil {
				t.Error("a Result came with the error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T %v is not Errors", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestConvertFileMissing(t *testing.T) {
	if _, err := ConvertFile("testdata/no-such.conf", nil); err == nil {
		t.Error("no error for a missing file")
	}
}
