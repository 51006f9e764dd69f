package discovery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Format is how a member's znode data is written.
type Format int

// Member formats.
const (
	// FormatSeed is the seed's AppServer: "host:port" or a bare address
	// (the port is then the service's), host an IP literal.
	FormatSeed Format = iota
	// FormatJSON is ours: {"address": "10.0.0.1", "port": 80, "weight": 1,
	// "forwarding": "DR"}; only address is required.
	FormatJSON
)

// String names the format as the configuration spells it.
func (f Format) String() string {
	switch f {
	case FormatSeed:
		return "seed"
	case FormatJSON:
		return "json"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ParseFormat reads a format's configuration name ("seed" or "json").
func ParseFormat(s string) (Format, error) {
	switch s {
	case "seed":
		return FormatSeed, nil
	case "json":
		return FormatJSON, nil
	}
	return 0, fmt.Errorf("member format %q: want seed or json", s)
}

// Defaults fill what a member's data leaves out: the service's port, the
// weight of a real server and the service's forwarding method.
type Defaults struct {
	Port       uint16
	Weight     int
	Forwarding string
}

// Member is one discovered real server.
type Member struct {
	Znode      string // the child's name under the base path
	Addr       netip.AddrPort
	Weight     int
	Forwarding string // DR, NAT or TUN
}

// maxData bounds a member's data: an address or a small JSON object.
const maxData = 4096

// maxWeight is IPVS's largest weight.
const maxWeight = 65535

// ParseMember reads one znode's data in format f. An error names the znode
// and what is wrong; nothing is guessed.
func ParseMember(f Format, znode string, data []byte, d Defaults) (Member, error) {
	m, err := parseMember(f, data, d)
	if err != nil {
		return Member{}, fmt.Errorf("member %s: %w", znode, err)
	}
	m.Znode = znode
	return m, nil
}

func parseMember(f Format, data []byte, d Defaults) (Member, error) {
	if len(data) > maxData {
		return Member{}, fmt.Errorf("data is %d bytes, more than %d", len(data), maxData)
	}
	m := Member{Weight: d.Weight, Forwarding: d.Forwarding}
	switch f {
	case FormatSeed:
		ap, err := parseSeed(string(bytes.TrimSpace(data)), d.Port)
		if err != nil {
			return Member{}, err
		}
		m.Addr = ap
	case FormatJSON:
		if err := parseJSON(data, d, &m); err != nil {
			return Member{}, err
		}
	default:
		return Member{}, fmt.Errorf("unknown format %v", f)
	}
	return m, checkMember(m)
}

// parseSeed reads "host:port", "[v6]:port" or a bare address.
func parseSeed(s string, port uint16) (netip.AddrPort, error) {
	if s == "" {
		return netip.AddrPort{}, errors.New("data is empty, want host:port or an address")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if port == 0 {
			return netip.AddrPort{}, fmt.Errorf("%q has no port and the service gives none", s)
		}
		return netip.AddrPortFrom(a.Unmap(), port), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q is not host:port nor an IP address (host must be an IP literal)", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// jsonMember is FormatJSON's shape; pointers tell absent from zero.
type jsonMember struct {
	Address    string  `json:"address"`
	Port       *int    `json:"port"`
	Weight     *int    `json:"weight"`
	Forwarding *string `json:"forwarding"`
}

func parseJSON(data []byte, d Defaults, m *Member) error {
	var j jsonMember
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("JSON: %w", err)
	}
	if dec.More() {
		return errors.New("JSON: data after the object")
	}
	a, err := netip.ParseAddr(j.Address)
	if err != nil {
		return fmt.Errorf("address %q is not an IP address", j.Address)
	}
	port := int(d.Port)
	if j.Port != nil {
		port = *j.Port
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d is out of 1-65535", port)
	}
	m.Addr = netip.AddrPortFrom(a.Unmap(), uint16(port))
	if j.Weight != nil {
		m.Weight = *j.Weight
	}
	if j.Forwarding != nil {
		m.Forwarding = strings.ToUpper(*j.Forwarding)
	}
	return nil
}

func checkMember(m Member) error {
	if m.Addr.Port() == 0 {
		return errors.New("port 0")
	}
	if m.Weight < 0 || m.Weight > maxWeight {
		return fmt.Errorf("weight %d is out of 0-%d", m.Weight, maxWeight)
	}
	switch m.Forwarding {
	case "", "DR", "NAT", "TUN":
	default:
		return fmt.Errorf("forwarding %q: want DR, NAT or TUN", m.Forwarding)
	}
	return nil
}
