//go:build netns

package bfd_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lb/bfd"
	"github.com/lvsd/lb/internal/netnslab"
	"golang.org/x/net/ipv4"
)

// endpoint is a runner over real UDP sockets in a namespace.
type endpoint struct {
	r  *bfd.Runner
	ch chan bfd.Change
}

func startEndpoint(t *testing.T, ns *netnslab.Namespace, local, peer netip.Addr, tm bfd.Timing) endpoint {
	t.Helper()
	var conn *bfd.UDPConn
	if err := ns.Do(func() error {
		var err error
		conn, err = bfd.ListenUDP()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r := bfd.NewRunner(conn, bfd.RunnerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	ep := endpoint{r: r, ch: make(chan bfd.Change, 64)}
	r.Watch(local, peer, tm, func(c bfd.Change) { ep.ch <- c })
	return ep
}

func (ep endpoint) wait(t *testing.T, to bfd.State, within time.Duration) bfd.Change {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case c := <-ep.ch:
			if c.To == to {
				return c
			}
		case <-deadline:
			t.Fatalf("no change to %s within %v; sessions %+v", to, within, ep.r.Sessions())
		}
	}
}

// TestNetnsBFDTwoEndpoints: two runners in two namespaces over real UDP
// (port 3784, TTL 255) bring their session Up at 100ms x 3; when d1's
// link is cut d2 declares the session Down by detection expiry within
// the detection time (plus slack for a busy host), and Up again once the
// link is back. A packet sent with TTL 254 is dropped and counted.
func TestNetnsBFDTwoEndpoints(t *testing.T) {
	lab, _, nss := netnslab.LANT(t, "bfd", 2)
	a, b := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")
	tm := bfd.Timing{Interval: 100 * time.Millisecond, DetectMult: 3}
	e1 := startEndpoint(t, nss[0], a, b, tm)
	e2 := startEndpoint(t, nss[1], b, a, tm)
	e1.wait(t, bfd.StateUp, 15*time.Second)
	e2.wait(t, bfd.StateUp, 15*time.Second)
	time.Sleep(time.Second) // the Poll Sequences end: 100ms in force
	s := e2.r.Sessions()
	if len(s) != 1 || s[0].DetectionTime != 300*time.Millisecond || s[0].RemoteDiscr == 0 {
		t.Fatalf("d2's sessions %+v, want one Up at 300ms detection", s)
	}

	sendTTL(t, nss[0], b, 254)
	deadline := time.Now().Add(5 * time.Second)
	for e2.r.Drops()[bfd.DropTTL] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the TTL 254 packet was not dropped as such: drops %v", e2.r.Drops())
		}
		time.Sleep(20 * time.Millisecond)
	}

	var link *netnslab.Link
	for _, l := range lab.Links() {
		if l.NS == nss[0] {
			link = l
		}
	}
	cut := time.Now()
	if err := link.Cut(); err != nil {
		t.Fatal(err)
	}
	c := e2.wait(t, bfd.StateDown, 10*time.Second)
	took := c.At.Sub(cut)
	t.Logf("d2 declared d1 down %v after the cut (detection time 300ms)", took)
	if c.Diag != bfd.DiagDetectExpired || took > 300*time.Millisecond+700*time.Millisecond {
		t.Fatalf("down after %v with diag %s, want detection expiry within 300ms (+700ms slack)", took, c.Diag)
	}
	if err := link.Restore(); err != nil {
		t.Fatal(err)
	}
	e2.wait(t, bfd.StateUp, 15*time.Second)
}

// sendTTL sends a valid-looking Down packet from ns to dst:3784 with ttl.
func sendTTL(t *testing.T, ns *netnslab.Namespace, dst netip.Addr, ttl int) {
	t.Helper()
	c, err := ns.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := ipv4.NewPacketConn(c).SetTTL(ttl); err != nil {
		t.Fatal(err)
	}
	p := bfd.Packet{State: bfd.StateDown, DetectMult: 3, MyDiscr: 77, DesiredMinTx: time.Second, RequiredMinRx: time.Second}
	if _, err := c.WriteTo(p.Append(nil), &net.UDPAddr{IP: dst.AsSlice(), Port: bfd.Port}); err != nil {
		t.Fatal(err)
	}
}
