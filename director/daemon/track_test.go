package daemon

import (
	"slices"
	"strings"
	"testing"
)

const trackYAML = `
vrrp:
  track_processes:
    ng: {process: nginx, weight: -50}
  track_files:
    w: {file: /run/lbd/w}
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses: [{address: 192.168.56.90}]
      track_processes: [{name: ng}]
    VI_2:
      interface: eth0
      virtual_router_id: 52
      virtual_ipaddresses: [{address: 192.168.56.91}]
      track_files: [{name: w}]
`

// A change to a tracked process or file restarts the components that
// follow it, and only those.
func TestPlanTrackedObjectChange(t *testing.T) {
	old := parse(t, trackYAML)
	for _, tt := range []struct {
		name, from, to  string
		restarted, kept string
	}{
		{"process weight", "weight: -50", "weight: -60", "VI_1", "VI_2"},
		{"file path", "/run/lbd/w", "/run/lbd/x", "VI_2", "VI_1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanApply(old, parse(t, strings.Replace(trackYAML, tt.from, tt.to, 1)))
			if !slices.Equal(p.StopComponents, []string{tt.restarted}) || !slices.Equal(p.KeepComponents, []string{tt.kept}) {
				t.Errorf("stop %v keep %v; want %v %v", p.StopComponents, p.KeepComponents, tt.restarted, tt.kept)
			}
		})
	}
}
