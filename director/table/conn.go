package table

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Conn is one entry of /proc/net/ip_vs_conn.
type Conn struct {
	Protocol string         `json:"protocol"` // as the kernel names it: TCP, UDP, SCTP, IP...
	Client   netip.AddrPort `json:"client"`
	Virtual  netip.AddrPort `json:"virtual"`
	Dest     netip.AddrPort `json:"dest"`
	State    string         `json:"state"`
	Expires  uint32         `json:"expires"` // seconds
	// PEName and PEData are set for connections of a persistence engine.
	PEName string `json:"pe_name,omitempty"`
	PEData string `json:"pe_data,omitempty"`
	HasPE  bool   `json:"-"`
}

// ParseConns parses the text of /proc/net/ip_vs_conn (its first line is a
// header). Lines that do not parse are skipped and counted in bad.
func ParseConns(r io.Reader) (conns []Conn, bad int, err error) {
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		c, ok := parseConn(sc.Text())
		if !ok {
			if strings.TrimSpace(sc.Text()) != "" {
				bad++
			}
			continue
		}
		conns = append(conns, c)
	}
	if err := sc.Err(); err != nil {
		return conns, bad, fmt.Errorf("read IPVS connections: %w", err)
	}
	return conns, bad, nil
}

func parseConn(line string) (Conn, bool) {
	f := strings.Fields(line)
	if len(f) < 9 {
		return Conn{}, false
	}
	var c Conn
	c.Protocol = f[0]
	ports := [3]uint16{}
	for i, idx := range []int{2, 4, 6} {
		v, err := strconv.ParseUint(f[idx], 16, 16)
		if err != nil {
			return Conn{}, false
		}
		ports[i] = uint16(v)
	}
	addrs := [3]netip.Addr{}
	for i, idx := range []int{1, 3, 5} {
		a, ok := parseConnAddr(f[idx])
		if !ok {
			return Conn{}, false
		}
		addrs[i] = a
	}
	c.Client = netip.AddrPortFrom(addrs[0], ports[0])
	c.Virtual = netip.AddrPortFrom(addrs[1], ports[1])
	c.Dest = netip.AddrPortFrom(addrs[2], ports[2])
	c.State = f[7]
	exp, err := strconv.ParseInt(f[8], 10, 64)
	if err != nil {
		return Conn{}, false
	}
	c.Expires = uint32(exp)
	if len(f) >= 11 {
		c.PEName, c.PEData, c.HasPE = f[9], f[10], true
	}
	return c, true
}

// parseConnAddr reads an address as the kernel writes it there: IPv4 as 8
// hex digits, IPv6 as %pI6 (eight groups of four hex digits).
func parseConnAddr(s string) (netip.Addr, bool) {
	if strings.Contains(s, ":") {
		a, err := netip.ParseAddr(s)
		return a, err == nil
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// WriteConns writes conns like "ipvsadm -L -c" (with FormatNumeric: -n;
// with FormatPersistentConn: --persistent-conn, which adds the persistence
// engine columns).
func WriteConns(w io.Writer, conns []Conn, f Format, r Resolver) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("IPVS connection entries\n")
	if f&FormatPersistentConn != 0 {
		fmt.Fprintf(bw, "pro expire %-11s %-18s %-18s %-18s %-16s %s\n",
			"state", "source", "virtual", "destination", "pe name", "pe_data")
	} else {
		fmt.Fprintf(bw, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination")
	}
	for _, c := range conns {
		p := connProtocol(c.Protocol)
		af := FamilyOf(c.Client.Addr())
		cname := addrPortName(af, c.Client.Addr(), c.Client.Port(), p, f, r)
		vname := addrPortName(af, c.Virtual.Addr(), c.Virtual.Port(), p, f, r)
		dname := addrPortName(FamilyOf(c.Dest.Addr()), c.Dest.Addr(), c.Dest.Port(), p, f, r)
		expire := fmt.Sprintf("%02d:%02d", c.Expires/60, c.Expires%60)
		if f&FormatPersistentConn != 0 && c.HasPE {
			fmt.Fprintf(bw, "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n",
				c.Protocol, expire, c.State, cname, vname, dname, c.PEName, c.PEData)
		} else {
			fmt.Fprintf(bw, "%-3s %-6s %-11s %-18s %-18s %s\n",
				c.Protocol, expire, c.State, cname, vname, dname)
		}
	}
	return bw.Flush()
}

func connProtocol(s string) Protocol {
	switch s {
	case "TCP":
		return ProtoTCP
	case "UDP":
		return ProtoUDP
	case "SCTP":
		return ProtoSCTP
	}
	return 0
}
