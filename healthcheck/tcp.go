package healthcheck

import (
	"context"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// tcpChecker is keepalived's TCP_CHECK: the check passes when a TCP
// connection is established; it is closed at once.
type tcpChecker struct {
	dialer   net.Dialer
	target   string
	sa, bind unix.Sockaddr // for the reactor, as in httpChecker
}

func newTCPChecker(s Spec) *tcpChecker {
	c := &tcpChecker{target: s.Target.String()}
	c.dialer.KeepAlive = -1
	c.sa, c.bind = sockaddrs(s.Target, s.BindTo)
	if s.BindTo.IsValid() {
		c.dialer.LocalAddr = &net.TCPAddr{IP: s.BindTo.AsSlice(), Zone: s.BindTo.Zone()}
	}
	return c
}

func (c *tcpChecker) Check(ctx context.Context) Result {
	start := time.Now()
	budget := checkBudget(ctx, start)
	conn, err := c.dialer.DialContext(ctx, "tcp", c.target)
	if err != nil {
		r := classifyNetErr(err, phaseConnect, budget)
		r.Duration = time.Since(start)
		return r
	}
	_ = conn.Close()
	r := okResult("connected")
	r.Duration = time.Since(start)
	return r
}
