package config

import (
	"fmt"
	"net/netip"

	"github.com/lvsd/lb/healthcheck"
)

// EffectiveCheck resolves the timing of check c of real server rs in this
// virtual server: healthcheck.DefaultTiming, then the virtual server's, the
// real server's and the check's keys, the most specific winning. c may be
// nil (the real server's own level). When rise or fall is unset or 0 it
// takes keepalived's behaviour: up after one pass, down after Retry+1
// failed attempts in a row.
func (vs *VirtualServer) EffectiveCheck(rs *RealServer, c *Check) healthcheck.Timing {
	t := healthcheck.DefaultTiming()
	levels := []*Timing{&vs.Timing}
	if rs != nil {
		levels = append(levels, &rs.Timing)
	}
	if c != nil {
		levels = append(levels, &c.Timing)
	}
	for _, l := range levels {
		setIf(&t.DelayLoop, l.DelayLoop)
		setIf(&t.ConnectTimeout, l.ConnectTimeout)
		setIf(&t.Retry, l.Retry)
		setIf(&t.DelayBeforeRetry, l.DelayBeforeRetry)
		setIf(&t.Warmup, l.Warmup)
		setIf(&t.Alpha, l.Alpha)
		setIf(&t.Rise, l.Rise)
		setIf(&t.Fall, l.Fall)
	}
	if t.Rise == 0 {
		t.Rise = 1
	}
	if t.Fall == 0 {
		t.Fall = t.Retry + 1
	}
	return t
}

func setIf[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// Key is the service's identity, the form ipvsadm prints:
// "TCP 192.168.56.90:80", "UDP [2001:db8::1]:53", "FWM 5 ipv4".
func (vs *VirtualServer) Key() string {
	if vs.FWMark > 0 {
		return fmt.Sprintf("FWM %d %s", vs.FWMark, vs.Family)
	}
	return fmt.Sprintf("%s %s", vs.Protocol, netip.AddrPortFrom(vs.Address, vs.Port))
}

// Persistent reports whether the service has persistence.
func (vs *VirtualServer) Persistent() bool { return vs.PersistenceTimeout > 0 }

// AddrPort is the real server's address and (effective) port.
func (rs *RealServer) AddrPort() netip.AddrPort { return netip.AddrPortFrom(rs.Address, rs.Port) }

// EffectiveTarget is where check c connects: connect_ip and connect_port,
// defaulting to the real server's address and port.
func (rs *RealServer) EffectiveTarget(c *Check) netip.AddrPort {
	a, p := rs.Address, rs.Port
	if c.ConnectIP.IsValid() {
		a = c.ConnectIP
	}
	if c.ConnectPort != 0 {
		p = c.ConnectPort
	}
	return netip.AddrPortFrom(a, p)
}
