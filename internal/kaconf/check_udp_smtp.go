package kaconf

import (
	"slices"
	"strings"

	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/config"
)

// udpSMTPKeyword reads UDP_CHECK's payload, require_reply and reply
// lengths, and SMTP_CHECK's helo_name; false for any other keyword.
func (m *mapper) udpSMTPKeyword(cb *checkBuild, s *Node) bool {
	c := &cb.c
	switch s.Key {
	case "payload":
		if m.leaf(s, 1, -1) {
			hex := strings.Join(s.Args, " ")
			if _, _, err := healthcheck.ParseHex(hex, false); err != nil {
				m.errorf(s.Pos, "payload: %v", err)
			} else {
				c.Payload = hex
			}
		}
	case "require_reply":
		if m.leaf(s, 0, -1) {
			c.RequireReply = true
			if hex := strings.Join(s.Args, " "); hex != "" {
				if _, _, err := healthcheck.ParseHex(hex, true); err != nil {
					m.errorf(s.Pos, "require_reply: %v", err)
				} else {
					c.Reply = hex
				}
			}
		}
	case "min_reply_length", "max_reply_length":
		if m.leaf(s, 1, 1) {
			if v, ok := value(m, s, 0, uintIn(0, 65535)); ok {
				if s.Key == "min_reply_length" {
					c.MinReplyLength, cb.replyLen = &v, s
				} else if v == 0 {
					m.unmapped(s, "max_reply_length 0 (only empty replies pass) is not supported by lbd")
				} else {
					c.MaxReplyLength, cb.replyLen = &v, s
				}
			}
		}
	case "helo_name":
		if m.leaf(s, 1, 1) {
			if strings.ContainsAny(s.Args[0], " \t") {
				m.errorf(s.Pos, "helo_name: %q is not one word", s.Args[0])
			} else {
				c.HeloName = s.Args[0]
			}
		}
	default:
		return false
	}
	return true
}

// completeUDP reconciles a UDP_CHECK's reply lengths with require_reply.
// keepalived checks the lengths only against a reply it requires with
// data (require_reply HEX); lbd checks them whenever it requires a reply.
func (m *mapper) completeUDP(cb *checkBuild) {
	c := &cb.c
	if cb.replyLen == nil {
		return
	}
	switch {
	case !c.RequireReply:
		m.notef(cb.replyLen.Pos, "%s: without require_reply keepalived ignores the reply lengths, and so does lbd", cb.replyLen.Key)
		c.MinReplyLength, c.MaxReplyLength = nil, nil
	case c.Reply == "":
		m.notef(cb.replyLen.Pos, "lbd checks the reply length of any reply it requires; keepalived only with require_reply HEX")
	}
}

// hostKeywords are what an SMTP_CHECK host block maps: its connection,
// and the timing keywords keepalived applies to the whole SMTP_CHECK.
var hostKeywords = append(slices.Clone(checkerConnection), checkerCommon...)

// smtpHosts expands an SMTP_CHECK's deprecated host blocks as keepalived
// does: each block is one more SMTP check of its own connect_ip,
// connect_port, bindto and connect_timeout (not the checker's), with the
// checker's other settings. When the checker itself sets no connection
// keyword, the first block replaces the checker's own connection. Timing
// keywords in a block apply to the whole checker, as in keepalived.
func (m *mapper) smtpHosts(cb *checkBuild, hosts []*Node) []*checkBuild {
	var builds []*checkBuild
	for _, h := range hosts {
		if !m.block(h, 0, 0) {
			continue
		}
		hb := &checkBuild{node: h, c: config.Check{Type: config.CheckSMTP}}
		for _, s := range h.Block {
			switch {
			case !slices.Contains(hostKeywords, s.Key):
				m.other(s, "host", checkerUnsupported, hostKeywords)
			case s.Key == "connect_timeout":
				m.timing(&hb.c.Timing, s)
			case m.connection(hb, s):
			default:
				m.timing(&cb.c.Timing, s)
			}
		}
		builds = append(builds, hb)
	}
	if len(builds) == 0 {
		return []*checkBuild{cb}
	}
	m.notef(hosts[0].Pos, "SMTP_CHECK host blocks (deprecated in keepalived) become %d smtp checks", len(builds)+btoi(cb.connSet))
	for _, hb := range builds {
		conn := hb.c
		hb.c = cb.c
		hb.c.ConnectIP, hb.c.ConnectPort, hb.c.BindTo = conn.ConnectIP, conn.ConnectPort, conn.BindTo
		hb.c.ConnectTimeout = conn.ConnectTimeout
	}
	if cb.connSet {
		return append([]*checkBuild{cb}, builds...)
	}
	return builds
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
