package main

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
)

// lbctl status --health shows each real server's source and each
// discovery's session, members, staleness and held update; the table
// before stays ipvsadm's.
func TestStatusHealthDiscovery(t *testing.T) {
	st := control.Status{IPVS: sampleIPVS()}
	key := st.IPVS.Table.Services[0].Key()
	w1 := uint32(1)
	since := time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)
	st.RealServers = []control.RealServer{
		{Service: key, Address: netip.MustParseAddr("192.168.56.200"), Port: 80, Up: true, ConfiguredWeight: 1, DesiredWeight: &w1, KernelWeight: &w1, Source: "static"},
		{Service: key, Address: netip.MustParseAddr("192.168.56.201"), Port: 80, Up: true, ConfiguredWeight: 1, DesiredWeight: &w1, KernelWeight: &w1, Source: "zk:/sgroup/sub0000000001"},
	}
	st.Discovery = []control.Discovery{{Service: key, ZooKeeper: []string{"127.0.0.1:4180", "127.0.0.1:4181"}, Path: "/sgroup",
		Session: "StateDisconnected", Stale: true, StaleSince: since, Members: 1,
		Held: &control.DiscoveryHeld{Remove: 1, Members: 0, Since: since}}}
	f := &fakeEnv{running: true, status: st}
	code, out, errs := runCmd(f, "status", "-n", "--health")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	if !strings.HasPrefix(out, sampleList) {
		t.Fatalf("the table must come first, unchanged:\n%s", out)
	}
	for _, want := range []string{
		"zk:/sgroup/sub0000000001",
		"static",
		"discovery stale since 2026-12-07T14:00:00Z",
		"StateDisconnected",
		"update held since 2026-12-07T14:00:00Z: it removes 1 of 1 members (adds 0); apply it with: lbctl discovery confirm 'TCP 192.168.56.90:80'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	// Without --health: ipvsadm's output only.
	if _, out, _ := runCmd(f, "status", "-n"); out != sampleList {
		t.Errorf("status without --health:\n%s", out)
	}
}

func TestDiscoveryConfirmCommand(t *testing.T) {
	for _, tt := range []struct {
		name    string
		args    []string
		err     error
		code    int
		service string
		out     string
	}{
		{name: "one argument", args: []string{"discovery", "confirm", "TCP 192.168.56.90:80"}, service: "TCP 192.168.56.90:80",
			out: "confirmed the held discovery update of TCP 192.168.56.90:80\n"},
		{name: "two arguments", args: []string{"discovery", "confirm", "TCP", "192.168.56.90:80"}, service: "TCP 192.168.56.90:80",
			out: "confirmed"},
		{name: "nothing held", args: []string{"discovery", "confirm", "TCP 192.168.56.90:80"}, service: "TCP 192.168.56.90:80",
			err: errors.New("service TCP 192.168.56.90:80: no discovery update is held"), code: 1},
		{name: "no service", args: []string{"discovery", "confirm"}, code: 2},
		{name: "unknown verb", args: []string{"discovery", "hold", "x"}, code: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEnv{running: true}
			var asked string
			e := f.env()
			e.confirm = func(_ context.Context, _ string, service string) (control.ReloadResult, error) {
				asked = service
				return control.ReloadResult{}, tt.err
			}
			var out, errb strings.Builder
			code := run(context.Background(), tt.args, &out, &errb, e)
			if code != tt.code || asked != tt.service || !strings.HasPrefix(out.String(), tt.out) {
				t.Errorf("code %d (want %d), asked %q (want %q), out %q, err %q", code, tt.code, asked, tt.service, out.String(), errb.String())
			}
			if tt.err != nil && !strings.Contains(errb.String(), "no discovery update is held") {
				t.Errorf("stderr %q", errb.String())
			}
		})
	}
}
