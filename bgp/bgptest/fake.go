// Package bgptest is an in-memory bgp.Speaker for unit tests: it records
// every call, keeps the announced routes and the peers, and can be told to
// fail.
package bgptest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"

	"github.com/lvsd/lb/bgp"
)

// Speaker is the fake. The zero value is ready.
type Speaker struct {
	mu      sync.Mutex
	running bool
	global  bgp.Global
	peers   map[netip.Addr]bgp.Peer
	routes  map[netip.Prefix]bgp.Route
	calls   []string
	// fail: the error planned for the next call of each name (FailNext).
	fail map[string]error
}

var errNotRunning = errors.New("bgptest: speaker not started")

// FailNext makes the next call named op (Start, AddPeer, Announce...) fail with err.
func (s *Speaker) FailNext(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil {
		s.fail = map[string]error{}
	}
	s.fail[op] = err
}

// call records a call and returns the error planned for it, if any.
func (s *Speaker) call(op, arg string) error {
	s.calls = append(s.calls, op+" "+arg)
	if err := s.fail[op]; err != nil {
		delete(s.fail, op)
		return err
	}
	if op != "Start" && !s.running {
		return errNotRunning
	}
	return nil
}

// Start implements bgp.Speaker.
func (s *Speaker) Start(_ context.Context, g bgp.Global) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("Start", fmt.Sprint(g.ASN, " ", g.RouterID)); err != nil {
		return err
	}
	if s.running {
		return errors.New("bgptest: already started")
	}
	s.running, s.global = true, g
	s.peers, s.routes = map[netip.Addr]bgp.Peer{}, map[netip.Prefix]bgp.Route{}
	return nil
}

// Stop implements bgp.Speaker.
func (s *Speaker) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("Stop", ""); err != nil {
		return err
	}
	s.running = false
	s.peers, s.routes = nil, nil
	return nil
}

// AddPeer implements bgp.Speaker.
func (s *Speaker) AddPeer(_ context.Context, p bgp.Peer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("AddPeer", p.Address.String()); err != nil {
		return err
	}
	if _, dup := s.peers[p.Address]; dup {
		return fmt.Errorf("bgptest: peer %s exists", p.Address)
	}
	s.peers[p.Address] = p
	return nil
}

// DeletePeer implements bgp.Speaker.
func (s *Speaker) DeletePeer(_ context.Context, a netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("DeletePeer", a.String()); err != nil {
		return err
	}
	if _, ok := s.peers[a]; !ok {
		return fmt.Errorf("bgptest: no peer %s", a)
	}
	delete(s.peers, a)
	return nil
}

// Announce implements bgp.Speaker.
func (s *Speaker) Announce(_ context.Context, r bgp.Route) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("Announce", r.Prefix.String()); err != nil {
		return err
	}
	s.routes[r.Prefix] = r
	return nil
}

// Withdraw implements bgp.Speaker.
func (s *Speaker) Withdraw(_ context.Context, p netip.Prefix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.call("Withdraw", p.String()); err != nil {
		return err
	}
	delete(s.routes, p)
	return nil
}

// Peers implements bgp.Speaker: every peer is established.
func (s *Speaker) Peers(context.Context) ([]bgp.PeerStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil, errNotRunning
	}
	var out []bgp.PeerStatus
	for _, a := range slices.SortedFunc(maps.Keys(s.peers), netip.Addr.Compare) {
		out = append(out, bgp.PeerStatus{Address: a, ASN: s.peers[a].ASN, State: bgp.Established})
	}
	return out, nil
}

// Routes returns the announced routes, sorted by prefix.
func (s *Speaker) Routes() []bgp.Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bgp.Route
	for _, p := range slices.SortedFunc(maps.Keys(s.routes), func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) }) {
		out = append(out, s.routes[p])
	}
	return out
}

// Running reports whether the speaker is started, and as whom.
func (s *Speaker) Running() (bool, bgp.Global) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running, s.global
}

// PeerConfigs returns the configured peers, sorted by address.
func (s *Speaker) PeerConfigs() []bgp.Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []bgp.Peer
	for _, a := range slices.SortedFunc(maps.Keys(s.peers), netip.Addr.Compare) {
		out = append(out, s.peers[a])
	}
	return out
}

// Calls returns the calls so far ("Announce 192.0.2.1/32") and forgets them.
func (s *Speaker) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}
