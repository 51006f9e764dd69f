package control_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
)

func TestParseService(t *testing.T) {
	tcp := table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: mustAddr("10.0.0.100"), Port: 80}
	udp6 := table.ServiceKey{Family: table.FamilyIPv6, Protocol: table.ProtoUDP, Address: mustAddr("2001:db8::1"), Port: 53}
	for _, tt := range []struct {
		in   string
		want table.ServiceKey
		err  string
	}{
		{in: "TCP 10.0.0.100:80", want: tcp},
		{in: "tcp:10.0.0.100:80", want: tcp},
		{in: "  tcp   10.0.0.100:80 ", want: tcp},
		{in: "UDP [2001:db8::1]:53", want: udp6},
		{in: "udp:[2001:db8::1]:53", want: udp6},
		{in: "FWM 5", want: table.ServiceKey{FWMark: 5, Family: table.FamilyIPv4}.Normalize()},
		{in: "fwm:5", want: table.ServiceKey{FWMark: 5, Family: table.FamilyIPv4}.Normalize()},
		{in: "FWM 5 IPv6", want: table.ServiceKey{FWMark: 5, Family: table.FamilyIPv6}.Normalize()},
		{in: "10.0.0.100:80", err: "unknown protocol"},
		{in: "TCP 10.0.0.100", err: "bad address:port"},
		{in: "FWM 0", err: "bad fwmark"},
		{in: "FWM 5 ipv5", err: "unexpected ipv5"},
		{in: "", err: "no protocol"},
	} {
		got, err := control.ParseService(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: %v, want an error with %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("%q: %+v %v, want %+v", tt.in, got, err, tt.want)
		}
	}
	key := tcp
	for _, tt := range []struct {
		in   string
		addr string
		port uint16
		ok   bool
	}{
		{"10.0.0.11", "10.0.0.11", 80, true},
		{"10.0.0.11:8080", "10.0.0.11", 8080, true},
		{"[2001:db8::11]:80", "2001:db8::11", 80, true},
		{"2001:db8::11", "2001:db8::11", 80, true},
		{"web1", "", 0, false},
	} {
		a, p, err := control.ParseRealServer(key, tt.in)
		if (err == nil) != tt.ok || (tt.ok && (a.String() != tt.addr || p != tt.port)) {
			t.Errorf("%q: %v %d %v", tt.in, a, p, err)
		}
	}
}

// overrider is a Daemon that takes overrides.
type overrider struct {
	sources
	got   []control.OverrideRequest
	drain []control.DirectorDrainRequest
}

func (o *overrider) SetOverride(_ context.Context, req control.OverrideRequest) (control.OverrideResult, error) {
	o.got = append(o.got, req)
	if req.Server == "10.9.9.9" {
		return control.OverrideResult{}, errors.New("unknown real server")
	}
	return control.OverrideResult{State: req.State, Changed: true}, nil
}

func (o *overrider) SetDirectorDrain(_ context.Context, req control.DirectorDrainRequest) (control.DirectorDrain, error) {
	o.drain = append(o.drain, req)
	return control.DirectorDrain{Drained: req.Drain, Changed: true}, nil
}

func TestOverrideEndpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	o := &overrider{}
	c, stop := serve(t, control.ServerConfig{Path: path, Daemon: o})
	defer stop()
	ctx := context.Background()
	res, err := c.SetOverride(ctx, control.OverrideRequest{Service: "TCP 10.0.0.100:80", Server: "10.0.0.11", State: "drain"})
	if err != nil || res.State != "drain" || !res.Changed || len(o.got) != 1 || o.got[0].Server != "10.0.0.11" {
		t.Errorf("override: %+v %v %+v", res, err, o.got)
	}
	if _, err := c.SetOverride(ctx, control.OverrideRequest{Service: "TCP 10.0.0.100:80", Server: "10.9.9.9", State: "drain"}); err == nil || !strings.Contains(err.Error(), "unknown real server") {
		t.Errorf("refused override: %v", err)
	}
	dd, err := c.SetDirectorDrain(ctx, control.DirectorDrainRequest{Drain: true})
	if err != nil || !dd.Drained || len(o.drain) != 1 {
		t.Errorf("drain-director: %+v %v", dd, err)
	}
	// GET is not an action; an unknown field is refused before the daemon.
	h := control.NewServer(control.ServerConfig{Daemon: o}).Handler()
	for _, tt := range []struct {
		method, path, body string
		code               int
	}{
		{http.MethodGet, "/v1/realserver/state", "", http.StatusMethodNotAllowed},
		{http.MethodPost, "/v1/realserver/state", `{"service": "TCP 10.0.0.100:80", "bogus": 1}`, http.StatusBadRequest},
		{http.MethodPost, "/v1/director/drain", `{"drain": "yes"}`, http.StatusBadRequest},
	} {
		rec := do(h, tt.method, tt.path, tt.body)
		if rec.Code != tt.code {
			t.Errorf("%s %s %s: %d, want %d", tt.method, tt.path, tt.body, rec.Code, tt.code)
		}
	}
	if len(o.got) != 2 || len(o.drain) != 1 {
		t.Errorf("bad requests reached the daemon: %+v %+v", o.got, o.drain)
	}
	// A daemon without overrides answers 501.
	h = control.NewServer(control.ServerConfig{Daemon: &sources{}}).Handler()
	if rec := do(h, http.MethodPost, "/v1/realserver/state", `{}`); rec.Code != http.StatusNotImplemented {
		t.Errorf("no Overrider: %d", rec.Code)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func do(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}
