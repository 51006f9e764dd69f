package healthcheck

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// CheckType names a kind of checker.
type CheckType string

// The checker kinds, after keepalived's HTTP_GET, SSL_GET, TCP_CHECK,
// MISC_CHECK and DNS_CHECK.
const (
	TypeHTTP   CheckType = "http"
	TypeHTTPS  CheckType = "https"
	TypeTCP    CheckType = "tcp"
	TypeScript CheckType = "script"
	TypeDNS    CheckType = "dns"
	TypeUDP    CheckType = "udp"  // keepalived UDP_CHECK
	TypePing   CheckType = "ping" // keepalived PING_CHECK
	TypeSMTP   CheckType = "smtp" // keepalived SMTP_CHECK
)

// DefaultHeloName is the HELO name of an SMTP check that sets none
// (keepalived's default).
const DefaultHeloName = "smtpchecker.keepalived.org"

// StatusRange is an inclusive range of HTTP status codes; a single code has
// Min == Max.
type StatusRange struct {
	Min, Max int
}

// DefaultStatusCodes returns keepalived's default accepted status codes, 200-299.
func DefaultStatusCodes() []StatusRange { return []StatusRange{{200, 299}} }

func (r StatusRange) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return fmt.Sprintf("%d-%d", r.Min, r.Max)
}

// ParseStatusRanges parses keepalived's status_code syntax: space (or
// comma) separated codes and ranges, e.g. "200 300-399 503".
func ParseStatusRanges(s string) ([]StatusRange, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	if len(fields) == 0 {
		return nil, errors.New("parse status codes: empty")
	}
	out := make([]StatusRange, 0, len(fields))
	for _, f := range fields {
		lo, hi, isRange := strings.Cut(f, "-")
		min, err := parseCode(lo)
		if err != nil {
			return nil, fmt.Errorf("parse status codes %q: %w", f, err)
		}
		max := min
		if isRange {
			if max, err = parseCode(hi); err != nil {
				return nil, fmt.Errorf("parse status codes %q: %w", f, err)
			}
		}
		if max < min {
			return nil, fmt.Errorf("parse status codes %q: range upside down", f)
		}
		out = append(out, StatusRange{min, max})
	}
	return out, nil
}

func parseCode(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	if n < 100 || n > 999 {
		return 0, fmt.Errorf("status %d out of 100-999", n)
	}
	return n, nil
}

func statusOK(ranges []StatusRange, code int) bool {
	for _, r := range ranges {
		if code >= r.Min && code <= r.Max {
			return true
		}
	}
	return false
}

