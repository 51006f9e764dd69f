package config

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsd/lb/director/table"

	"gopkg.in/yaml.v3"
)

// Forwarding is an IPVS packet-forwarding method (keepalived lb_kind,
// ipvsadm -g/-m/-i).
type Forwarding string

// Forwarding methods.
const (
	DR  Forwarding = "DR"  // direct routing (ipvsadm -g, "Route")
	NAT Forwarding = "NAT" // masquerading (ipvsadm -m, "Masq")
	TUN Forwarding = "TUN" // IP-in-IP tunnelling (ipvsadm -i, "Tunnel")
)

func (f *Forwarding) decodeYAML(n *yaml.Node) error {
	s, err := text(n, "a forwarding method")
	if err != nil {
		return err
	}
	switch strings.ToLower(s) {
	case "dr", "route", "gate", "g", "direct":
		*f = DR
	case "nat", "masq", "masquerade", "m":
		*f = NAT
	case "tun", "tunnel", "ipip", "i":
		*f = TUN
	default:
		return fmt.Errorf("unknown forwarding method %q (want DR, NAT or TUN)", s)
	}
	return nil
}

// Protocol is a virtual service's transport protocol.
type Protocol string

// Protocols.
const (
	TCP  Protocol = "TCP"
	UDP  Protocol = "UDP"
	SCTP Protocol = "SCTP"
)

func (p *Protocol) decodeYAML(n *yaml.Node) error {
	s, err := oneOf(n, "protocol", "TCP", "UDP", "SCTP")
	*p = Protocol(s)
	return err
}

// Family is an address family.
type Family string

// Address families.
const (
	IPv4 Family = "ipv4"
	IPv6 Family = "ipv6"
)

func (f *Family) decodeYAML(n *yaml.Node) error {
	s, err := oneOf(n, "family", "ipv4", "ipv6")
	*f = Family(s)
	return err
}

// Bits is the length of the family's addresses: 32 or 128.
func (f Family) Bits() int {
	if f == IPv6 {
		return 128
	}
	return 32
}

// FamilyOf returns the family of a (addresses from the config are never
// IPv4-mapped IPv6: those are stored as IPv4).
func FamilyOf(a netip.Addr) Family {
	if a.Is4() || a.Is4In6() {
		return IPv4
	}
	return IPv6
}

// Scheduler is an IPVS scheduler name (keepalived lb_algo, ipvsadm -s).
type Scheduler string

func (s *Scheduler) decodeYAML(n *yaml.Node) error {
	return decodeOneOf(s, n, "scheduler", table.Schedulers()...)
}

// SchedulerFlag is a scheduler option (ipvsadm -b): sh-fallback, sh-port,
// mh-fallback, mh-port, or the raw flag-1, flag-2, flag-3.
type SchedulerFlag string

func (f *SchedulerFlag) decodeYAML(n *yaml.Node) error {
	return decodeOneOf(f, n, "scheduler flag", "sh-fallback", "sh-port", "mh-fallback", "mh-port", "flag-1", "flag-2", "flag-3")
}

// LogFormat is the daemons' log encoding: "text" or "json".
type LogFormat string

func (f *LogFormat) decodeYAML(n *yaml.Node) error {
	return decodeOneOf(f, n, "log format", "text", "json")
}

// LogLevel is the minimum level logged: debug, info, warn or error.
type LogLevel string

func (l *LogLevel) decodeYAML(n *yaml.Node) error {
	return decodeOneOf(l, n, "log level", "debug", "info", "warn", "error")
}

// CheckType is the kind of a health check.
type CheckType string

// Health check kinds (keepalived HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK,
// DNS_CHECK).
const (
	CheckHTTP   CheckType = "http"
	CheckHTTPS  CheckType = "https"
	CheckTCP    CheckType = "tcp"
	CheckScript CheckType = "script"
	CheckDNS    CheckType = "dns"
	CheckUDP    CheckType = "udp"  // keepalived UDP_CHECK
	CheckPing   CheckType = "ping" // keepalived PING_CHECK
	CheckSMTP   CheckType = "smtp" // keepalived SMTP_CHECK
)

func (c *CheckType) decodeYAML(n *yaml.Node) error {
	return decodeOneOf(c, n, "check type", "http", "https", "tcp", "script", "dns", "udp", "ping", "smtp")
}

// SyncRole says what drives the IPVS sync daemon: "auto" (the state of a
// VRRP instance), a fixed "master" or "backup", or "both" (a master and a
// backup daemon at once: each of N active directors behind ECMP sends its
// connections and receives the others').
type SyncRole string

// Sync daemon roles.
const (
	SyncAuto   SyncRole = "auto"
	SyncMaster SyncRole = "master"
	SyncBackup SyncRole = "backup"
	SyncBoth   SyncRole = "both"
)

func (r *SyncRole) decodeYAML(n *yaml.Node) error {
	return decodeOneOf(r, n, "sync daemon role", "auto", "master", "backup", "both")
}

// TunnelType is the encapsulation of a TUN real server.
type TunnelType string

// Tunnel encapsulations (ipvsadm --tun-type).
const (
	TunnelIPIP TunnelType = "ipip"
	TunnelGUE  TunnelType = "gue"
	TunnelGRE  TunnelType = "gre"
)

func (t *TunnelType) decodeYAML(n *yaml.Node) error {
	return decodeOneOf(t, n, "tunnel type", "ipip", "gue", "gre")
}

