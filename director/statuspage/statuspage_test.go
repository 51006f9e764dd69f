package statuspage_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/director/statuspage"
	"github.com/lvsd/lb/director/table"
)

type source struct {
	mu  sync.Mutex
	st  control.Status
	log *events.Log
}

func (s *source) Status(context.Context) control.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *source) Events() *events.Log { return s.log }

func (s *source) set(f func(*control.Status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.st)
}

func u32(v uint32) *uint32 { return &v }

var t0 = time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)

func sampleStatus() control.Status {
	key := table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80}
	a, b := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.2")
	svc := table.Service{ServiceKey: key, Scheduler: "wlc", Destinations: []table.Destination{
		{Address: a, Port: 80, Weight: 3, ActiveConns: 7, InactConns: 12, Stats: table.Stats{CPS: 40}},
	}}
	return control.Status{
		Daemon:   control.DaemonInfo{PID: 42, RouterID: "lb1", ConfigFile: "/etc/lbd/lbd.yaml", Started: t0.Add(-time.Hour)},
		IPVS:     control.IPVS{Table: table.Table{Services: []table.Service{svc}}, InSync: true},
		Services: []control.ServiceQuorum{{Service: key, LiveWeight: 3, Quorum: 1, QuorumUp: true}},
		RealServers: []control.RealServer{
			{Service: key, Address: a, Port: 80, Up: true, ConfiguredWeight: 3, DesiredWeight: u32(3), KernelWeight: u32(3), Source: "static"},
			{Service: key, Address: b, Port: 80, Up: false, ConfiguredWeight: 1, Reason: "http#0: GET /health: status 500 not in 200-299"},
		},
		Checks: []control.CheckStatus{
			{Service: key, Address: a, Port: 80, Check: "http#0 GET /health", Up: true, Result: "ok", Duration: 2 * time.Millisecond, LastCheck: t0.Add(-2 * time.Second)},
			{Service: key, Address: b, Port: 80, Check: "http#0 GET /health", Up: false, Result: "status", Reason: "status 500 not in 200-299"},
		},
		VRRP: []control.VRRPInstance{{Name: "VI_1", Interface: "eth0", VRID: 51, State: "MASTER", Priority: 150, EffectivePriority: 150,
			VIPs: []string{"192.0.2.10/32"}, Since: t0.Add(-time.Minute)}},
	}
}

