package healthcheck

import (
	"errors"
	"fmt"
	"strings"
)

// maxUDPReply is keepalived's default max_reply_length.
const maxUDPReply = 255

// normalizedUDPSMTP fills the defaults of UDP and SMTP checks and clears
// their fields from the specs of other types.
func normalizedUDPSMTP(n Spec) Spec {
	if n.Type != TypeUDP {
		n.Payload, n.RequireReply, n.Reply, n.ReplyMask, n.MinReply, n.MaxReply = nil, false, nil, nil, 0, 0
	} else if !n.RequireReply {
		n.Reply, n.ReplyMask, n.MinReply, n.MaxReply = nil, nil, 0, 0
	} else if n.MaxReply == 0 {
		n.MaxReply = maxUDPReply
	}
	if n.Type != TypeSMTP {
		n.HeloName = ""
	} else if n.HeloName == "" {
		n.HeloName = DefaultHeloName
	}
	return n
}

func validateUDPPingSMTP(n Spec) error {
	if !n.Target.IsValid() {
		return fmt.Errorf("%s check: target %v needs an address", n.Type, n.Target)
	}
	if n.Type != TypePing && n.Target.Port() == 0 {
		return fmt.Errorf("%s check: target %v needs an address and a port", n.Type, n.Target)
	}
	switch n.Type {
	case TypeUDP:
		if len(n.Payload) > 65507 {
			return fmt.Errorf("udp check: payload of %d bytes is too long for a datagram", len(n.Payload))
		}
		if n.MinReply < 0 || n.MaxReply < 0 || n.MaxReply > 65535 || n.MinReply > n.MaxReply {
			return fmt.Errorf("udp check: reply length %d-%d must be within 0-65535, min <= max", n.MinReply, n.MaxReply)
		}
		if n.ReplyMask != nil && len(n.ReplyMask) != len(n.Reply) {
			return errors.New("udp check: reply mask and reply differ in length")
		}
	case TypeSMTP:
		if n.HeloName == "" || strings.ContainsAny(n.HeloName, " \t\r\n") {
			return fmt.Errorf("smtp check: helo name %q must be one word", n.HeloName)
		}
	}
	return nil
}

// ParseHex reads keepalived's free-form hex strings (UDP_CHECK payload and
// require_reply): whitespace separates groups, each group is read two
// digits to a byte from the left, a last odd digit being a byte of its
// own ("Ab12f 3" is AB 12 0F 03). With wildcards, an X or x digit matches
// anything: it reads as 0 and sets the corresponding mask bits; mask is
// nil when no digit is a wildcard.
func ParseHex(s string, wildcards bool) (data, mask []byte, err error) {
	anyWild := false
	for _, group := range strings.Fields(s) {
		for i := 0; i < len(group); i += 2 {
			pair := group[i:min(i+2, len(group))]
			var b, m byte
			for _, c := range []byte(pair) {
				v, w, ok := hexDigit(c, wildcards)
				if !ok {
					return nil, nil, fmt.Errorf("parse hex %q: %q is not a hex digit", s, c)
				}
				b, m = b<<4|v, m<<4|w
			}
			anyWild = anyWild || m != 0
			data, mask = append(data, b), append(mask, m)
		}
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("parse hex %q: no digits", s)
	}
	if !anyWild {
		mask = nil
	}
	return data, mask, nil
}

func hexDigit(c byte, wildcards bool) (v, wild byte, ok bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', 0, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, 0, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, 0, true
	case wildcards && (c == 'x' || c == 'X'):
		return 0, 0xf, true
	}
	return 0, 0, false
}

// udpReplyOK says whether reply meets the spec's reply requirements.
func udpReplyOK(s *Spec, reply []byte) (bool, string) {
	if len(reply) < s.MinReply || len(reply) > s.MaxReply {
		return false, fmt.Sprintf("reply of %d bytes, want %d-%d", len(reply), s.MinReply, s.MaxReply)
	}
	for i := range min(len(reply), len(s.Reply)) {
		var m byte
		if s.ReplyMask != nil {
			m = s.ReplyMask[i]
		}
		if (reply[i]^s.Reply[i])&^m != 0 {
			return false, fmt.Sprintf("reply byte %d is %#02x, want %#02x", i, reply[i], s.Reply[i])
		}
	}
	return true, ""
}
