package table

import (
	"fmt"
	"strconv"
	"strings"
)

// String returns "ipv4" or "ipv6".
func (f Family) String() string {
	switch f {
	case FamilyIPv4:
		return "ipv4"
	case FamilyIPv6:
		return "ipv6"
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (f Family) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Family) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "ipv4", "inet", "2":
		*f = FamilyIPv4
	case "ipv6", "inet6", "10":
		*f = FamilyIPv6
	default:
		v, ok := parseNumbered("family(", string(b), 16)
		if !ok {
			return fmt.Errorf("unknown address family %q", b)
		}
		*f = Family(v)
	}
	return nil
}

// parseNumbered reads what String writes for values without a name, such
// as "family(0)".
func parseNumbered(prefix, s string, bits int) (uint64, bool) {
	n, ok := strings.CutPrefix(strings.ToLower(s), prefix)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSuffix(n, ")"), 10, bits)
	return v, err == nil && strings.HasSuffix(n, ")")
}

// String returns "TCP", "UDP", "SCTP" or "proto(N)".
func (p Protocol) String() string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		return "SCTP"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (p Protocol) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Protocol) UnmarshalText(b []byte) error {
	s := strings.ToUpper(string(b))
	switch s {
	case "TCP":
		*p = ProtoTCP
	case "UDP":
		*p = ProtoUDP
	case "SCTP":
		*p = ProtoSCTP
	default:
		v, ok := parseNumbered("proto(", s, 16)
		if !ok {
			return fmt.Errorf("unknown protocol %q", b)
		}
		*p = Protocol(v)
	}
	return nil
}

var forwardNames = [...]string{"Masq", "Local", "Tunnel", "Route", "Bypass"}

// String returns the name ipvsadm shows: "Masq", "Local", "Tunnel", "Route",
// or "Bypass".
func (f Forward) String() string {
	if int(f) < len(forwardNames) {
		return forwardNames[f]
	}
	return "forward(" + strconv.Itoa(int(f)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (f Forward) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *Forward) UnmarshalText(b []byte) error {
	for i, n := range forwardNames {
		if strings.EqualFold(n, string(b)) {
			*f = Forward(i)
			return nil
		}
	}
	v, ok := parseNumbered("forward(", string(b), 32)
	if !ok {
		return fmt.Errorf("unknown forwarding method %q", b)
	}
	*f = Forward(v)
	return nil
}

var tunnelNames = [...]string{"ipip", "gue", "gre"}

// String returns "ipip", "gue" or "gre".
func (t TunnelType) String() string {
	if int(t) < len(tunnelNames) {
		return tunnelNames[t]
	}
	return "tunnel(" + strconv.Itoa(int(t)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (t TunnelType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *TunnelType) UnmarshalText(b []byte) error {
	for i, n := range tunnelNames {
		if strings.EqualFold(n, string(b)) {
			*t = TunnelType(i)
			return nil
		}
	}
	v, ok := parseNumbered("tunnel(", string(b), 8)
	if !ok {
		return fmt.Errorf("unknown tunnel type %q", b)
	}
	*t = TunnelType(v)
	return nil
}

var tunnelFlagNames = [...]string{"nocsum", "csum", "remcsum"}

// String returns "nocsum", "csum" or "remcsum".
func (f TunnelFlags) String() string {
	if int(f) < len(tunnelFlagNames) {
		return tunnelFlagNames[f]
	}
	return "tunflags(" + strconv.Itoa(int(f)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (f TunnelFlags) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (f *TunnelFlags) UnmarshalText(b []byte) error {
	for i, n := range tunnelFlagNames {
		if strings.EqualFold(n, string(b)) {
			*f = TunnelFlags(i)
			return nil
		}
	}
	v, ok := parseNumbered("tunflags(", string(b), 16)
	if !ok {
		return fmt.Errorf("unknown tunnel flags %q", b)
	}
	*f = TunnelFlags(v)
	return nil
}

// String lists the set flags, e.g. "persistent|ops|sched1".
func (f Flags) String() string {
	var parts []string
	names := []struct {
		f Flags
		n string
	}{
		{FlagPersistent, "persistent"}, {FlagHashed, "hashed"}, {FlagOnePacket, "ops"},
		{FlagSched1, "sched1"}, {FlagSched2, "sched2"}, {FlagSched3, "sched3"},
	}
	rest := f
	for _, n := range names {
		if f&n.f != 0 {
			parts = append(parts, n.n)
			rest &^= n.f
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint32(rest)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}
