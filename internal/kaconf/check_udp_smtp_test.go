package kaconf

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lb/internal/config"
)

// TestCheckersFixture: UDP_CHECK, PING_CHECK and SMTP_CHECK convert with
// their keywords, and an SMTP_CHECK's host blocks become smtp checks as
// keepalived runs them (the first replacing the checker's own connection
// unless the checker sets one; connect_timeout of a block its own); and
// omega.
func TestCheckersFixture(t *testing.T) {
	res, err := ConvertFile("testdata/checkers.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unmapped) > 0 {
		t.Errorf("unmapped: %v", res.Unmapped)
	}
	vss := res.Director.VirtualServers
	if len(vss) != 2 {
		t.Fatalf("%d virtual servers", len(vss))
	}
	a := netip.MustParseAddr
	type check struct {
		Type                 config.CheckType
		ConnectIP, BindTo    netip.Addr
		ConnectPort          uint16
		Payload, Reply, Helo string
		RequireReply         bool
		MinLen, MaxLen       *int
		ConnectTimeout       *time.Duration
		Retry                *int
	}
	got := map[string][]check{}
	for _, vs := range vss {
		for _, rs := range vs.RealServers {
			for _, c := range rs.Checks {
				got[rs.Address.String()] = append(got[rs.Address.String()], check{
					Type: c.Type, ConnectIP: c.ConnectIP, BindTo: c.BindTo, ConnectPort: c.ConnectPort,
					Payload: c.Payload, Reply: c.Reply, Helo: c.HeloName, RequireReply: c.RequireReply,
					MinLen: c.MinReplyLength, MaxLen: c.MaxReplyLength, ConnectTimeout: c.ConnectTimeout, Retry: c.Retry,
				})
			}
		}
	}
	want := map[string][]check{
		"192.168.200.6": {
			{Type: config.CheckUDP, Payload: "6c62 64 0", RequireReply: true, Reply: "6C62 6x", MinLen: ip(2), MaxLen: ip(64),
				ConnectTimeout: dp(3 * time.Second), Retry: ip(3)},
			{Type: config.CheckUDP, ConnectPort: 1359},
			{Type: config.CheckPing, ConnectIP: a("192.168.200.7"), Retry: ip(4)},
		},
		"172.16.1.10": {{Type: config.CheckSMTP, Helo: "foo.bar.com", ConnectTimeout: dp(30 * time.Second), Retry: ip(2)}},
		"172.16.1.11": {
			{Type: config.CheckSMTP, ConnectIP: a("172.16.1.11"), Helo: "foo.bar.com", Retry: ip(2)},
			{Type: config.CheckSMTP, ConnectIP: a("192.168.155.10"), ConnectPort: 587, BindTo: a("172.16.1.2"),
				Helo: "foo.bar.com", ConnectTimeout: dp(7 * time.Second), Retry: ip(2)},
		},
		"172.16.1.12": {
			{Type: config.CheckSMTP, ConnectTimeout: dp(10 * time.Second)},
			{Type: config.CheckSMTP, ConnectIP: a("192.168.155.11")},
		},
	}
	if vss[0].Omega || !vss[1].Omega {
		t.Errorf("omega = %t, %t; want false, true", vss[0].Omega, vss[1].Omega)
	}
	if d := cmp.Diff(want, got, cmpAddr); d != "" {
		t.Errorf("checks (-want +got):\n%s\nYAML:\n%s", d, res.YAML)
	}
}

// TestCheckerNoOps: keywords keepalived accepts and ignores are noted, not
// carried over (lbd would refuse them) and not reported as dropped.
func TestCheckerNoOps(t *testing.T) {
	tests := []struct {
		name, conf, note string
	}{
		{"PING_CHECK connect_port", service("10.0.0.100 53", "protocol UDP\nreal_server 10.0.0.1 53 {\n PING_CHECK {\n connect_port 7\n }\n}"),
			"a ping has no port"},
		{"UDP_CHECK reply length without require_reply", service("10.0.0.100 53", "protocol UDP\nreal_server 10.0.0.1 53 {\n UDP_CHECK {\n min_reply_length 3\n }\n}"),
			"without require_reply keepalived ignores the reply lengths"},
		{"UDP_CHECK reply length without reply data", service("10.0.0.100 53", "protocol UDP\nreal_server 10.0.0.1 53 {\n UDP_CHECK {\n require_reply\n max_reply_length 3\n }\n}"),
			"keepalived only with require_reply HEX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, tt.conf)
			if len(res.Unmapped) > 0 {
				t.Errorf("unmapped: %v", res.Unmapped)
			}
			if !hasNote(res, tt.note) {
				t.Errorf("notes %v, want one with %q", res.Notes, tt.note)
			}
			c := only(t, res.Director).RealServers[0].Checks[0]
			if c.ConnectPort != 0 || (!c.RequireReply && c.MinReplyLength != nil) {
				t.Errorf("no-op carried over: %+v", c)
			}
		})
	}
}
