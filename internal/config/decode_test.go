package config

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "1s", want: time.Second},
		{in: "100ms", want: 100 * time.Millisecond},
		{in: "1m30s", want: 90 * time.Second},
		{in: "1", want: time.Second},
		{in: "6", want: 6 * time.Second},
		{in: "0.1", want: 100 * time.Millisecond},
		{in: "0.01", want: 10 * time.Millisecond},
		{in: "40.95", want: 40950 * time.Millisecond},
		{in: "0", want: 0},
		{in: "0s", want: 0},
		{in: "-1", err: `invalid duration "-1": must not be negative`},
		{in: "-1s", err: `invalid duration "-1s": must not be negative`},
		{in: "1 s", err: `invalid duration "1 s" (want Go syntax such as 1s, 500ms, 1m30s, or a number of seconds)`},
		{in: "abc", err: `invalid duration "abc" (want Go syntax such as 1s, 500ms, 1m30s, or a number of seconds)`},
		{in: "inf", err: `invalid duration "inf"`},
		{in: "NaN", err: `invalid duration "NaN"`},
		{in: "0x10", err: `invalid duration "0x10" (want Go syntax such as 1s, 500ms, 1m30s, or a number of seconds)`},
		{in: "1e10", err: `invalid duration "1e10": too long`},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("parseDuration(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParentPath(t *testing.T) {
	tests := map[string]string{
		"":                                   "",
		"global":                             "",
		"global.router_id":                   "global",
		"virtual_servers[0]":                 "virtual_servers",
		"virtual_servers[0].real_servers[1]": "virtual_servers[0].real_servers",
		"vrrp.instances[VI_1].priority":      "vrrp.instances[VI_1]",
		"vrrp.instances[VI.1]":               "vrrp.instances",
		"vrrp.instances[VI.1].state":         "vrrp.instances[VI.1]",
	}
	for in, want := range tests {
		if got := parentPath(in); got != want {
			t.Errorf("parentPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// scalarNode parses a one-value YAML document.
func scalarNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml %q: %v", src, err)
	}
	return doc.Content[0]
}

func TestNetmask(t *testing.T) {
	tests := []struct {
		in   string
		want Netmask
		err  string
	}{
		{in: "24", want: 24},
		{in: "/24", want: 24},
		{in: "255.255.255.0", want: 24},
		{in: "255.255.255.255", want: 32},
		{in: "255.255.254.0", want: 23},
		{in: "64", want: 64},
		{in: "255.0.255.0", err: `invalid netmask "255.0.255.0": not contiguous`},
		{in: "129", err: `invalid netmask "129" (want a dotted mask or a prefix length)`},
		{in: `"ffff::"`, err: `invalid netmask "ffff::" (want a dotted mask or a prefix length)`},
		{in: "[1]", err: `expected a netmask, got a list`},
	}
	for _, tt := range tests {
		var m Netmask
		err := m.decodeYAML(scalarNode(t, tt.in))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Netmask %q error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || m != tt.want {
			t.Errorf("Netmask %q = %d, %v; want %d", tt.in, m, err, tt.want)
		}
	}
}

func TestStatusRange(t *testing.T) {
	tests := []struct {
		in   string
		want StatusRange
		err  string
	}{
		{in: "200", want: StatusRange{200, 200}},
		{in: `"200-299"`, want: StatusRange{200, 299}},
		{in: "301-302", want: StatusRange{301, 302}},
		{in: "99", err: `invalid status code "99" (codes are 100-599, low first)`},
		{in: "299-200", err: `invalid status code "299-200" (codes are 100-599, low first)`},
		{in: "2xx", err: `invalid status code "2xx" (want a code such as 200 or a range such as 200-299)`},
	}
	for _, tt := range tests {
		var s StatusRange
		err := s.decodeYAML(scalarNode(t, tt.in))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("StatusRange %q error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || s != tt.want {
			t.Errorf("StatusRange %q = %v, %v; want %v", tt.in, s, err, tt.want)
		}
	}
	if !(StatusRange{200, 299}).Contains(204) || (StatusRange{200, 299}).Contains(301) {
		t.Error("StatusRange.Contains wrong")
	}
}

func TestArgv(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: `["/usr/bin/pgrep", "nginx"]`, want: []string{"/usr/bin/pgrep", "nginx"}},
		{in: "[/bin/true]", want: []string{"/bin/true"}},
		{in: "/usr/bin/pgrep -x nginx", want: []string{"/usr/bin/pgrep", "-x", "nginx"}},
		{in: "[]", err: "empty command"},
		{in: `[""]`, err: "empty program name"},
		{in: "[/bin/x, [a]]", err: "command argument 1: expected a string, got a list"},
		{in: `"pgrep nginx || exit 1"`, err: `command "pgrep nginx || exit 1" uses shell syntax; commands run without a shell: give a list of arguments`},
		{in: "{a: b}", err: "expected a command (a list of strings), got a mapping"},
	}
	for _, tt := range tests {
		var a Argv
		err := a.decodeYAML(scalarNode(t, tt.in))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Argv %q error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || strings.Join(a, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Argv %q = %q, %v; want %q", tt.in, a, err, tt.want)
		}
	}
}

func TestEnums(t *testing.T) {
	tests := []struct {
		dec  interface{ decodeYAML(*yaml.Node) error }
		in   string
		want string
		err  string
	}{
		{dec: new(Forwarding), in: "dr", want: "DR"},
		{dec: new(Forwarding), in: "route", want: "DR"},
		{dec: new(Forwarding), in: "g", want: "DR"},
		{dec: new(Forwarding), in: "masq", want: "NAT"},
		{dec: new(Forwarding), in: "m", want: "NAT"},
		{dec: new(Forwarding), in: "ipip", want: "TUN"},
		{dec: new(Forwarding), in: "i", want: "TUN"},
		{dec: new(Forwarding), in: "fullnat", err: `unknown forwarding method "fullnat" (want DR, NAT or TUN)`},
		{dec: new(Protocol), in: "udp", want: "UDP"},
		{dec: new(Protocol), in: "ICMP", err: `unknown protocol "ICMP" (want one of TCP, UDP, SCTP)`},
		{dec: new(Scheduler), in: "WRR", want: "wrr"},
		{dec: new(Scheduler), in: "foo", err: `unknown scheduler "foo" (want one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, mh, sed, nq, fo, ovf, twos)`},
		{dec: new(CheckType), in: "HTTP", want: "http"},
		{dec: new(DNSType), in: "aaaa", want: "AAAA"},
		{dec: new(AgentMode), in: "nat", err: `unknown mode "nat" (want one of dr, tun)`},
		{dec: new(LogLevel), in: "[debug]", err: "expected a log level, got a list"},
	}
	for _, tt := range tests {
		err := tt.dec.decodeYAML(scalarNode(t, tt.in))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%T %q error = %v, want %q", tt.dec, tt.in, err, tt.err)
			}
			continue
		}
		got := fmtValue(tt.dec)
		if err != nil || got != tt.want {
			t.Errorf("%T %q = %q, %v; want %q", tt.dec, tt.in, got, err, tt.want)
		}
	}
}

// fmtValue returns the string value behind a pointer to one of the enums.
func fmtValue(v any) string {
	switch p := v.(type) {
	case *Forwarding:
		return string(*p)
	case *Protocol:
		return string(*p)
	case *Scheduler:
		return string(*p)
	case *CheckType:
		return string(*p)
	case *DNSType:
		return string(*p)
	}
	return "?"
}
