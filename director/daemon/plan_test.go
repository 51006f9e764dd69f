package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/vrrp"
)

const baseYAML = `
vrrp:
  instances:
    VI_1:
      state: MASTER
      interface: eth0
      virtual_router_id: 51
      priority: 200
      authentication: {type: PASS, password: "1111"}
      virtual_ipaddresses:
        - {address: 192.168.56.90, label: "eth0:0"}
      track_scripts: [{name: chk}]
    VI_2:
      interface: eth1
      virtual_router_id: 52
      virtual_ipaddresses: [{address: 10.0.0.90/24}]
    VI_3:
      interface: eth1
      virtual_router_id: 53
      virtual_ipaddresses: [{address: 10.0.1.90}]
  scripts:
    chk: {command: ["/usr/bin/pgrep", "-x", "nginx"], interval: 2s, weight: -150}
  sync_groups:
    G: {instances: [VI_2, VI_3]}
virtual_servers:
  - address: 192.168.56.90
    port: 80
    delay_loop: 6
    real_servers:
      - address: 192.168.56.200
        checks:
          - type: http
            connect_timeout: 3
            retry: 3
            urls: [{path: /health.html, digest: d36f8f9425c4a8000ad9c4a97185aca5, status_codes: ["200-299", 302]}]
      - address: 192.168.56.201
        checks:
          - {type: tcp}
          - {type: script, command: /bin/true, dynamic: true}
`

