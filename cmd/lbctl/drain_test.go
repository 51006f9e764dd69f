package main

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
)

// drainEnv is a fake lbd for the drain commands: it records the override
// requests and answers status with the kernel counters of 192.168.56.200
// taken in turn from conns (the last one repeats); sleep moves its clock.
type drainEnv struct {
	reqs   []control.OverrideRequest
	conns  [][3]uint32 // active, inactive, persistence templates
	reads  int
	now    time.Time
	sleeps int
	err    error
	gone   bool // the server is not in the kernel's table
}

func (f *drainEnv) env() env {
	return env{
		override: func(_ context.Context, _ string, req control.OverrideRequest) (control.OverrideResult, error) {
			f.reqs = append(f.reqs, req)
			if f.err != nil {
				return control.OverrideResult{}, f.err
			}
			key, _ := control.ParseService(req.Service)
			a, p, _ := control.ParseRealServer(key, req.Server)
			return control.OverrideResult{Service: key, Address: a, Port: p, State: req.State, Changed: true,
				Apply: &control.ApplyResult{Kind: "apply", Writes: 1}}, nil
		},
		status: func(context.Context, string) (control.Status, error) {
			ipvs := sampleIPVS()
			c := f.conns[min(f.reads, len(f.conns)-1)]
			f.reads++
			ds := ipvs.Table.Services[0].Destinations
			ds[1].Weight, ds[1].ActiveConns, ds[1].InactConns, ds[1].PersistConns = 0, c[0], c[1], c[2]
			if f.gone {
				ipvs.Table.Services[0].Destinations = ds[:1]
			}
			return control.Status{IPVS: ipvs}, nil
		},
		now:   func() time.Time { return f.now },
		sleep: func(context.Context, time.Duration) error { f.sleeps++; f.now = f.now.Add(time.Second); return nil },
	}
}

func runDrain(f *drainEnv, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, f.env())
	return code, out.String(), errb.String()
}

func TestDrainCommands(t *testing.T) {
	svc := "TCP 192.168.56.90:80"
	for _, tt := range []struct {
		name   string
		args   []string
		conns  [][3]uint32
		gone   bool
		code   int
		reqs   []control.OverrideRequest
		out    []string // in this order
		errOut string
		sleeps int
	}{
		{name: "drain", args: []string{"drain", "TCP", "192.168.56.90:80", "192.168.56.200"}, code: 0,
			reqs: []control.OverrideRequest{{Service: svc, Server: "192.168.56.200", State: "drain"}},
			out:  []string{"TCP 192.168.56.90:80 192.168.56.200:80: now drain (1 IPVS writes)"}},
		{name: "wait until 0", args: []string{"drain", "tcp:192.168.56.90:80", "192.168.56.200:80", "--wait"},
			conns: [][3]uint32{{3, 5, 1}, {3, 5, 1}, {1, 2, 0}, {0, 0, 0}}, code: 0, sleeps: 3,
			reqs: []control.OverrideRequest{{Service: "tcp:192.168.56.90:80", Server: "192.168.56.200:80", State: "drain"}},
			out: []string{"now drain", "3 active, 5 inactive connections, 1 persistence templates",
				"1 active, 2 inactive connections, 0 persistence templates", "0 active, 0 inactive connections, 0 persistence templates",
				"drained: no connection left"}},
		{name: "wait times out", args: []string{"drain", "--wait", "--timeout", "3s", svc, "192.168.56.200"},
			conns: [][3]uint32{{1, 0, 0}}, code: 1, sleeps: 3,
			reqs:   []control.OverrideRequest{{Service: svc, Server: "192.168.56.200", State: "drain"}},
			out:    []string{"1 active, 0 inactive connections, 0 persistence templates"},
			errOut: "lbctl: drain --wait: timed out after 3s: 1 active, 0 inactive connections, 0 persistence templates"},
		{name: "remove after the wait", args: []string{"drain", svc, "192.168.56.200", "--remove"},
			conns: [][3]uint32{{0, 1, 0}, {0, 0, 0}}, code: 0, sleeps: 1,
			reqs: []control.OverrideRequest{{Service: svc, Server: "192.168.56.200", State: "drain"},
				{Service: svc, Server: "192.168.56.200", State: "maintenance"}},
			out: []string{"now drain", "drained: no connection left", "now maintenance"}},
		{name: "gone from the table", args: []string{"drain", svc, "192.168.56.200", "--wait"}, gone: true, code: 0,
			conns: [][3]uint32{{0, 0, 0}},
			reqs:  []control.OverrideRequest{{Service: svc, Server: "192.168.56.200", State: "drain"}},
			out:   []string{"not in the kernel's table: no connection left"}},
		{name: "undrain", args: []string{"undrain", svc, "192.168.56.200"}, code: 0,
			reqs: []control.OverrideRequest{{Service: svc, Server: "192.168.56.200", State: "none"}},
			out:  []string{"no override (its checks decide)"}},
		{name: "maintenance", args: []string{"maintenance", svc, "192.168.56.200"}, code: 0,
			reqs: []control.OverrideRequest{{Service: svc, Server: "192.168.56.200", State: "maintenance"}}},
		{name: "maintenance off", args: []string{"maintenance", "--off", svc, "192.168.56.200"}, code: 0,
			reqs: []control.OverrideRequest{{Service: svc, Server: "192.168.56.200", State: "none"}}},
		{name: "usage", args: []string{"drain", "192.168.56.200"}, code: 2, errOut: "usage: lbctl drain SERVICE REALSERVER"},
		{name: "bad flag", args: []string{"undrain", "--wait", svc, "192.168.56.200"}, code: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &drainEnv{conns: tt.conns, gone: tt.gone, now: time.Unix(1000, 0)}
			if f.conns == nil {
				f.conns = [][3]uint32{{0, 0, 0}}
			}
			code, out, errs := runDrain(f, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nout:\n%s\nerr:\n%s", code, tt.code, out, errs)
			}
			if !reflect.DeepEqual(f.reqs, tt.reqs) {
				t.Errorf("requests %+v, want %+v", f.reqs, tt.reqs)
			}
			rest := out
			for _, w := range tt.out {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("no %q (in order) in:\n%s", w, out)
					break
				}
				rest = rest[i+len(w):]
			}
			if !strings.Contains(errs, tt.errOut) {
				t.Errorf("stderr %q, want %q", errs, tt.errOut)
			}
			if f.sleeps != tt.sleeps {
				t.Errorf("%d sleeps, want %d", f.sleeps, tt.sleeps)
			}
		})
	}
}

