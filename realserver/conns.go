package realserver

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// TCP socket states as /proc/net/tcp numbers them (include/net/tcp_states.h).
const (
	tcpEstablished = 0x01
	tcpSynRecv     = 0x03
	tcpListen      = 0x0A
)

// maxProcLine bounds one line of /proc/net/tcp (about 150 bytes).
const maxProcLine = 512

// Socket is one line of /proc/net/tcp or tcp6.
type Socket struct {
	Local, Remote netip.AddrPort
	State         uint8
}

// ParseProcNetTCP reads /proc/net/tcp or /proc/net/tcp6 (the header line,
// then one socket per line). Addresses are the kernel's words in host byte
// order, printed in hex; ports are in hex. A malformed line is an error
// naming it.
func ParseProcNetTCP(r io.Reader) ([]Socket, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, maxProcLine), maxProcLine)
	var out []Socket
	for n := 1; sc.Scan(); n++ {
		if n == 1 {
			continue // header
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		s, err := parseSocketLine(line)
		if err != nil {
			return out, fmt.Errorf("line %d %q: %w", n, line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("reading: %w", err)
	}
	return out, nil
}

func parseSocketLine(line string) (Socket, error) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasSuffix(f[0], ":") {
		return Socket{}, errors.New("want sl: local remote st ...")
	}
	local, err := parseProcAddr(f[1])
	if err != nil {
		return Socket{}, fmt.Errorf("local address: %w", err)
	}
	remote, err := parseProcAddr(f[2])
	if err != nil {
		return Socket{}, fmt.Errorf("remote address: %w", err)
	}
	st, err := strconv.ParseUint(f[3], 16, 8)
	if err != nil {
		return Socket{}, fmt.Errorf("state %q: %w", f[3], err)
	}
	return Socket{Local: local, Remote: remote, State: uint8(st)}, nil
}

// parseProcAddr reads "0100007F:0050" (IPv4) or 32 hex digits and a port
// (IPv6): 32-bit words each in host byte order.
func parseProcAddr(s string) (netip.AddrPort, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok || len(p) != 4 || (len(h) != 8 && len(h) != 32) {
		return netip.AddrPort{}, fmt.Errorf("%q: want 8 or 32 hex digits, a colon and 4", s)
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: port: %w", s, err)
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: %w", s, err)
	}
	var b [16]byte
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	a := netip.AddrFrom16(b)
	if len(raw) == 4 {
		a = netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrPortFrom(a, uint16(port)), nil
}

// CountEstablished counts the established sockets whose local address is
// one of vips (an IPv4-mapped IPv6 address counts as its IPv4 one).
func CountEstablished(socks []Socket, vips []netip.Addr) int {
	n := 0
	for _, s := range socks {
		if s.State != tcpEstablished {
			continue
		}
		la := s.Local.Addr().Unmap()
		for _, v := range vips {
			if la == v.Unmap() {
				n++
				break
			}
		}
	}
	return n
}

// ConnKey is a TCP connection's identity: its 4-tuple, IPv4-mapped
// addresses unmapped. (The inode is no identity: sockets in SYN_RECV and
// TIME_WAIT show inode 0.)
type ConnKey struct{ Local, Remote netip.AddrPort }

// VIPConns is one snapshot of the TCP sockets whose local address is a
// VIP, listeners left out: each connection's state by its 4-tuple.
type VIPConns map[ConnKey]uint8

// SnapshotVIPs keeps the sockets to vips (all states but LISTEN).
func SnapshotVIPs(socks []Socket, vips []netip.Addr) VIPConns {
	out := VIPConns{}
	for _, s := range socks {
		if s.State == tcpListen {
			continue
		}
		la := s.Local.Addr().Unmap()
		for _, v := range vips {
			if la == v.Unmap() {
				k := ConnKey{netip.AddrPortFrom(la, s.Local.Port()), netip.AddrPortFrom(s.Remote.Addr().Unmap(), s.Remote.Port())}
				out[k] = s.State
				break
			}
		}
	}
	return out
}

// Established counts the snapshot's established connections.
func (c VIPConns) Established() int {
	n := 0
	for _, st := range c {
		if st == tcpEstablished {
			n++
		}
	}
	return n
}

// opening reports whether a state is that of a connection being set up or
// in use (SYN_RECV, ESTABLISHED), not one closing.
func opening(st uint8) bool { return st == tcpSynRecv || st == tcpEstablished }

// Arrivals counts the connections in cur that are new since prev: a
// 4-tuple prev did not hold, in any state (one that came and already
// closed shows as TIME_WAIT or a closing state), or one prev held closing
// that is opening again (the 4-tuple reused by a new connection). A
// SYN_RECV counts: a connection arriving is what the drain waits out.
func Arrivals(prev, cur VIPConns) int {
	n := 0
	for k, st := range cur {
		was, ok := prev[k]
		if !ok || (opening(st) && !opening(was)) {
			n++
		}
	}
	return n
}

// EstablishedToVIPs counts this network namespace's established TCP
// connections to vips, from /proc/net/tcp and /proc/net/tcp6 (a file that
// does not exist, as tcp6 without IPv6, counts none).
func EstablishedToVIPs(vips []netip.Addr) (int, error) {
	c, err := VIPConnsNow(vips)
	return c.Established(), err
}

// VIPConnsNow is this network namespace's snapshot of the TCP sockets to
// vips, from /proc/net/tcp and /proc/net/tcp6 (a file that does not
// exist, as tcp6 without IPv6, holds none).
func VIPConnsNow(vips []netip.Addr) (VIPConns, error) {
	out := VIPConns{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		socks, err := readProcFile(f)
		if err != nil {
			return out, err
		}
		for k, st := range SnapshotVIPs(socks, vips) {
			out[k] = st
		}
	}
	return out, nil
}

func readProcFile(name string) ([]Socket, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("connections: %w", err)
	}
	defer f.Close()
	socks, err := ParseProcNetTCP(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return socks, nil
}
