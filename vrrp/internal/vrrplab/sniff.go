package vrrplab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/vrrp"
)

// Capture is a frame seen on the LAN: a VRRP advert or an ARP packet.
type Capture struct {
	At      time.Time // kernel receive timestamp
	HWSrc   net.HardwareAddr
	Src     netip.Addr // IP source, or the ARP sender address
	Dst     netip.Addr
	TTL     int
	VRRP    *vrrp.Packet // nil for ARP
	ARPOp   uint16       // 1 request, 2 reply
	ARPTgt  netip.Addr
	ARPTgHW net.HardwareAddr
}

// IsAdvert reports whether c is a VRRP advertisement from src (any if
// invalid) with VRID vrid.
func (c Capture) IsAdvert(src netip.Addr, vrid uint8) bool {
	return c.VRRP != nil && c.VRRP.VRID == vrid && (!src.IsValid() || c.Src == src)
}

// Sniffer records VRRP and ARP frames crossing the LAN bridge with kernel
// timestamps (SO_TIMESTAMPNS on a promiscuous AF_PACKET socket on the
// bridge, in the switch namespace).
type Sniffer struct {
	fd     int
	mu     sync.Mutex
	caps   []Capture
	wake   chan struct{}
	closed chan struct{}
	done   chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Sniff starts capturing on the LAN bridge.
func (l *Lab) Sniff() (*Sniffer, error) {
	sw, err := l.Topo.SwitchNamespace()
	if err != nil {
		return nil, err
	}
	s := &Sniffer{fd: -1, wake: make(chan struct{}), closed: make(chan struct{}), done: make(chan struct{})}
	err = sw.Do(func() error {
		ifi, err := net.InterfaceByName(l.LAN.Name())
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("opening packet socket: %w", err)
		}
		s.fd = fd
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			return fmt.Errorf("binding to %s: %w", ifi.Name, err)
		}
		// Promiscuous: the bridge then hands up the unicast frames it
		// forwards between ports too.
		mr := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
			return fmt.Errorf("setting %s promiscuous: %w", ifi.Name, err)
		}
		// Only VRRP and ARP reach the socket: the client's pings (every
		// 200 us in vrrpbench) would otherwise fill its buffer on a busy
		// machine and frames that matter would be dropped.
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, vrrpOrARP()); err != nil {
			return fmt.Errorf("filtering VRRP and ARP: %w", err)
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) // best effort
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return fmt.Errorf("asking for timestamps: %w", err)
		}
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	})
	if err != nil {
		if s.fd >= 0 {
			unix.Close(s.fd)
		}
		return nil, fmt.Errorf("sniffing the LAN: %w", err)
	}
	go s.loop()
	return s, nil
}

func (s *Sniffer) loop() {
	defer close(s.done)
	defer unix.Close(s.fd)
	buf := make([]byte, 65536)
	oob := make([]byte, 256)
	for {
		select {
		case <-s.closed:
			return
		default:
		}
		n, oobn, _, _, err := unix.Recvmsg(s.fd, buf, oob, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		at := time.Now()
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
					sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
					nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
					at = time.Unix(sec, nsec)
				}
			}
		}
		if c, ok := parseFrame(buf[:n], at); ok {
			s.mu.Lock()
			s.caps = append(s.caps, c)
			close(s.wake)
			s.wake = make(chan struct{})
			s.mu.Unlock()
		}
	}
}

