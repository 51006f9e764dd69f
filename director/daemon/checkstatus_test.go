package daemon

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/healthcheck"
)

func TestCheckLabel(t *testing.T) {
	rs := director.RealServerID{Address: netip.MustParseAddr("10.0.0.5"), Port: 80}
	self := netip.MustParseAddrPort("10.0.0.5:80")
	for _, tc := range []struct {
		name string
		sub  CheckSub
		want string
	}{
		{"http on the server", CheckSub{Name: "http#0", Spec: healthcheck.Spec{Type: healthcheck.TypeHTTP, Target: self,
			URLs: []healthcheck.URL{{Path: "/health.html"}}}}, "http#0 GET /health.html"},
		{"two urls elsewhere", CheckSub{Name: "https#2", Spec: healthcheck.Spec{Type: healthcheck.TypeHTTPS,
			Target: netip.MustParseAddrPort("10.0.0.5:8443"), URLs: []healthcheck.URL{{Path: "/a"}, {Path: "/b"}}}},
			"https#2 GET /a,/b at 10.0.0.5:8443"},
		{"tcp on the server", CheckSub{Name: "tcp#1", Spec: healthcheck.Spec{Type: healthcheck.TypeTCP, Target: self}}, "tcp#1"},
		{"script", CheckSub{Name: "script#0", Spec: healthcheck.Spec{Type: healthcheck.TypeScript,
			Command: []string{"/usr/local/bin/check_db", "-q"}}}, "script#0 check_db"},
		{"dns defaults", CheckSub{Name: "dns#0", Spec: healthcheck.Spec{Type: healthcheck.TypeDNS, Target: netip.MustParseAddrPort("10.0.0.5:53")}},
			"dns#0 SOA . at 10.0.0.5:53"},
		{"ping on the server", CheckSub{Name: "ping#0", Spec: healthcheck.Spec{Type: healthcheck.TypePing,
			Target: netip.AddrPortFrom(self.Addr(), 0)}}, "ping#0"},
		{"smtp helo elsewhere", CheckSub{Name: "smtp#1", Spec: healthcheck.Spec{Type: healthcheck.TypeSMTP,
			Target: netip.MustParseAddrPort("10.0.0.5:25"), HeloName: "lb1"}}, "smtp#1 HELO lb1 at 10.0.0.5:25"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.sub.Server = rs
			if got := checkLabel(tc.sub); got != tc.want {
				t.Errorf("label %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckStatusesMapsSharedChecks(t *testing.T) {
	svcA := table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80}
	svcB := table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: netip.MustParseAddr("192.0.2.11"), Port: 80}
	rs := netip.MustParseAddr("198.51.100.1")
	target := netip.MustParseAddrPort("198.51.100.1:80")
	subs := map[healthcheck.ID]subRef{
		"a-http": {Server: director.RealServerID{Service: svcA, Address: rs, Port: 80}, Name: "http#0", Index: 0},
		"a-tcp":  {Server: director.RealServerID{Service: svcA, Address: rs, Port: 80}, Name: "tcp#10", Index: 10},
		"a-tcp2": {Server: director.RealServerID{Service: svcA, Address: rs, Port: 80}, Name: "tcp#2", Index: 2},
		"b-tcp":  {Server: director.RealServerID{Service: svcB, Address: rs, Port: 80}, Name: "tcp#0", Index: 0},
	}
	at := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	// The specs come from the scheduler's snapshot (the daemon keeps none).
	tcp81 := netip.MustParseAddrPort("198.51.100.1:81")
	snap := []healthcheck.Status{
		// One runner for the identical TCP checks of both services.
		{Type: healthcheck.TypeTCP, Target: target, Spec: healthcheck.Spec{Type: healthcheck.TypeTCP, Target: target},
			IDs: []healthcheck.ID{"b-tcp", "a-tcp", "gone"}, Up: false, Fails: 2,
			Checks: 9, Failures: 2, LastAt: at,
			Last: healthcheck.Result{Kind: healthcheck.KindRefused, Reason: "connection refused", Duration: time.Millisecond}},
		{Type: healthcheck.TypeHTTP, Target: target, Spec: healthcheck.Spec{Type: healthcheck.TypeHTTP, Target: target, URLs: []healthcheck.URL{{Path: "/"}}},
			IDs: []healthcheck.ID{"a-http"}, Up: true, Passes: 4, LastAt: at,
			Last: healthcheck.Result{OK: true, Kind: healthcheck.KindOK, Duration: 2 * time.Millisecond}},
		// Not checked yet.
		{Type: healthcheck.TypeTCP, Target: tcp81, Spec: healthcheck.Spec{Type: healthcheck.TypeTCP, Target: tcp81}, IDs: []healthcheck.ID{"a-tcp2"}, Up: true},
	}
	got := checkStatuses(snap, subs)
	type row struct {
		svc    table.ServiceKey
		check  string
		up     bool
		result string
		reason string
		shared int
	}
	want := []row{
		{svcA, "http#0 GET /", true, "ok", "", 1},
		{svcA, "tcp#2 at 198.51.100.1:81", true, "", "", 1},
		{svcA, "tcp#10", false, "refused", "connection refused", 3},
		{svcB, "tcp#0", false, "refused", "connection refused", 3},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if (row{g.Service, g.Check, g.Up, g.Result, g.Reason, g.Shared}) != w {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}
	if g := got[2]; g.ConsecutiveFailures != 2 || g.Checks != 9 || g.Duration != time.Millisecond || !g.LastCheck.Equal(at) ||
		g.Target != "198.51.100.1:80" || g.Type != "tcp" {
		t.Errorf("refused row details: %+v", g)
	}
	if g := got[1]; !g.LastCheck.IsZero() || g.Duration != 0 {
		t.Errorf("unchecked row has a last check: %+v", g)
	}
}

// findCheck returns the status row of a check of a real server.
func findCheck(st control.Status, addr, prefix string) (control.CheckStatus, bool) {
	for _, c := range st.Checks {
		if c.Address.String() == addr && strings.HasPrefix(c.Check, prefix) {
			return c, true
		}
	}
	return control.CheckStatus{}, false
}

func TestDaemonStatusShowsChecks(t *testing.T) {
	f := start(t, false)
	cl := control.NewClient(f.sock)
	status := func() control.Status {
		st, err := cl.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitFor(t, "every check reported ok", func() bool {
		st := status()
		ok := 0
		for _, c := range st.Checks {
			if c.Up && c.Result == "ok" {
				ok++
			}
		}
		return len(st.Checks) == 3 && ok == 3
	})
	backends[0].fail.Store(true)
	var st control.Status
	waitFor(t, "http check down with its reason", func() bool {
		st = status()
		c, ok := findCheck(st, "198.51.100.1", "http#0")
		return ok && !c.Up && c.Reason != ""
	})
	b0 := backends[0].addrPort().String()
	c, _ := findCheck(st, "198.51.100.1", "http#0")
	if c.Check != "http#0 GET /health at "+b0 || c.Result != "status" || c.Reason != "GET /health: status 500 not in 200-299" ||
		c.Target != b0 || c.LastCheck.IsZero() || c.Duration <= 0 || c.ConsecutiveFailures < 1 || c.Shared != 1 ||
		c.Service.String() != "TCP 192.0.2.10:80" || c.Port != 80 {
		t.Errorf("failed http check = %+v", c)
	}
	// The other check of the same server still passes.
	if tcp, ok := findCheck(st, "198.51.100.1", "tcp#1"); !ok || !tcp.Up || tcp.Result != "ok" || tcp.Check != "tcp#1 at "+b0 {
		t.Errorf("tcp check = %+v (found %v)", tcp, ok)
	}
	// Rows come in real-server then check order.
	var order []string
	for _, c := range st.Checks {
		order = append(order, c.Address.String()+" "+strings.Fields(c.Check)[0])
	}
	if strings.Join(order, ",") != "198.51.100.1 http#0,198.51.100.1 tcp#1,198.51.100.2 http#0" {
		t.Errorf("check order %v", order)
	}
	backends[0].fail.Store(false)
	waitFor(t, "http check up again", func() bool {
		c, ok := findCheck(status(), "198.51.100.1", "http#0")
		return ok && c.Up && c.Result == "ok"
	})
}
