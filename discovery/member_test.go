package discovery

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseMember(t *testing.T) {
	d := Defaults{Port: 8080, Weight: 1, Forwarding: "DR"}
	ap := netip.MustParseAddrPort
	tests := []struct {
		name   string
		format Format
		data   string
		d      Defaults
		want   Member
		err    string // substring of the error; "" for none
	}{
		{"seed host:port", FormatSeed, "192.168.1.10:4180", d, Member{Addr: ap("192.168.1.10:4180"), Weight: 1, Forwarding: "DR"}, ""},
		{"seed bare address takes the service's port", FormatSeed, "10.0.0.7", d, Member{Addr: ap("10.0.0.7:8080"), Weight: 1, Forwarding: "DR"}, ""},
		{"seed trailing newline and spaces", FormatSeed, " 10.0.0.7:81\n", d, Member{Addr: ap("10.0.0.7:81"), Weight: 1, Forwarding: "DR"}, ""},
		{"seed IPv6 with port", FormatSeed, "[2001:db8::1]:80", d, Member{Addr: ap("[2001:db8::1]:80"), Weight: 1, Forwarding: "DR"}, ""},
		{"seed bare IPv6", FormatSeed, "2001:db8::1", d, Member{Addr: ap("[2001:db8::1]:8080"), Weight: 1, Forwarding: "DR"}, ""},
		{"seed v4-mapped is unmapped", FormatSeed, "[::ffff:10.0.0.1]:80", d, Member{Addr: ap("10.0.0.1:80"), Weight: 1, Forwarding: "DR"}, ""},
		{"seed empty", FormatSeed, "", d, Member{}, "empty"},
		{"seed hostname", FormatSeed, "web1:80", d, Member{}, "IP literal"},
		{"seed bad port", FormatSeed, "10.0.0.1:99999", d, Member{}, "not host:port"},
		{"seed port 0", FormatSeed, "10.0.0.1:0", d, Member{}, "port 0"},
		{"seed bare address, no service port", FormatSeed, "10.0.0.1", Defaults{Weight: 1}, Member{}, "no port"},
		{"json full", FormatJSON, `{"address":"10.0.0.2","port":80,"weight":3,"forwarding":"nat"}`, d, Member{Addr: ap("10.0.0.2:80"), Weight: 3, Forwarding: "NAT"}, ""},
		{"json address only", FormatJSON, `{"address":"10.0.0.2"}`, d, Member{Addr: ap("10.0.0.2:8080"), Weight: 1, Forwarding: "DR"}, ""},
		{"json weight 0 is kept", FormatJSON, `{"address":"10.0.0.2","weight":0}`, d, Member{Addr: ap("10.0.0.2:8080"), Weight: 0, Forwarding: "DR"}, ""},
		{"json unknown field", FormatJSON, `{"address":"10.0.0.2","wieght":3}`, d, Member{}, "unknown field"},
		{"json not JSON", FormatJSON, `10.0.0.2:80`, d, Member{}, "JSON"},
		{"json trailing data", FormatJSON, `{"address":"10.0.0.2"} {}`, d, Member{}, "after the object"},
		{"json bad address", FormatJSON, `{"address":"web1"}`, d, Member{}, "not an IP"},
		{"json missing address", FormatJSON, `{"port":80}`, d, Member{}, "not an IP"},
		{"json port out of range", FormatJSON, `{"address":"10.0.0.2","port":70000}`, d, Member{}, "out of 1-65535"},
		{"json no port anywhere", FormatJSON, `{"address":"10.0.0.2"}`, Defaults{Weight: 1}, Member{}, "port 0 is out"},
		{"json negative weight", FormatJSON, `{"address":"10.0.0.2","weight":-1}`, d, Member{}, "weight -1"},
		{"json weight too big", FormatJSON, `{"address":"10.0.0.2","weight":65536}`, d, Member{}, "weight 65536"},
		{"json bad forwarding", FormatJSON, `{"address":"10.0.0.2","forwarding":"route"}`, d, Member{}, "forwarding"},
		{"too much data", FormatSeed, strings.Repeat(" ", maxData+1), d, Member{}, "more than"},
		{"unknown format", Format(9), "10.0.0.1:80", d, Member{}, "unknown format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMember(tt.format, "sub0000000001", []byte(tt.data), tt.d)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "sub0000000001") {
					t.Fatalf("error %v, want one naming the znode and containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Znode = "sub0000000001"
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range []Format{FormatSeed, FormatJSON} {
		got, err := ParseFormat(f.String())
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) accepted")
	}
}