// lbd's refusal is reported with exit 1 and nothing waited for.
func TestDrainRefused(t *testing.T) {
	f := &drainEnv{err: errors.New("lbd: TCP 192.168.56.90:80 has no real server 192.168.56.9:80: unknown real server"),
		conns: [][3]uint32{{1, 1, 1}}}
	code, _, errs := runDrain(f, "drain", "TCP 192.168.56.90:80", "192.168.56.9", "--wait")
	if code != 1 || !strings.Contains(errs, "unknown real server") || f.reads != 0 {
		t.Errorf("code %d, reads %d, err %q", code, f.reads, errs)
	}
}

// status --health shows the state and the director's drain.
func TestStatusHealthShowsOverrides(t *testing.T) {
	st := control.Status{IPVS: sampleIPVS(), Director: &control.DirectorDrain{Drained: true, Since: time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)}}
	key := st.IPVS.Table.Services[0].Key()
	w0, w1 := uint32(0), uint32(1)
	st.RealServers = []control.RealServer{
		{Service: key, Address: netip.MustParseAddr("192.168.56.200"), Port: 80, Up: true, ConfiguredWeight: 1, DesiredWeight: &w0,
			KernelWeight: &w0, State: "draining", Override: "drain", Reason: "draining (operator)"},
		{Service: key, Address: netip.MustParseAddr("192.168.56.201"), Port: 80, Up: true, ConfiguredWeight: 1, DesiredWeight: &w1,
			KernelWeight: &w1, State: "slow-starting", Reason: "slow start: step 1 of 4"},
	}
	f := &fakeEnv{running: true, status: st}
	code, out, errs := runCmd(f, "status", "-n", "--health")
	if code != 0 {
		t.Fatalf("code %d: %s", code, errs)
	}
	for _, want := range []string{"draining", "draining (operator)", "slow-starting", "slow start: step 1 of 4",
		"director drained since 2026-12-07T15:00:00Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

func TestDrainDirectorVRRPCommand(t *testing.T) {
	for _, tt := range []struct {
		name  string
		args  []string
		state string // VI_1's after the request
		code  int
		want  control.DirectorDrainRequest
		out   string
	}{
		{"drained", []string{"drain-director"}, "BACKUP", 0, control.DirectorDrainRequest{Drain: true}, "director drained: VRRP BACKUP while another router is master"},
		{"no peer took over", []string{"drain-director"}, "MASTER", 1, control.DirectorDrainRequest{Drain: true}, "VI_1: MASTER, priority 1 (configured 200)"},
		{"undrained", []string{"undrain-director"}, "MASTER", 0, control.DirectorDrainRequest{}, "director drain undone"},
		{"--undo", []string{"drain-director", "--undo"}, "MASTER", 0, control.DirectorDrainRequest{}, "director drain undone"},
		{"argument", []string{"drain-director", "now"}, "", 2, control.DirectorDrainRequest{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []control.DirectorDrainRequest
			e := env{drainDirector: func(_ context.Context, _ string, req control.DirectorDrainRequest) (control.DirectorDrain, error) {
				got = append(got, req)
				return control.DirectorDrain{Drained: req.Drain, Changed: true,
					Instances: []control.VRRPInstance{{Name: "VI_1", State: tt.state, Priority: 200, EffectivePriority: 1}}}, nil
			}}
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb, e)
			if code != tt.code || !strings.Contains(out.String(), tt.out) {
				t.Errorf("exit %d (want %d)\nout:\n%s\nerr:\n%s", code, tt.code, out.String(), errb.String())
			}
			if tt.code != 2 && (len(got) != 1 || got[0] != tt.want) {
				t.Errorf("requests %+v", got)
			}
		})
	}
}
