package config

import (
	"strings"
	"testing"
)

// TestDirectorAddressSanity: lbd check refuses, at the address's line, what
// IPVS refuses or what can never carry traffic (issue 12, defect 4); and
// still accepts the unusual addresses that work.
func TestDirectorAddressSanity(t *testing.T) {
	service := func(vip, rs string) string {
		return "virtual_servers:\n  - address: " + vip + "\n    port: 80\n    real_servers:\n      - address: " + rs + "\n"
	}
	tests := []struct {
		name string
		yaml string
		want string // "" = valid
	}{
		{"VIP equal to its real server", service("192.0.2.1", "192.0.2.1"),
			"t.yaml:5: virtual_servers[0].real_servers[0].address: the real server 192.0.2.1 is the service's own address"},
		{"real server 0.0.0.0", service("192.0.2.1", "0.0.0.0"), "t.yaml:5: virtual_servers[0].real_servers[0].address: a real server cannot be at 0.0.0.0"},
		{"real server in 0.0.0.0/8", service("192.0.2.1", "0.1.2.3"), "real server cannot be at 0.1.2.3"},
		{"real server multicast", service("192.0.2.1", "224.0.0.1"), "real server cannot be at 224.0.0.1: a multicast address"},
		{"real server broadcast", service("192.0.2.1", "255.255.255.255"), "real server cannot be at 255.255.255.255: the broadcast address"},
		{"real server loopback", service("192.0.2.1", "127.0.0.1"), "real server cannot be at 127.0.0.1: a loopback address"},
		{"service 0.0.0.0", service("0.0.0.0", "192.0.2.2"), "t.yaml:2: virtual_servers[0].address: a service cannot be at 0.0.0.0: the unspecified address"},
		{"service 224.0.0.18", service("224.0.0.18", "192.0.2.2"), "t.yaml:2: virtual_servers[0].address: a service cannot be at 224.0.0.18: a multicast address"},
		{"service broadcast", service("255.255.255.255", "192.0.2.2"), "a service cannot be at 255.255.255.255"},
		{"IPv6 VIP equal to its real server", service("2001:db8::1", "2001:db8::1"), "is the service's own address"},
		{"IPv6 real server ::", service("2001:db8::1", `"::"`), "real server cannot be at ::: the unspecified address"},
		{"IPv6 real server multicast", service("2001:db8::1", "ff02::1"), "a multicast address"},
		{"IPv6 real server loopback", service("2001:db8::1", "::1"), "a loopback address"},
		{"IPv6 real server link-local", service("2001:db8::1", "fe80::1"), "an IPv6 link-local address"},
		{"IPv6 service ::", service(`"::"`, "2001:db8::2"), "a service cannot be at ::"},
		{"IPv6 service multicast", service("ff02::12", "2001:db8::2"), "a service cannot be at ff02::12"},
		{"sorry server multicast", "virtual_servers:\n  - address: 192.0.2.1\n    port: 80\n    sorry_server: {address: 224.0.0.5}\n",
			"t.yaml:4: virtual_servers[0].sorry_server.address: a sorry server cannot be at 224.0.0.5"},
		{"valid: IPv4 link-local real server", service("192.0.2.1", "169.254.1.1"), ""},
		{"valid: loopback service", service("127.0.0.1", "192.0.2.2"), ""},
		{"valid: loopback sorry server (keepalived's sorry_server 127.0.0.1 80)",
			"virtual_servers:\n  - address: 192.0.2.1\n    port: 80\n    sorry_server: {address: 127.0.0.1}\n", ""},
		{"valid: real server on the VIP's network", service("192.0.2.1", "192.0.2.2"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDirector("t.yaml", []byte(tt.yaml))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused:\n%v", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("accepted, want %q", tt.want)
			case !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error:\n%v\nwant %q", err, tt.want)
			}
		})
	}
}

// TestAgentAddressSanity: lbrs check refuses what realserver.Spec.Validate
// (lbrs run) refuses, at its line (cmd/lbrs proves the two agree).
func TestAgentAddressSanity(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"broadcast VIP", "vips: [255.255.255.255]\n", "t.yaml:1: vips[0]: 255.255.255.255 cannot be a virtual address"},
		{"IPv4 link-local VIP", "vips: [169.254.1.1]\n", "169.254.1.1 cannot be a virtual address"},
		{"IPv6 link-local VIP", "vips: [fe80::1]\n", "fe80::1 cannot be a virtual address"},
		{"interface path", "vips: [192.0.2.1]\ninterface: \"../../../etc\"\n", `t.yaml:2: interface: "../../../etc" is not a network device name: contains "/"`},
		{"interface ..", "vips: [192.0.2.1]\ninterface: \"..\"\n", `".." is not a network device name: "." and ".." are not device names`},
		{"interface .", "vips: [192.0.2.1]\ninterface: \".\"\n", `"." and ".." are not device names`},
		{"interface 16 bytes", "vips: [192.0.2.1]\ninterface: eth0123456789abc\n", "longer than 15 bytes"},
		{"interface with a space", "vips: [192.0.2.1]\ninterface: \"eth 0\"\n", "contains white space"},
		{"interface with a tab", "vips: [192.0.2.1]\ninterface: \"eth\\t0\"\n", "contains white space"},
		{"interface with a no-break space (0xA0 is space to the kernel)", "vips: [192.0.2.1]\ninterface: \"eth\\u00a00\"\n", "contains white space"},
		{"interface with a carriage return", "vips: [192.0.2.1]\ninterface: \"eth\\r\"\n", "contains white space"},
		{"interface with a colon", "vips: [192.0.2.1]\ninterface: \"lo:0\"\n", `contains "/" or ":"`},
		{"valid: 15 bytes", "vips: [192.0.2.1]\ninterface: eth012345678901\nlabel_prefix: \"\"\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAgent("t.yaml", []byte(tt.yaml))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused:\n%v", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("accepted, want %q", tt.want)
			case !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error:\n%v\nwant %q", err, tt.want)
			}
		})
	}
}
