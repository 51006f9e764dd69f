package config

import (
	"testing"
	"time"

	"github.com/lvsd/lb/internal/httplimit"
)

// TestControlLimits: the control socket's bounds are global keys, with
// httplimit's values as defaults and file:line errors outside their range.
func TestControlLimits(t *testing.T) {
	defaults := httplimit.Limits{}.WithDefaults()
	defaults.MaxHeaderBytes, defaults.MaxBodyBytes = 0, 0
	tests := []struct {
		name string
		yaml string
		want httplimit.Limits
		errs []string
	}{
		{name: "defaults", yaml: vi1, want: defaults},
		{
			name: "set",
			yaml: `
global:
  control_max_connections: 8
  control_idle_timeout: 2m
  control_header_timeout: 1s
  control_body_timeout: 3
  control_write_timeout: 1m30s
` + vi1,
			want: httplimit.Limits{MaxConns: 8, IdleTimeout: 2 * time.Minute, ReadHeaderTimeout: time.Second,
				BodyTimeout: 3 * time.Second, WriteTimeout: 90 * time.Second},
		},
		{
			name: "out of range",
			yaml: `
global:
  control_max_connections: 0
  control_idle_timeout: 0
  control_header_timeout: 500ms
  control_body_timeout: 2h
  control_write_timeout: -1
` + vi1,
			errs: []string{
				`t.yaml:2: global.control_max_connections: must be within 1-4096, got 0`,
				`t.yaml:3: global.control_idle_timeout: must be within 1s-1h0m0s, got 0s`,
				`t.yaml:4: global.control_header_timeout: must be within 1s-1h0m0s, got 500ms`,
				`t.yaml:5: global.control_body_timeout: must be within 1s-1h0m0s, got 2h0m0s`,
				`t.yaml:6: global.control_write_timeout: invalid duration "-1": must not be negative`,
			},
		},
		{
			name: "too many connections",
			yaml: "global:\n  control_max_connections: 5000\n" + vi1,
			errs: []string{`t.yaml:2: global.control_max_connections: must be within 1-4096, got 5000`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDirector("t.yaml", src(tt.yaml))
			diffLines(t, errLines(t, err), tt.errs)
			if err != nil {
				return
			}
			if got := d.Global.ControlLimits(); got != tt.want {
				t.Errorf("limits %+v, want %+v", got, tt.want)
			}
		})
	}
}
