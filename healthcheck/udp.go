package healthcheck

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// udpChecker is keepalived's UDP_CHECK: one datagram to the target on a
// connected socket, then a wait for a reply until the deadline. An error
// reported by the kernel (ICMP port, host or network unreachable) fails;
// silence passes unless a reply is required; a reply passes if it meets
// the spec's length and content requirements (only checked when a reply
// is required).
type udpChecker struct {
	spec   Spec
	dialer net.Dialer
	target string
}

func newUDPChecker(s Spec) *udpChecker {
	c := &udpChecker{spec: s, target: s.Target.String()}
	if s.BindTo.IsValid() {
		c.dialer.LocalAddr = &net.UDPAddr{IP: s.BindTo.AsSlice(), Zone: s.BindTo.Zone()}
	}
	return c
}

func (c *udpChecker) Check(ctx context.Context) Result {
	start := time.Now()
	r := c.check(ctx, start)
	r.Duration = time.Since(start)
	return r
}

func (c *udpChecker) check(ctx context.Context, start time.Time) Result {
	budget := checkBudget(ctx, start)
	conn, err := c.dialer.DialContext(ctx, "udp", c.target)
	if err != nil {
		return udpErr(err, phaseConnect, budget)
	}
	defer conn.Close()
	defer boundConn(ctx, conn)()
	payload := c.spec.Payload
	if len(payload) == 0 {
		payload = make([]byte, 32)
		_, _ = rand.Read(payload)
	}
	if _, err := conn.Write(payload); err != nil {
		return udpErr(err, phaseRequest, budget)
	}
	buf := make([]byte, 65536)
	n, err := conn.Read(buf)
	switch {
	case err == nil:
	case isTimeout(err) && ctx.Err() != context.Canceled && !c.spec.RequireReply:
		return okResult(fmt.Sprintf("no reply nor error within %v", budget))
	case isTimeout(err) && c.spec.RequireReply:
		return failResult(KindTimeout, "no reply within %v", budget)
	default:
		return udpErr(err, phaseResponse, budget)
	}
	if c.spec.RequireReply {
		if ok, why := udpReplyOK(&c.spec, buf[:n]); !ok {
			return failResult(KindError, "UDP %s", why)
		}
	}
	return okResult(fmt.Sprintf("UDP reply of %d bytes", n))
}

// udpErr classifies a UDP socket error; a refusal is an ICMP port
// unreachable.
func udpErr(err error, ph phase, budget time.Duration) Result {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return failResult(KindRefused, "ICMP port unreachable")
	}
	return classifyNetErr(err, ph, budget)
}
