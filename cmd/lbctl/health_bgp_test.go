package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
)

// lbctl status --health shows the BGP peers (state, uptime, hold time)
// and each VIP's route with the reason it is withdrawn; --json carries
// the same.
func TestStatusHealthBGP(t *testing.T) {
	st := control.Status{IPVS: sampleIPVS()}
	since := time.Now().Add(-90 * time.Second)
	st.BGP = &control.BGP{ASN: 65001, RouterID: netip.MustParseAddr("10.9.0.1"),
		Peers: []control.BGPPeer{
			{Address: netip.MustParseAddr("10.9.0.254"), ASN: 65000, State: "established", Since: since, HoldTime: 3 * time.Second, BFD: "up"},
			{Address: netip.MustParseAddr("10.9.0.253"), ASN: 65000, State: "active"},
		},
		Prefixes: []control.BGPPrefix{
			{Prefix: netip.MustParsePrefix("192.168.56.90/32"), Announced: true, Since: since},
			{Prefix: netip.MustParsePrefix("192.168.56.91/32"), Reason: "quorum lost"},
		}}
	f := &fakeEnv{running: true, status: st}
	code, out, errs := runCmd(f, "status", "-n", "--health")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	for _, re := range []string{
		`BGP \(AS 65001, router id 10\.9\.0\.1\)`,
		`10\.9\.0\.254\s+65000\s+established\s+1m3\ds\s+3s\s+up`,
		`10\.9\.0\.253\s+65000\s+active\s+-\s+-\s+-`,
		`192\.168\.56\.90/32\s+announced\s+\d{4}-`,
		`192\.168\.56\.91/32\s+withdrawn: quorum lost\s+-`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no %s in:\n%s", re, out)
		}
	}
	code, out, _ = runCmd(f, "status", "--json")
	var back control.Status
	if code != 0 || json.Unmarshal([]byte(out), &back) != nil || back.BGP == nil || len(back.BGP.Prefixes) != 2 ||
		back.BGP.Prefixes[1].Reason != "quorum lost" || !strings.Contains(out, `"state": "established"`) && !strings.Contains(out, `"state":"established"`) {
		t.Errorf("status --json (code %d):\n%s", code, out)
	}
}

func TestDrainDirectorCommand(t *testing.T) {
	var asked []bool
	e := env{drainDirector: func(_ context.Context, s string, req control.DirectorDrainRequest) (control.DirectorDrain, error) {
		drain := req.Drain
		asked = append(asked, drain)
		if s == "/none" {
			return control.DirectorDrain{}, errors.New("this director runs no VRRP instance and no bgp section: there is nothing to give up")
		}
		return control.DirectorDrain{Drained: drain, Changed: true, BGP: &control.BGP{ASN: 1, Draining: drain,
			Prefixes: []control.BGPPrefix{{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Announced: !drain, Reason: map[bool]string{true: "draining"}[drain]}}}}, nil
	}}
	for _, tt := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"drain-director"}, 0, "withdrawn: draining"},
		{[]string{"drain-director", "--undo"}, 0, "drain undone"},
		{[]string{"-s", "/none", "drain-director"}, 1, ""},
		{[]string{"drain-director", "extra"}, 2, ""},
	} {
		var out, errs strings.Builder
		code := run(context.Background(), tt.args, &out, &errs, e)
		if code != tt.code || !strings.Contains(out.String(), tt.out) {
			t.Errorf("%v: code %d, out %q, err %q", tt.args, code, out.String(), errs.String())
		}
	}
	if want := []bool{true, false, true}; !slices.Equal(asked, want) {
		t.Errorf("asked %v, want %v", asked, want)
	}
}
