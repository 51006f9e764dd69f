package healthcheck

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingChecker is keepalived's PING_CHECK: one ICMP (or ICMPv6) echo
// request; the check passes when the matching echo reply arrives before
// the deadline. It uses an unprivileged ping socket (SOCK_DGRAM,
// IPPROTO_ICMP) where net.ipv4.ping_group_range allows it, else a raw
// socket (needs CAP_NET_RAW). Unlike keepalived it never widens
// ping_group_range.
type pingChecker struct {
	target netip.Addr
	bind   string
}

func newPingChecker(s Spec) *pingChecker {
	c := &pingChecker{target: s.Target.Addr().Unmap()}
	if s.BindTo.IsValid() {
		c.bind = s.BindTo.String()
	} else if c.target.Is4() {
		c.bind = "0.0.0.0"
	} else {
		c.bind = "::"
	}
	return c
}

func (c *pingChecker) Check(ctx context.Context) Result {
	start := time.Now()
	r := c.check(ctx, start)
	r.Duration = time.Since(start)
	return r
}

// listen opens a ping socket, or a raw one if ping sockets are not
// allowed; raw says which.
func (c *pingChecker) listen() (conn *icmp.PacketConn, raw bool, err error) {
	dgram, rawNet := "udp4", "ip4:icmp"
	if !c.target.Is4() {
		dgram, rawNet = "udp6", "ip6:ipv6-icmp"
	}
	conn, err = icmp.ListenPacket(dgram, c.bind)
	if err == nil {
		return conn, false, nil
	}
	if !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EPROTONOSUPPORT) {
		return nil, false, fmt.Errorf("open ping socket: %w", err)
	}
	conn, rerr := icmp.ListenPacket(rawNet, c.bind)
	if rerr != nil {
		return nil, false, fmt.Errorf("open ping socket: %w; raw ICMP socket: %w", err, rerr)
	}
	return conn, true, nil
}

func (c *pingChecker) check(ctx context.Context, start time.Time) Result {
	budget := checkBudget(ctx, start)
	conn, raw, err := c.listen()
	if err != nil {
		return failResult(KindError, "%v", err)
	}
	defer conn.Close()
	defer boundConn(ctx, conn)()
	var idSeq [4]byte
	_, _ = rand.Read(idSeq[:])
	id, seq := int(binary.BigEndian.Uint16(idSeq[:2])), int(binary.BigEndian.Uint16(idSeq[2:]))
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if !c.target.Is4() {
		reqType, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("lbd ping check")}}
	wire, err := msg.Marshal(nil)
	if err != nil {
		return failResult(KindError, "marshal echo request: %v", err)
	}
	var dst net.Addr = &net.IPAddr{IP: c.target.AsSlice(), Zone: c.target.Zone()}
	if !raw {
		dst = &net.UDPAddr{IP: c.target.AsSlice(), Zone: c.target.Zone()}
	}
	if _, err := conn.WriteTo(wire, dst); err != nil {
		return classifyNetErr(err, phaseRequest, budget)
	}
	return c.awaitReply(conn, raw, proto, replyType, id, seq, budget)
}

// awaitReply reads until the echo reply matching seq (and, on a raw
// socket, id and the target's address) or the deadline.
func (c *pingChecker) awaitReply(conn *icmp.PacketConn, raw bool, proto int, want icmp.Type, id, seq int, budget time.Duration) Result {
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return failResult(KindTimeout, "no echo reply within %v", budget)
			}
			return classifyNetErr(err, phaseResponse, budget)
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != want {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok || echo.Seq != seq || raw && (echo.ID != id || !sameAddr(from, c.target)) {
			continue
		}
		if raw {
			return okResult("echo reply (raw ICMP socket)")
		}
		return okResult("echo reply (ping socket)")
	}
}

func sameAddr(a net.Addr, want netip.Addr) bool {
	var ip net.IP
	switch a := a.(type) {
	case *net.IPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	}
	got, ok := netip.AddrFromSlice(ip)
	return ok && got.Unmap() == want.WithZone("")
}
