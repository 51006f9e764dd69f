package birdconf

import (
	"strings"
	"testing"
)

func TestRouter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		bfd     bool
		want    []string
		wantNot []string
	}{
		{name: "plain", want: []string{"router id 10.9.0.254;\n", "local 10.9.0.254 as 65000;", "merge paths on;",
			"error wait time 1, 5;\n  ipv4 {", "protocol bgp d1 from director { neighbor 10.9.0.1 as 65001; }\n",
			"protocol bgp d2 from director { neighbor 10.9.0.2 as 65001; }\n"}, wantNot: []string{"bfd"}},
		{name: "bfd", bfd: true, want: []string{"  bfd on;\n  ipv4 {", "protocol bfd {", "multiplier 3;"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Router("10.9.0.254", []string{"10.9.0.1", "10.9.0.2"}, tc.bfd)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("has %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestDirector(t *testing.T) {
	for _, tc := range []struct {
		name    string
		bfd     bool
		want    []string
		wantNot []string
	}{
		{name: "plain", want: []string{"log stderr all;\nrouter id 10.9.0.1;\n", "route 192.0.2.10/32 blackhole;", "local 10.9.0.1 as 65001;",
			"neighbor 10.9.0.254 as 65000;", "hold time 3;", "export all;"}, wantNot: []string{"bfd"}},
		{name: "bfd", bfd: true, want: []string{"  bfd on;\n  ipv4 {", "protocol bfd {", "multiplier 3;"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Director("10.9.0.1", "10.9.0.254", "192.0.2.10", tc.bfd)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("has %q:\n%s", w, got)
				}
			}
		})
	}
}
