package healthcheck

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// dnsChecker is keepalived's DNS_CHECK: one UDP query (recursion desired)
// of the configured type and name; any answer with rcode NOERROR passes.
type dnsChecker struct {
	client dns.Client
	target string
	qtype  uint16
	name   string
}

func newDNSChecker(s Spec) (*dnsChecker, error) {
	qtype, ok := dns.StringToType[s.DNSType]
	if !ok {
		return nil, fmt.Errorf("new dns checker: unknown query type %q", s.DNSType)
	}
	c := &dnsChecker{target: s.Target.String(), qtype: qtype, name: dns.Fqdn(s.DNSName)}
	c.client.Net = "udp"
	if s.BindTo.IsValid() {
		c.client.Dialer = &net.Dialer{LocalAddr: &net.UDPAddr{IP: s.BindTo.AsSlice(), Zone: s.BindTo.Zone()}}
	}
	return c, nil
}

func (c *dnsChecker) Check(ctx context.Context) Result {
	start := time.Now()
	budget := time.Duration(0)
	if dl, ok := ctx.Deadline(); ok {
		budget = dl.Sub(start).Round(time.Millisecond)
		// miekg/dns applies its own 2s defaults unless told otherwise.
		c2 := c.client
		c2.Timeout = budget
		r := c.exchange(ctx, &c2, budget)
		r.Duration = time.Since(start)
		return r
	}
	r := c.exchange(ctx, &c.client, budget)
	r.Duration = time.Since(start)
	return r
}

func (c *dnsChecker) exchange(ctx context.Context, cl *dns.Client, budget time.Duration) Result {
	q := new(dns.Msg)
	q.SetQuestion(c.name, c.qtype)
	q.RecursionDesired = true
	in, _, err := cl.ExchangeContext(ctx, q, c.target)
	if err != nil {
		r := classifyNetErr(err, phaseResponse, budget)
		r.Reason = "DNS " + dns.TypeToString[c.qtype] + " " + c.name + ": " + r.Reason
		return r
	}
	if in.Rcode != dns.RcodeSuccess {
		return failResult(KindDNS, "DNS %s %s: rcode %s", dns.TypeToString[c.qtype], c.name, dns.RcodeToString[in.Rcode])
	}
	return okResult(fmt.Sprintf("DNS %s %s: NOERROR, %d answers", dns.TypeToString[c.qtype], c.name, len(in.Answer)))
}
