package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/lvsd/lb/discovery"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/realserver"
)

// stopLog records the graceful stop's steps in order.
type stopLog struct {
	steps  []string
	conns  []int // counts conns returns, one per call (the last repeats)
	clock  time.Time
	setErr error
}

func (s *stopLog) SetWeight(w int) error {
	s.steps = append(s.steps, fmt.Sprintf("weight %d", w))
	return s.setErr
}
func (s *stopLog) Deregister() error { s.steps = append(s.steps, "delete"); return nil }
func (s *stopLog) Status() discovery.RegStatus {
	return discovery.RegStatus{Node: "/sgroup/sub0000000001", Registered: true}
}

func (s *stopLog) stop(f discovery.Format, timeout time.Duration) gracefulStop {
	return gracefulStop{format: f, reg: s, timeout: timeout, poll: time.Second, opWait: time.Minute, log: slog.New(slog.DiscardHandler),
		conns: func() (int, error) {
			n := s.conns[0]
			if len(s.conns) > 1 {
				s.conns = s.conns[1:]
			}
			s.steps = append(s.steps, fmt.Sprintf("conns %d", n))
			return n, nil
		},
		restore: func(context.Context) error { s.steps = append(s.steps, "restore"); return nil },
		now:     func() time.Time { return s.clock },
		sleep:   func(_ context.Context, d time.Duration) { s.clock = s.clock.Add(d) },
	}
}

// The order of the stop steps: json sets weight 0, drains, deletes the
// node, then the VIPs go; seed deletes the node first (no weight), then
// drains; the drain ends at 0 connections or at the timeout, whichever
// comes first; a failed weight write still drains.
func TestGracefulStopOrder(t *testing.T) {
	tests := []struct {
		name    string
		format  discovery.Format
		conns   []int
		timeout time.Duration
		setErr  error
		want    []string
		elapsed time.Duration
	}{
		{"json drained", discovery.FormatJSON, []int{3, 1, 0}, 30 * time.Second, nil,
			[]string{"weight 0", "conns 3", "conns 1", "conns 0", "delete", "restore"}, 2 * time.Second},
		{"seed drained", discovery.FormatSeed, []int{2, 0}, 30 * time.Second, nil,
			[]string{"delete", "conns 2", "conns 0", "restore"}, time.Second},
		{"json nothing to drain", discovery.FormatJSON, []int{0}, 30 * time.Second, nil,
			[]string{"weight 0", "conns 0", "delete", "restore"}, 0},
		{"json timeout", discovery.FormatJSON, []int{5}, 2500 * time.Millisecond, nil,
			[]string{"weight 0", "conns 5", "conns 5", "conns 5", "conns 5", "delete", "restore"}, 2500 * time.Millisecond},
		{"seed timeout 0", discovery.FormatSeed, []int{5}, 0, nil,
			[]string{"delete", "conns 5", "restore"}, 0},
		{"json weight write fails", discovery.FormatJSON, []int{0}, time.Second, errors.New("no session"),
			[]string{"weight 0", "conns 0", "delete", "restore"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stopLog{conns: tt.conns, clock: time.Unix(1000, 0), setErr: tt.setErr}
			if err := s.stop(tt.format, tt.timeout).run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.steps, tt.want) {
				t.Errorf("steps %q\nwant  %q", s.steps, tt.want)
			}
			if got := s.clock.Sub(time.Unix(1000, 0)); got != tt.elapsed {
				t.Errorf("drain took %v, want %v", got, tt.elapsed)
			}
		})
	}
}

// The register section maps onto the registrar: the seed format carries
// host:port only; json the weight and the agent's mode as forwarding.
func TestRegistrarFor(t *testing.T) {
	g := config.AgentRegister{ZooKeeper: []string{"127.0.0.1:4180"}, Path: "/sgroup", Prefix: "sub", Format: "json",
		Address: netip.MustParseAddr("10.0.0.11"), Port: 80, Weight: 3}
	rc, err := registrarFor(g, realserver.ModeTUN, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := discovery.MemberData(rc.Format, rc.Member)
	if err != nil || string(d) != `{"address":"10.0.0.11","port":80,"weight":3,"forwarding":"TUN"}` {
		t.Errorf("json data = %s, %v", d, err)
	}
	g.Format = "seed"
	rc, err = registrarFor(g, realserver.ModeDR, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := discovery.MemberData(rc.Format, rc.Member); string(d) != "10.0.0.11:80" || rc.Path != "/sgroup" || rc.Prefix != "sub" {
		t.Errorf("seed data = %s, config %+v", d, rc)
	}
}

// hungRegistrar never answers: ZooKeeper unreachable at stop time.
type hungRegistrar struct{ stopLog }

func (h *hungRegistrar) SetWeight(int) error { select {} }
func (h *hungRegistrar) Deregister() error   { select {} }

// A ZooKeeper that does not answer at stop time bounds each step: the
// drain and the VIPs' removal still happen.
func TestGracefulStopZooKeeperHung(t *testing.T) {
	for _, f := range []discovery.Format{discovery.FormatJSON, discovery.FormatSeed} {
		h := &hungRegistrar{stopLog{conns: []int{0}, clock: time.Unix(1000, 0)}}
		g := h.stop(f, time.Second)
		g.reg, g.opWait = h, 20*time.Millisecond
		done := make(chan error, 1)
		go func() { done <- g.run(context.Background()) }()
		select {
		case err := <-done:
			if err != nil || !slices.Equal(h.steps, []string{"conns 0", "restore"}) {
				t.Errorf("%v: steps %q, %v; want the drain and the restore", f, h.steps, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: the stop hangs on a ZooKeeper that does not answer", f)
		}
	}
}
