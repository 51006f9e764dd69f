package config

import (
	"testing"
	"time"
)

// slow_start on a virtual server is its real servers' default; a real
// server's own keys win; bad values name their key and line.
func TestSlowStart(t *testing.T) {
	d, err := ParseDirector("t.yaml", src(`
virtual_servers:
  - address: 192.168.56.90
    port: 80
    slow_start: 30s
    real_servers:
      - address: 10.0.0.1
      - address: 10.0.0.2
        slow_start: 0s
      - address: 10.0.0.3
        slow_start_steps: 6
`))
	if err != nil {
		t.Fatal(err)
	}
	rss := d.VirtualServers[0].RealServers
	for i, want := range []SlowStart{{30 * time.Second, 0}, {0, 0}, {30 * time.Second, 6}} {
		if rss[i].SlowStart != want {
			t.Errorf("real server %d: %+v, want %+v", i, rss[i].SlowStart, want)
		}
	}
	for _, tt := range []struct {
		name, yaml, want string
	}{
		{"negative", `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    slow_start: -1s
`, `t.yaml:4: virtual_servers[0].slow_start: invalid duration "-1s": must not be negative`},
		{"too long", `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    real_servers:
      - address: 10.0.0.1
        slow_start: 2h
`, "t.yaml:6: virtual_servers[0].real_servers[0].slow_start: must be 0 (off) to 1h0m0s, got 2h0m0s"},
		{"steps", `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    slow_start_steps: 101
`, "t.yaml:4: virtual_servers[0].slow_start_steps: must be between 1 and 100, got 101"},
	} {
		_, err := ParseDirector("t.yaml", src(tt.yaml))
		got := errLines(t, err)
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
