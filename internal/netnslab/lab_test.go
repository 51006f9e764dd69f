package netnslab

import (
	"net/netip"
	"testing"
)

func TestMountPointField(t *testing.T) {
	tests := []struct{ line, want string }{
		{"42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw", "/run/netns"},
		{`50 27 0:45 / /mnt/with\040space rw - tmpfs tmpfs rw`, "/mnt/with space"},
		{"short line", ""},
	}
	for _, tt := range tests {
		if got := mountPointField(tt.line); got != tt.want {
			t.Errorf("mountPointField(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestNetlinkAddr(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		label   string
		dev     string
		wantErr bool
	}{
		{name: "vip on lo:0", prefix: "192.168.56.90/32", label: "lo:0", dev: "lo"},
		{name: "no label", prefix: "10.0.0.1/24", dev: "eth0"},
		{name: "ipv6 no label", prefix: "fd00::1/64", dev: "eth0"},
		{name: "ipv6 label", prefix: "fd00::1/64", label: "eth0:1", dev: "eth0", wantErr: true},
		{name: "label of another device", prefix: "10.0.0.1/32", label: "eth1:0", dev: "eth0", wantErr: true},
		{name: "label too long", prefix: "10.0.0.1/32", label: "eth0:0123456789ab", dev: "eth0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := netlinkAddr(netip.MustParsePrefix(tt.prefix), tt.label, tt.dev)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %t", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if a.IPNet.String() != tt.prefix || a.Label != tt.label {
				t.Errorf("got %s label %q, want %s label %q", a.IPNet, a.Label, tt.prefix, tt.label)
			}
		})
	}
}

func TestNamesValidated(t *testing.T) {
	for _, p := range []string{"", "Upper", "1abc", "toolongprefix", "a-b"} {
		if labPrefixRE.MatchString(p) {
			t.Errorf("lab prefix %q accepted", p)
		}
	}
	for _, n := range []string{"eth0", "br-lan", "web1-eth0", "eth0.100"} {
		if !ifNameRE.MatchString(n) {
			t.Errorf("interface name %q rejected", n)
		}
	}
	for _, n := range []string{"lo:0", "0123456789abcdef", "a/b", "a b", ""} {
		if ifNameRE.MatchString(n) {
			t.Errorf("interface name %q accepted", n)
		}
	}
}