func formatRanges(ranges []StatusRange) string {
	parts := make([]string, len(ranges))
	for i, r := range ranges {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// URL is one url block of an HTTP or HTTPS check.
type URL struct {
	// Path is the request target, e.g. "/health". Empty means "/".
	Path string
	// Digest, when set, is the expected lowercase hex MD5 of the body
	// (what GenHash and `keepalived --genhash` print).
	Digest string
	// StatusCodes accepted; empty means 200-299.
	StatusCodes []StatusRange
	// VirtualHost overrides Spec.VirtualHost for this URL.
	VirtualHost string
}

// Spec says what to check and how; it holds no timing (see Timing).
// Inheritance (virtual server -> real server -> checker, connect_ip and
// connect_port) is resolved by the caller: Target is where to connect.
type Spec struct {
	Type CheckType
	// Target is the address and port to connect to (connect_ip and
	// connect_port, else the real server's). Unused by script checks.
	Target netip.AddrPort
	// BindTo is the optional source address (bindto).
	BindTo netip.Addr

	// HTTP and HTTPS.
	URLs []URL
	// VirtualHost is sent as the Host header (default: the target
	// address, with the port unless it is the scheme's default) and, for
	// HTTPS, as the TLS server name unless SNI is set.
	VirtualHost string
	// SNI overrides the TLS server name (HTTPS only).
	SNI string
	// TLSVerify turns on certificate verification (HTTPS only): against
	// SNI, else the virtual host, else the target IP.
	TLSVerify bool
	// CAFile is a PEM bundle of roots for TLSVerify; empty uses the
	// system roots.
	CAFile string

	// Script: argv, run without a shell.
	Command []string
	// Dynamic: exit codes 2-255 mean success with weight code-2
	// (misc_dynamic).
	Dynamic bool
	// User and Group (Script only) run the command as that user (MISC_CHECK
	// user); empty: the Scheduler's runner's default (script_user).
	User, Group string

	// DNS: query type (A, AAAA, NS, CNAME, SOA, MX, TXT...; default SOA)
	// and name (default ".").
	DNSType string
	DNSName string

	// UDP: Payload is sent as the datagram (empty: 32 random bytes).
	// Without RequireReply, silence until the deadline passes and only an
	// error (ICMP port unreachable...) fails; with it, a reply must come,
	// MinReply to MaxReply bytes long (MaxReply 0 means
	// keepalived's default of 255), and match
	// Reply on their common length except where ReplyMask has 1 bits.
	Payload      []byte
	RequireReply bool
	Reply        []byte
	ReplyMask    []byte
	MinReply     int
	MaxReply     int

	// SMTP: the HELO name (default DefaultHeloName).
	HeloName string
}

// normalized returns the spec with defaults filled in, so that specs that
// mean the same thing compare (and key) equal.
func (s Spec) normalized() Spec {
	n := s
	n.URLs = nil
	switch s.Type {
	case TypeHTTP, TypeHTTPS:
		for _, u := range s.URLs {
			if u.Path == "" {
				u.Path = "/"
			}
			u.Digest = strings.ToLower(u.Digest)
			if len(u.StatusCodes) == 0 {
				u.StatusCodes = DefaultStatusCodes()
			}
			if u.VirtualHost == "" {
				u.VirtualHost = s.VirtualHost
			}
			n.URLs = append(n.URLs, u)
		}
		if len(n.URLs) == 0 {
			n.URLs = []URL{{Path: "/", StatusCodes: DefaultStatusCodes(), VirtualHost: s.VirtualHost}}
		}
	case TypeDNS:
		if n.DNSType == "" {
			n.DNSType = "SOA"
		}
		n.DNSType = strings.ToUpper(n.DNSType)
		if n.DNSName == "" {
			n.DNSName = "."
		}
	}
	n = normalizedUDPSMTP(n)
	if s.Type != TypeHTTPS {
		n.SNI, n.TLSVerify, n.CAFile = "", false, ""
	}
	if s.Type != TypeScript {
		n.Command, n.Dynamic = nil, false
		n.User, n.Group = "", ""
	}
	return n
}

// Validate reports what is wrong with the spec, if anything.
func (s Spec) Validate() error {
	n := s.normalized()
	switch s.Type {
	case TypeHTTP, TypeHTTPS:
		for i, u := range n.URLs {
			if !strings.HasPrefix(u.Path, "/") {
				return fmt.Errorf("url %d: path %q must start with /", i, u.Path)
			}
			if strings.ContainsAny(u.Path, " \r\n") || strings.ContainsAny(u.VirtualHost, " \r\n") {
				return fmt.Errorf("url %d: path or virtualhost contains a space or line break", i)
			}
			if u.Digest != "" && !isHexMD5(u.Digest) {
				return fmt.Errorf("url %d: digest %q is not 32 hex digits", i, u.Digest)
			}
			for _, r := range u.StatusCodes {
				if r.Min < 100 || r.Max > 999 || r.Max < r.Min {
					return fmt.Errorf("url %d: bad status range %v", i, r)
				}
			}
		}
		fallthrough
	case TypeTCP:
		if !s.Target.IsValid() || s.Target.Port() == 0 {
			return fmt.Errorf("%s check: target %v needs an address and a port", s.Type, s.Target)
		}
	case TypeDNS:
		if !s.Target.IsValid() || s.Target.Port() == 0 {
			return fmt.Errorf("dns check: target %v needs an address and a port", s.Target)
		}
		if _, ok := dns.StringToType[n.DNSType]; !ok {
			return fmt.Errorf("dns check: unknown query type %q", s.DNSType)
		}
	case TypeScript:
		if len(s.Command) == 0 || s.Command[0] == "" {
			return errors.New("script check: empty command")
		}
	case TypeUDP, TypePing, TypeSMTP:
		return validateUDPPingSMTP(n)
	default:
		return fmt.Errorf("unknown check type %q", s.Type)
	}
	return nil
}

func isHexMD5(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Key is the canonical identity of a check: two subscriptions with equal
// keys share one runner (one request per interval). It covers every field
// of the normalized Spec and of the Timing: checks of the same target and
// spec but with different timing run separately, since one runner cannot
// honour two delay_loops.
func Key(s Spec, t Timing) string {
	n := s.normalized()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", n.Type, n.Target)
	if n.BindTo.IsValid() {
		fmt.Fprintf(&b, " bindto=%s", n.BindTo)
	}
	for _, u := range n.URLs {
		fmt.Fprintf(&b, " url(%q,%q,%s,%q)", u.Path, u.Digest, formatRanges(u.StatusCodes), u.VirtualHost)
	}
	if n.Type == TypeHTTPS {
		fmt.Fprintf(&b, " sni=%q verify=%t ca=%q", n.SNI, n.TLSVerify, n.CAFile)
	}
	if n.Type == TypeScript {
		fmt.Fprintf(&b, " cmd=%q dynamic=%t", n.Command, n.Dynamic)
		if n.User != "" || n.Group != "" {
			fmt.Fprintf(&b, " user=%q group=%q", n.User, n.Group)
		}
	}
	if n.Type == TypeDNS {
		fmt.Fprintf(&b, " dns=%s/%q", n.DNSType, n.DNSName)
	}
	if n.Type == TypeUDP {
		fmt.Fprintf(&b, " payload=%x require=%t reply=%x mask=%x len=%d-%d",
			n.Payload, n.RequireReply, n.Reply, n.ReplyMask, n.MinReply, n.MaxReply)
	}
	if n.Type == TypeSMTP {
		fmt.Fprintf(&b, " helo=%q", n.HeloName)
	}
	fmt.Fprintf(&b, " timing=%s", t)
	return b.String()
}
