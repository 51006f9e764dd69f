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

// TestCheckTranslationUDPPingSMTP: the udp, ping and smtp keys reach the
// checker's spec (hex strings parsed, keepalived's defaults filled in).
func TestCheckTranslationUDPPingSMTP(t *testing.T) {
	c := parse(t, `
virtual_servers:
  - address: 192.168.56.90
    port: 53
    protocol: UDP
    real_servers:
      - address: 192.168.56.200
        checks:
          - type: udp
            payload: "Ab12f 3"
            require_reply: true
            reply: "aX 12"
            max_reply_length: 64
          - type: udp
          - type: ping
            connect_ip: 192.168.56.201
          - type: smtp
            connect_port: 25
            helo_name: lb1.example.org
          - type: smtp
`)
	rs := netip.MustParseAddr("192.168.56.200")
	want := []healthcheck.Spec{
		{Type: healthcheck.TypeUDP, Target: netip.AddrPortFrom(rs, 53), Payload: []byte{0xab, 0x12, 0x0f, 0x03},
			RequireReply: true, Reply: []byte{0xa0, 0x12}, ReplyMask: []byte{0x0f, 0x00}, MaxReply: 64},
		{Type: healthcheck.TypeUDP, Target: netip.AddrPortFrom(rs, 53)},
		{Type: healthcheck.TypePing, Target: netip.MustParseAddrPort("192.168.56.201:0")},
		{Type: healthcheck.TypeSMTP, Target: netip.AddrPortFrom(rs, 25), HeloName: "lb1.example.org"},
		{Type: healthcheck.TypeSMTP, Target: netip.AddrPortFrom(rs, 53), HeloName: healthcheck.DefaultHeloName},
	}
	subs := Checks(c.VirtualServers)
	if len(subs) != len(want) {
		t.Fatalf("%d subs, want %d", len(subs), len(want))
	}
	for i, w := range want {
		got := subs[i]
		if healthcheck.Key(got.Spec, got.Timing) != healthcheck.Key(w, got.Timing) {
			t.Errorf("check %d: spec = %+v\nwant %+v", i, got.Spec, w)
		}
		if err := got.Spec.Validate(); err != nil {
			t.Errorf("check %d: %v", i, err)
		}
	}
}

func TestPlanApply(t *testing.T) {
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
			p := PlanApply(old, parse(t, tt.edit(baseYAML)))
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

// healthYAML is one service whose first real server has a TCP check and a
// dynamic script check, and notify commands.
const healthYAML = `
global: {state_dir: %s, control_socket: %s/lbd.sock, metrics_address: ""}
virtual_servers:
  - address: 192.168.56.90
    port: 80
    real_servers:
      - address: 192.168.56.201
        weight: 2
        notify_up: [up]
        notify_down: [down]
        checks:
          - {type: tcp}
          - {type: script, command: /bin/true, dynamic: true}
      - address: 192.168.56.202
`

// TestHealthFlow follows check transitions through the daemon: the Manager
// owns the verdict (all checks must pass, a dynamic weight replaces the
// configured one) and the daemon runs the notify commands.
func TestHealthFlow(t *testing.T) {
	d, k := applied(t, healthYAML)
	var started [][]string
	d.exec = func(argv []string) error { started = append(started, argv); return nil }
	ctx := context.Background()
	ids := map[string]healthcheck.ID{}
	for id, s := range d.subscriptions() {
		ids[s.Name] = id
	}
	tr := func(name string, up, initial bool, w *int, reason string) {
		d.onTransition(ctx, healthcheck.Transition{IDs: []healthcheck.ID{ids[name]}, Up: up, Initial: initial, Weight: w,
			Result: healthcheck.Result{Reason: reason}})
	}
	weights := func() map[string]uint32 {
		out := map[string]uint32{}
		for _, dst := range k.Table().Services[0].Destinations {
			out[dst.Address.String()] = dst.Weight
		}
		return out
	}
	k.ResetCounters()
	tr("tcp#0", true, true, nil, "")
	tr("script#1", true, true, nil, "")
	if k.Writes() != 0 {
		t.Fatalf("initial up transitions wrote: %v", k.Log())
	}
	tr("tcp#0", false, false, nil, "connection refused")
	if w := weights(); len(w) != 1 || w["192.168.56.202"] != 1 {
		t.Fatalf("after tcp down: %v", w)
	}
	// The other check passing does not bring it back: all must pass.
	tr("script#1", true, false, nil, "")
	if w := weights(); len(w) != 1 {
		t.Fatalf("one check passing brought the server back: %v", w)
	}
	seven := 7
	tr("script#1", true, false, &seven, "")
	tr("tcp#0", true, false, nil, "")
	if w := weights(); w["192.168.56.201"] != 7 {
		t.Fatalf("up with dynamic weight: %v", w)
	}
	if !slices.EqualFunc(started, [][]string{{"down"}, {"up"}}, slices.Equal) {
		t.Errorf("notify commands = %v", started)
	}
	// The status says which weight the check set, and why it differs.
	for _, rs := range d.ipvsNow().mgr.Desired().RealServers {
		if rs.ID.Address.String() == "192.168.56.201" && (!rs.Up || rs.DesiredWeight != 7 || rs.Reason == "") {
			t.Errorf("status of the dynamic server %+v", rs)
		}
	}
}