// vrrpOrARP is a classic BPF program that accepts ARP frames and IPv4 or
// IPv6 packets of protocol 112 (VRRP; IPv6 without extension headers, as
// VRRP sends them), and drops the rest.
func vrrpOrARP() *unix.SockFprog {
	const (
		ldh = unix.BPF_LD | unix.BPF_H | unix.BPF_ABS
		ldb = unix.BPF_LD | unix.BPF_B | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	prog := []unix.SockFilter{
		{Code: ldh, K: 12},                            // 0: ethertype
		{Code: jeq, Jt: 6, Jf: 0, K: 0x0806},          // 1: ARP -> accept
		{Code: jeq, Jt: 1, Jf: 0, K: 0x0800},          // 2: IPv4 -> 4
		{Code: jeq, Jt: 2, Jf: 5, K: 0x86dd},          // 3: IPv6 -> 6, else drop
		{Code: ldb, K: 14 + 9},                        // 4: IPv4 protocol
		{Code: jeq, Jt: 2, Jf: 3, K: vrrp.IPProtocol}, // 5: -> accept / drop
		{Code: ldb, K: 14 + 6},                        // 6: IPv6 next header
		{Code: jeq, Jt: 0, Jf: 1, K: vrrp.IPProtocol}, // 7: -> accept / drop
		{Code: ret, K: 1 << 18},                       // 8: accept
		{Code: ret, K: 0},                             // 9: drop
	}
	return &unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
}

func parseFrame(b []byte, at time.Time) (Capture, bool) {
	c := Capture{At: at}
	if len(b) < 14 {
		return c, false
	}
	c.HWSrc = net.HardwareAddr(append([]byte(nil), b[6:12]...))
	et := binary.BigEndian.Uint16(b[12:14])
	p := b[14:]
	switch et {
	case 0x0806:
		if len(p) < 28 || binary.BigEndian.Uint16(p[0:2]) != 1 || binary.BigEndian.Uint16(p[2:4]) != 0x0800 {
			return c, false
		}
		c.ARPOp = binary.BigEndian.Uint16(p[6:8])
		c.Src = netip.AddrFrom4([4]byte(p[14:18]))
		c.ARPTgHW = net.HardwareAddr(append([]byte(nil), p[18:24]...))
		c.ARPTgt = netip.AddrFrom4([4]byte(p[24:28]))
		return c, true
	case 0x0800:
		if len(p) < 20 || p[9] != vrrp.IPProtocol {
			return c, false
		}
		ihl := int(p[0]&0x0f) * 4
		tot := int(binary.BigEndian.Uint16(p[2:4]))
		if ihl < 20 || tot > len(p) || tot < ihl {
			return c, false
		}
		c.TTL = int(p[8])
		c.Src = netip.AddrFrom4([4]byte(p[12:16]))
		c.Dst = netip.AddrFrom4([4]byte(p[16:20]))
		v, err := vrrp.ParsePacket(p[ihl:tot], false)
		if err != nil {
			return c, false
		}
		c.VRRP = &v
		return c, true
	case 0x86dd:
		if len(p) < 40 || p[6] != vrrp.IPProtocol {
			return c, false
		}
		l := int(binary.BigEndian.Uint16(p[4:6]))
		if 40+l > len(p) {
			return c, false
		}
		c.TTL = int(p[7])
		c.Src = netip.AddrFrom16([16]byte(p[8:24]))
		c.Dst = netip.AddrFrom16([16]byte(p[24:40]))
		v, err := vrrp.ParsePacket(p[40:40+l], true)
		if err != nil {
			return c, false
		}
		c.VRRP = &v
		return c, true
	}
	return c, false
}

// Captures returns what was captured so far.
func (s *Sniffer) Captures() []Capture {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Capture(nil), s.caps...)
}

// Wait returns the first capture at or after from matching pred, waiting up
// to timeout for it.
func (s *Sniffer) Wait(from time.Time, timeout time.Duration, pred func(Capture) bool) (Capture, error) {
	deadline := time.After(timeout)
	seen := 0
	for {
		s.mu.Lock()
		caps, wake := s.caps, s.wake
		s.mu.Unlock()
		for ; seen < len(caps); seen++ {
			if c := caps[seen]; !c.At.Before(from) && pred(c) {
				return c, nil
			}
		}
		select {
		case <-wake:
		case <-deadline:
			return Capture{}, fmt.Errorf("no matching frame within %v", timeout)
		}
	}
}

// Close stops the capture.
func (s *Sniffer) Close() {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	<-s.done
}