// TunnelChecksum is the checksum option of a GUE/GRE tunnel.
type TunnelChecksum string

// Tunnel checksum options (ipvsadm --tun-nocsum/--tun-csum/--tun-remcsum).
const (
	ChecksumNone    TunnelChecksum = "none"
	ChecksumCsum    TunnelChecksum = "csum"
	ChecksumRemCsum TunnelChecksum = "remcsum"
)

func (t *TunnelChecksum) decodeYAML(n *yaml.Node) error {
	return decodeOneOf(t, n, "tunnel checksum", "none", "csum", "remcsum")
}

// DNSType is the record type a DNS check queries.
type DNSType string

func (t *DNSType) decodeYAML(n *yaml.Node) error {
	return decodeOneOf(t, n, "DNS query type", "A", "AAAA", "NS", "MX", "TXT", "SOA", "CNAME", "PTR", "SRV")
}

// AgentMode is how lbrs receives traffic: "dr" (VIPs on lo) or "tun" (VIPs
// on the tunnel device).
type AgentMode string

// Agent modes.
const (
	ModeDR  AgentMode = "dr"
	ModeTUN AgentMode = "tun"
)

func (m *AgentMode) decodeYAML(n *yaml.Node) error {
	return decodeOneOf(m, n, "mode", "dr", "tun")
}

// Argv is a command run without a shell: program then arguments. YAML: a
// list of strings, or one string split at white space (no quoting, no shell
// syntax).
type Argv []string

func (a *Argv) decodeYAML(n *yaml.Node) error {
	var args []string
	switch n.Kind {
	case yaml.SequenceNode:
		for i, item := range n.Content {
			for item.Kind == yaml.AliasNode {
				item = item.Alias
			}
			if item.Kind != yaml.ScalarNode || isNull(item) {
				return fmt.Errorf("command argument %d: expected a string, got %s", i, describe(item))
			}
			args = append(args, item.Value)
		}
	case yaml.ScalarNode:
		if strings.ContainsAny(n.Value, "|&;<>()$`\\\"'*?") {
			return fmt.Errorf("command %q uses shell syntax; commands run without a shell: give a list of arguments", n.Value)
		}
		args = strings.Fields(n.Value)
	default:
		return fmt.Errorf("expected a command (a list of strings), got %s", describe(n))
	}
	if len(args) == 0 {
		return fmt.Errorf("empty command")
	}
	if args[0] == "" {
		return fmt.Errorf("empty program name")
	}
	*a = args
	return nil
}

// Netmask is a persistence netmask as a prefix length. YAML: a dotted IPv4
// mask ("255.255.255.0"), a length (24) or "/24".
type Netmask int

func (m *Netmask) decodeYAML(n *yaml.Node) error {
	s, err := text(n, "a netmask")
	if err != nil {
		return err
	}
	t := strings.TrimPrefix(s, "/")
	if strings.Contains(t, ".") {
		a, err := netip.ParseAddr(t)
		if err != nil || !a.Is4() {
			return fmt.Errorf("invalid netmask %q", s)
		}
		b := a.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		ones := bits.LeadingZeros32(^v)
		if v<<ones != 0 {
			return fmt.Errorf("invalid netmask %q: not contiguous", s)
		}
		*m = Netmask(ones)
		return nil
	}
	l, err := strconv.Atoi(t)
	if err != nil || l < 0 || l > 128 {
		return fmt.Errorf("invalid netmask %q (want a dotted mask or a prefix length)", s)
	}
	*m = Netmask(l)
	return nil
}

// StatusRange is an inclusive range of HTTP status codes. YAML: 200 or
// "200-299".
type StatusRange struct {
	Lo, Hi int
}

// Contains reports whether code is in the range.
func (s StatusRange) Contains(code int) bool { return code >= s.Lo && code <= s.Hi }

func (s *StatusRange) decodeYAML(n *yaml.Node) error {
	t, err := text(n, "a status code or range")
	if err != nil {
		return err
	}
	lo, hi, isRange := strings.Cut(t, "-")
	l, err1 := strconv.Atoi(strings.TrimSpace(lo))
	h, err2 := l, error(nil)
	if isRange {
		h, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err1 != nil || err2 != nil {
		return fmt.Errorf("invalid status code %q (want a code such as 200 or a range such as 200-299)", t)
	}
	if l < 100 || h > 599 || l > h {
		return fmt.Errorf("invalid status code %q (codes are 100-599, low first)", t)
	}
	*s = StatusRange{Lo: l, Hi: h}
	return nil
}

// text returns the text of scalar n, or an error naming what was expected.
func text(n *yaml.Node, want string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("expected %s, got %s", want, describe(n))
	}
	return n.Value, nil
}

// oneOf matches scalar n case-insensitively against the canonical values.
// decodeOneOf decodes one of values into a string type (oneOf's
// matching, the value as listed); *dst is set even on error, to "".
func decodeOneOf[T ~string](dst *T, n *yaml.Node, what string, values ...string) error {
	v, err := oneOf(n, what, values...)
	*dst = T(v)
	return err
}

// oneOf decodes a string matching one of values (case-insensitively) and
// returns it as listed.
func oneOf(n *yaml.Node, what string, values ...string) (string, error) {
	s, err := text(n, "a "+what)
	if err != nil {
		return "", err
	}
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown %s %q (want one of %s)", what, s, strings.Join(values, ", "))
}