func newServer(t *testing.T) (*source, *httptest.Server) {
	src := &source{st: sampleStatus(), log: events.New(100, func() time.Time { return t0 })}
	src.log.Emit(events.Event{Kind: events.KindReload, Subject: "/etc/lbd/lbd.yaml", Message: "reload applied: 2 changes",
		Fields: map[string]string{"result": "applied"}})
	srv := httptest.NewServer(statuspage.New(src, func() time.Time { return t0 }))
	t.Cleanup(srv.Close)
	return src, srv
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// The page renders every section on the server (no script needed), each
// row coloured by its state.
func TestPageStaticRender(t *testing.T) {
	_, srv := newServer(t)
	for _, path := range []string{"/", "/status"} {
		code, h, body := get(t, srv.URL+path)
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %v", path, code, h)
		}
		for _, want := range []string{
			`<section id="reload">`, "reload applied: 2 changes", "IPVS table <span class=\"up\">in sync</span>",
			`<section id="vrrp">`, `<tr class="master" data-instance="VI_1">`, `<td class="state">MASTER</td>`, "192.0.2.10/32",
			`<section id="services">`, `data-service="TCP 192.0.2.10:80"`, "wlc · live weight 3 / quorum 1", "7 active, 12 inactive, 40 conn/s",
			`<tr class="up" data-server="10.1.0.1:80">`, "3 / 3 / 3", `<div class="check up">http#0 GET /health: up (ok)`, "2s ago",
			`<tr class="down" data-server="10.1.0.2:80">`, "1 / - / -", `<div class="check down">http#0 GET /health: down (status) – status 500 not in 200-299`,
			`<section id="events">`, `<tr class="ev-reload"><td>1</td>`,
			`<script src="/static/live.js"></script>`, `data-last-seq="1"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
	}
	code, _, body := get(t, srv.URL+"/status?fragment=1")
	if code != 200 || strings.Contains(body, "<html") || !strings.Contains(body, `<section id="services">`) {
		t.Errorf("fragment: %d %q", code, body)
	}
	for _, f := range []string{"/static/live.js", "/static/page.css"} {
		if code, _, body := get(t, srv.URL+f); code != 200 || len(body) < 100 {
			t.Errorf("%s: %d, %d bytes", f, code, len(body))
		}
	}
	if code, _, _ := get(t, srv.URL+"/nothing"); code != 404 {
		t.Errorf("/nothing: %d", code)
	}
	resp, err := http.Post(srv.URL+"/status", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /status: %d (read-only)", resp.StatusCode)
	}
}

func TestStatusJSON(t *testing.T) {
	_, srv := newServer(t)
	code, _, body := get(t, srv.URL+"/status.json")
	var sj statuspage.StatusJSON
	if err := json.Unmarshal([]byte(body), &sj); err != nil || code != 200 {
		t.Fatalf("%d %v", code, err)
	}
	if sj.Daemon.PID != 42 || len(sj.RealServers) != 2 || len(sj.Events) != 1 || sj.Events[0].Kind != events.KindReload {
		t.Errorf("status.json = %+v", sj)
	}
}

// A state change the daemon pushes reaches the page's event stream
// within a second, and the re-rendered live part shows it.
func TestEventsPushAStateChange(t *testing.T) {
	src, srv := newServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events?since=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	if l, _ := br.ReadString('\n'); l != "retry: 1000\n" {
		t.Fatalf("first line %q", l)
	}
	src.set(func(st *control.Status) {
		st.RealServers[0].Up = false
		st.RealServers[0].Reason = "tcp#1: connection refused"
	})
	sent := time.Now()
	src.log.Emit(events.Event{Kind: events.KindHealth, Subject: "TCP 192.0.2.10:80 10.1.0.1:80", Message: "real server down: tcp#1: connection refused"})
	var id, data string
	for data == "" {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(l, "id: "):
			id = strings.TrimSpace(l[4:])
		case strings.HasPrefix(l, "data: "):
			data = l[6:]
		}
	}
	took := time.Since(sent)
	var e events.Event
	if err := json.Unmarshal([]byte(data), &e); err != nil || id != "2" || e.Seq != 2 || e.Kind != events.KindHealth {
		t.Fatalf("event id %q %+v: %v", id, e, err)
	}
	if took > time.Second {
		t.Errorf("the event took %v to reach the page (want within 1s)", took)
	}
	t.Logf("state change pushed to the page's stream in %v", took)
	_, _, body := get(t, srv.URL+"/status?fragment=1")
	if !strings.Contains(body, `<tr class="down" data-server="10.1.0.1:80">`) || !strings.Contains(body, "tcp#1: connection refused") {
		t.Errorf("the re-rendered part does not show the change:\n%s", body)
	}
}

// Each real server's state from the operator's overrides and slow start
// shows as its row's class and label, with configured, desired and kernel
// weight.
func TestPageServerStates(t *testing.T) {
	since := t0.Add(-30 * time.Second)
	for _, tc := range []struct {
		name string
		rs   func(*control.RealServer)
		want []string
	}{
		{"draining", func(rs *control.RealServer) {
			rs.State, rs.Override, rs.OverrideSince, rs.DesiredWeight, rs.KernelWeight = "draining", "drain", since, u32(0), u32(0)
		}, []string{`<tr class="draining" data-server="10.1.0.1:80">`, `<td class="state">draining since 14:59:30</td>`, "3 / 0 / 0"}},
		{"maintenance", func(rs *control.RealServer) {
			rs.State, rs.Override, rs.OverrideSince, rs.DesiredWeight, rs.KernelWeight = "maintenance", "maintenance", since, nil, nil
		}, []string{`<tr class="maintenance" data-server="10.1.0.1:80">`, `<td class="state">maintenance since 14:59:30</td>`, "3 / - / -"}},
		{"slow-starting", func(rs *control.RealServer) {
			rs.State, rs.DesiredWeight, rs.KernelWeight = "slow-starting", u32(2), u32(1)
		}, []string{`<tr class="slowstart" data-server="10.1.0.1:80">`, `<td class="state">slow start 1/3</td>`, "3 / 2 / 1"}},
		{"up", func(rs *control.RealServer) { rs.State = "up" },
			[]string{`<tr class="up" data-server="10.1.0.1:80">`, `<td class="state">up</td>`, "3 / 3 / 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, srv := newServer(t)
			src.set(func(st *control.Status) { tc.rs(&st.RealServers[0]) })
			_, _, body := get(t, srv.URL+"/status")
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}