func parse(t *testing.T, y string) *config.Director {
	t.Helper()
	c, err := config.ParseDirector("lbd.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestComponents(t *testing.T) {
	comps := Components(&parse(t, baseYAML).VRRP)
	if len(comps) != 2 || comps[0].Name != "VI_1" || comps[1].Name != "VI_2,VI_3" {
		t.Fatalf("components = %+v", comps)
	}
	if len(comps[0].Set.Scripts) != 1 || comps[0].Set.Scripts[0].Name != "chk" || len(comps[0].Set.SyncGroups) != 0 {
		t.Errorf("VI_1 component = %+v", comps[0].Set)
	}
	if len(comps[1].Set.Instances) != 2 || len(comps[1].Set.Scripts) != 0 ||
		len(comps[1].Set.SyncGroups) != 1 || comps[1].Set.SyncGroups[0].Name != "G" {
		t.Errorf("group component = %+v", comps[1].Set)
	}
	// Each component is a valid router configuration.
	for _, c := range comps {
		if _, err := vrrp.New(vrrp.Options{Instances: c.Set.Instances, Scripts: c.Set.Scripts,
			SyncGroups: c.Set.SyncGroups, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
			t.Errorf("vrrp.New(%s): %v", c.Name, err)
		}
	}
}

func TestCheckTranslation(t *testing.T) {
	c := parse(t, baseYAML)
	subs := Checks(c.VirtualServers)
	if len(subs) != 3 {
		t.Fatalf("%d subs", len(subs))
	}
	h := subs[0]
	wantSpec := healthcheck.Spec{Type: healthcheck.TypeHTTP, Target: netip.MustParseAddrPort("192.168.56.200:80"),
		URLs: []healthcheck.URL{{Path: "/health.html", Digest: "d36f8f9425c4a8000ad9c4a97185aca5",
			StatusCodes: []healthcheck.StatusRange{{Min: 200, Max: 299}, {Min: 302, Max: 302}}}}}
	if healthcheck.Key(h.Spec, h.Timing) != healthcheck.Key(wantSpec, h.Timing) {
		t.Errorf("spec = %+v\nwant %+v", h.Spec, wantSpec)
	}
	wantTiming := healthcheck.Timing{DelayLoop: 6 * time.Second, ConnectTimeout: 3 * time.Second, Retry: 3,
		DelayBeforeRetry: 3 * time.Second, Rise: 1, Fall: 4}
	if h.Timing != wantTiming {
		t.Errorf("timing = %+v, want %+v", h.Timing, wantTiming)
	}
	if err := h.Spec.Validate(); err != nil {
		t.Error(err)
	}
	if h.Name != "http#0" || h.Server.Address != netip.MustParseAddr("192.168.56.200") || h.Server.Port != 80 {
		t.Errorf("sub = %+v", h)
	}
	sc := subs[2]
	if sc.Spec.Type != healthcheck.TypeScript || !sc.Spec.Dynamic || sc.Spec.Target.IsValid() ||
		!slices.Equal(sc.Spec.Command, []string{"/bin/true"}) || sc.Name != "script#1" {
		t.Errorf("script sub = %+v", sc)
	}
}

func TestPlanReload(t *testing.T) {
	old := parse(t, baseYAML)
	tests := []struct {
		name                    string
		edit                    func(string) string
		stop, start, keep       []string
		addChecks, removeChecks int
		services                []string
		settings                bool
	}{
		{name: "identical", edit: func(s string) string { return s }, keep: []string{"VI_1", "VI_2,VI_3"}},
		{name: "weight change", edit: func(s string) string {
			return strings.Replace(s, "      - address: 192.168.56.201\n", "      - address: 192.168.56.201\n        weight: 5\n", 1)
		}, keep: []string{"VI_1", "VI_2,VI_3"}, services: []string{"change TCP 192.168.56.90:80"}},
		{name: "priority of VI_3 changes its group only", edit: func(s string) string {
			return strings.Replace(s, "virtual_router_id: 53\n", "virtual_router_id: 53\n      priority: 150\n", 1)
		}, stop: []string{"VI_2,VI_3"}, start: []string{"VI_2,VI_3"}, keep: []string{"VI_1"}},
		{name: "script change restarts its tracker", edit: func(s string) string {
			return strings.Replace(s, "interval: 2s", "interval: 3s", 1)
		}, stop: []string{"VI_1"}, start: []string{"VI_1"}, keep: []string{"VI_2,VI_3"}},
		{name: "check timing change", edit: func(s string) string {
			return strings.Replace(s, "retry: 3", "retry: 2", 1)
		}, keep: []string{"VI_1", "VI_2,VI_3"}, addChecks: 1, removeChecks: 1, services: []string{"change TCP 192.168.56.90:80"}},
		{name: "sync group split", edit: func(s string) string {
			return strings.Replace(s, "instances: [VI_2, VI_3]", "instances: [VI_2]", 1)
		}, stop: []string{"VI_2,VI_3"}, start: []string{"VI_2", "VI_3"}, keep: []string{"VI_1"}},
		{name: "timeouts", edit: func(s string) string { return "ipvs: {timeouts: {tcp: 10s}}\n" + s },
			keep: []string{"VI_1", "VI_2,VI_3"}, settings: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanReload(old, parse(t, tt.edit(baseYAML)))
			var start []string
			for _, c := range p.StartComponents {
				start = append(start, c.Name)
			}
			if !slices.Equal(p.StopComponents, tt.stop) || !slices.Equal(start, tt.start) || !slices.Equal(p.KeepComponents, tt.keep) {
				t.Errorf("vrrp: stop %v start %v keep %v; want %v %v %v", p.StopComponents, start, p.KeepComponents, tt.stop, tt.start, tt.keep)
			}
			if len(p.AddChecks) != tt.addChecks || len(p.RemoveChecks) != tt.removeChecks || p.KeepChecks != 3-tt.removeChecks {
				t.Errorf("checks: add %d remove %d keep %d", len(p.AddChecks), len(p.RemoveChecks), p.KeepChecks)
			}
			if !slices.Equal(p.Services, tt.services) || p.Settings != tt.settings {
				t.Errorf("services %v settings %v; want %v %v", p.Services, p.Settings, tt.services, tt.settings)
			}
		})
	}
}

// recordSink records SetHealth calls.
type recordSink struct{ calls []director.Health }

func (r *recordSink) SetHealth(_ context.Context, _ director.RealServerID, h director.Health) (director.Result, error) {
	r.calls = append(r.calls, h)
	return director.Result{}, nil
}

func TestHealthAggregation(t *testing.T) {
	c := parse(t, baseYAML)
	subs := Checks(c.VirtualServers)
	sink := &recordSink{}
	var started [][]string
	a := newHealthAgg(sink, slog.New(slog.NewTextHandler(io.Discard, nil)), func(argv []string) error {
		started = append(started, argv)
		return nil
	})
	rs := subs[1].Server // two checks: tcp and dynamic script
	a.setSubs(subs, map[director.RealServerID]serverNotify{rs: {up: []string{"up"}, down: []string{"down"}}, subs[0].Server: {}})
	ctx := context.Background()
	tr := func(id healthcheck.ID, up, initial bool, w *int, reason string) {
		a.onTransition(ctx, healthcheck.Transition{IDs: []healthcheck.ID{id}, Up: up, Initial: initial, Weight: w,
			Result: healthcheck.Result{Reason: reason}})
	}
	tr(subs[1].ID, true, true, nil, "")
	tr(subs[2].ID, true, true, nil, "")
	if len(sink.calls) != 0 {
		t.Fatalf("initial up transitions applied: %+v", sink.calls)
	}
	tr(subs[1].ID, false, false, nil, "connection refused")
	if len(sink.calls) != 1 || !sink.calls[0].Down || !strings.Contains(sink.calls[0].Reason, "connection refused") {
		t.Fatalf("down: %+v", sink.calls)
	}
	// The other check passing does not bring it back: all must pass.
	tr(subs[2].ID, true, false, nil, "")
	if len(sink.calls) != 1 {
		t.Fatalf("one check passing changed the server: %+v", sink.calls)
	}
	seven := 7
	tr(subs[2].ID, true, false, &seven, "")
	tr(subs[1].ID, true, false, nil, "")
	last := sink.calls[len(sink.calls)-1]
	if last.Down || last.Weight == nil || *last.Weight != 7 {
		t.Fatalf("up with dynamic weight: %+v", last)
	}
	if len(started) != 2 || started[0][0] != "down" || started[1][0] != "up" {
		t.Errorf("notify commands = %v", started)
	}
}
