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
	"unicode"

	"github.com/lvsd/lb/discovery"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/realserver"
)

// stopLog records the graceful stop's steps in order.
type stopLog struct {
	steps  []string
	conns  []string // snapshots conns returns, one per call (the last repeats): see snap
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

// snap is a fake snapshot of the sockets to the VIP: each letter is one
// connection (its client port), lowercase established, uppercase the
// same connection closed (TIME_WAIT).
func snap(s string) realserver.VIPConns {
	out := realserver.VIPConns{}
	for _, c := range s {
		st := uint8(1)
		if unicode.IsUpper(c) {
			st, c = 6, unicode.ToLower(c)
		}
		out[realserver.ConnKey{Local: netip.MustParseAddrPort("192.168.56.90:80"),
			Remote: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(c))}] = st
	}
	return out
}

func (s *stopLog) stop(f discovery.Format, timeout, quiet time.Duration) gracefulStop {
	return gracefulStop{format: f, reg: s, timeout: timeout, quiet: quiet, poll: time.Second, opWait: time.Minute,
		log: slog.New(slog.DiscardHandler),
		conns: func() (realserver.VIPConns, error) {
			c := s.conns[0]
			if len(s.conns) > 1 {
				s.conns = s.conns[1:]
			}
			s.steps = append(s.steps, "conns "+c)
			return snap(c), nil
		},
		restore: func(context.Context) error { s.steps = append(s.steps, "restore"); return nil },
		now:     func() time.Time { return s.clock },
		sleep:   func(_ context.Context, d time.Duration) { s.clock = s.clock.Add(d) },
	}
}

// The order of the stop steps: json sets weight 0, drains, deletes the
// node, then the VIPs go; seed deletes the node first (no weight), then
// drains; a failed weight write still drains. The drain ends once no
// connection is left and none has arrived for the quiet period (counted
// from the drain's start, reset by each new connection), or at the
// timeout, whichever comes first. Polls are 1 s apart; the clock is fake.
func TestGracefulStopOrder(t *testing.T) {
	const q = 2 * time.Second
	tests := []struct {
		name           string
		format         discovery.Format
		conns          []string
		timeout, quiet time.Duration
		setErr         error
		want           []string
		elapsed        time.Duration
	}{
		{"json drained no quiet", discovery.FormatJSON, []string{"abc", "c", ""}, 30 * time.Second, 0, nil,
			[]string{"weight 0", "conns abc", "conns c", "conns ", "delete", "restore"}, 2 * time.Second},
		{"seed drained no quiet", discovery.FormatSeed, []string{"ab", ""}, 30 * time.Second, 0, nil,
			[]string{"delete", "conns ab", "conns ", "restore"}, time.Second},
		{"json nothing to drain: the quiet period", discovery.FormatJSON, []string{""}, 30 * time.Second, q, nil,
			[]string{"weight 0", "conns ", "conns ", "conns ", "delete", "restore"}, q},
		{"json drained, quiet since the start", discovery.FormatJSON, []string{"ab", "b", "B"}, 30 * time.Second, q, nil,
			[]string{"weight 0", "conns ab", "conns b", "conns B", "delete", "restore"}, q},
		{"a new connection resets the quiet", discovery.FormatJSON, []string{"", "", "C", "C"}, 30 * time.Second, q, nil,
			[]string{"weight 0", "conns ", "conns ", "conns C", "conns C", "conns C", "delete", "restore"}, 4 * time.Second},
		{"new connections keep coming: the timeout", discovery.FormatSeed, []string{"", "A", "AB", "ABC", "ABCD", "ABCDE"},
			4500 * time.Millisecond, q, nil,
			[]string{"delete", "conns ", "conns A", "conns AB", "conns ABC", "conns ABCD", "conns ABCDE", "restore"},
			4500 * time.Millisecond},
		{"a closing connection opening again is new", discovery.FormatJSON, []string{"A", "A", "a", "A"}, 30 * time.Second, q, nil,
			[]string{"weight 0", "conns A", "conns A", "conns a", "conns A", "conns A", "delete", "restore"},
			4 * time.Second},
		{"json timeout", discovery.FormatJSON, []string{"abcde"}, 2500 * time.Millisecond, q, nil,
			[]string{"weight 0", "conns abcde", "conns abcde", "conns abcde", "conns abcde", "delete", "restore"},
			2500 * time.Millisecond},
		{"seed timeout 0", discovery.FormatSeed, []string{"abcde"}, 0, q, nil,
			[]string{"delete", "conns abcde", "restore"}, 0},
		{"timeout 0 wins over quiet", discovery.FormatSeed, []string{""}, 0, q, nil,
			[]string{"delete", "conns ", "restore"}, 0},
		{"json weight write fails", discovery.FormatJSON, []string{""}, time.Second, 0, errors.New("no session"),
			[]string{"weight 0", "conns ", "delete", "restore"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stopLog{conns: tt.conns, clock: time.Unix(1000, 0), setErr: tt.setErr}
			if err := s.stop(tt.format, tt.timeout, tt.quiet).run(context.Background()); err != nil {
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
		h := &hungRegistrar{stopLog{conns: []string{""}, clock: time.Unix(1000, 0)}}
		g := h.stop(f, time.Second, 0)
		g.reg, g.opWait = h, 20*time.Millisecond
		done := make(chan error, 1)
		go func() { done <- g.run(context.Background()) }()
		select {
		case err := <-done:
			if err != nil || !slices.Equal(h.steps, []string{"conns ", "restore"}) {
				t.Errorf("%v: steps %q, %v; want the drain and the restore", f, h.steps, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: the stop hangs on a ZooKeeper that does not answer", f)
		}
	}
}
