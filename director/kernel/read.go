package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/director/table"
)

// Reads.
//
// Reading the table takes one dump of the services and one dump of the
// destinations per service (the kernel has no dump of every destination):
// 1,001 requests for 1,000 services. Through cloudflare/ipvs a read of
// 11,000 rules took 1.9 times as long as "ipvsadm -Sn" in the testbed's VM.
// Measured there (director/cmd/ipvsbench and an experiment with the same
// 1,001 dumps and no decoding), the time went to:
//
//   - the kernel's buffers: each round of a dump fills one buffer of the
//     size of the largest receive buffer the socket was given (capped at
//     32 KiB), allocated from the page allocator when over 8 KiB; with a
//     page-sized receive buffer the dumps took half the time (0.70 s
//     against 1.54 s with 64 KiB);
//   - the Go runtime's handling of blocking system calls: under the
//     emulated CPU every call is slow enough for the scheduler to hand the
//     thread's P to another thread and take it back, a thread switch each;
//     receiving without blocking, as a raw system call, took the dumps from
//     0.70 s to 0.32 s;
//   - cloudflare/ipvs itself: a peek and a read per reply through the
//     runtime's poller, a page allocated per receive, a decoder per nested
//     attribute.
//
// So a dedicated socket sends each request and receives its replies into
// one reused page-sized buffer: first without blocking (they are normally
// queued already: the kernel fills them during the send and the previous
// receive), else blocking; the replies are decoded in place into the
// table's types, with no allocation but the results. A reply larger than
// the buffer (a kernel that packs more into a dump's buffer than asked)
// is detected and the read is redone with a 64 KiB buffer.

// readBufMax is the receive buffer after a reply did not fit in a page: the
// kernel never fills more than 32 KiB in one dump round.
const readBufMax = 64 << 10

// errTruncated is a reply longer than the receive buffer.
var errTruncated = errors.New("netlink reply longer than the receive buffer")

// readConn is a dedicated blocking generic netlink socket for reads.
type readConn struct {
	fd  int
	seq uint32
	buf []byte
	req []byte
}

func openReadConn(bufSize int) (*readConn, error) {
	b, err := openBatchConn()
	if err != nil {
		return nil, err
	}
	return &readConn{fd: b.fd, seq: b.seq, buf: make([]byte, bufSize)}, nil
}

func (c *readConn) close() error { return unix.Close(c.fd) }

// errNoReply is a request the kernel answered with nothing.
var errNoReply = errors.New("no reply")

// request sends one request (a dump with dump set) and calls each with
// the attributes of every reply, until the dump's end or the reply. A
// negative acknowledgement is returned as its errno.
func (c *readConn) request(family uint16, cmd uint8, attrs []byte, dump bool, each func(attrs []byte) error) error {
	c.seq++
	if c.seq == 0 {
		c.seq = 1
	}
	seq := c.seq
	c.req = appendRequest(c.req[:0], family, seq, cmd, attrs)
	if dump {
		flags := netlink.Request | netlink.Dump
		nlenc.PutUint16(c.req[6:8], uint16(flags))
	}
	if err := unix.Sendto(c.fd, c.req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	for {
		n, err := c.receive()
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if n > len(c.buf) {
			return errTruncated
		}
		done, err := parseReplies(c.buf[:n], seq, dump, each)
		if err != nil || done {
			return err
		}
	}
}

// receive reads one datagram into c.buf and returns its full length
// (more than len(c.buf) if it was truncated): without blocking first,
// else waiting.
func (c *readConn) receive() (int, error) {
	n, err := recvNonblock(c.fd, c.buf, unix.MSG_TRUNC)
	if errors.Is(err, unix.EAGAIN) {
		n, _, err = unix.Recvfrom(c.fd, c.buf, unix.MSG_TRUNC)
	}
	return n, err
}

// parseReplies walks the netlink messages in p that answer seq (others,
// late replies to an abandoned request, are skipped). It reports whether
// the answer is complete: the dump's end, or a request's reply or error.
func parseReplies(p []byte, seq uint32, dump bool, each func(attrs []byte) error) (done bool, err error) {
	for len(p) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(p[0:4]))
		if l < nlmsgHdrLen || l > len(p) {
			return true, fmt.Errorf("malformed netlink message (length %d of %d)", l, len(p))
		}
		typ := binary.NativeEndian.Uint16(p[4:6])
		mseq := binary.NativeEndian.Uint32(p[8:12])
		body := p[nlmsgHdrLen:l]
		p = p[min((l+3)&^3, len(p)):]
		if mseq != seq {
			continue
		}
		switch typ {
		case unix.NLMSG_DONE:
			if len(body) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(body)); code < 0 {
					return true, syscall.Errno(-code)
				}
			}
			return true, nil
		case unix.NLMSG_ERROR:
			if len(body) < 4 {
				return true, errors.New("short netlink error message")
			}
			if code := int32(binary.NativeEndian.Uint32(body)); code < 0 {
				return true, syscall.Errno(-code)
			}
			return true, nil // an acknowledgement
		case unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
			continue
		}
		if len(body) < genlHdrLen {
			return true, errors.New("short generic netlink message")
		}
		if err := each(body[genlHdrLen:]); err != nil {
			return true, err
		}
		if !dump {
			return true, nil
		}
	}
	return false, nil
}

// The IPVS read commands and the attributes only reads see.
const (
	cmdGetService = 4
	cmdGetDest    = 8

	svcAttrStats   = 10
	svcAttrStats64 = 12

	destAttrActiveConns  = 7
	destAttrInactConns   = 8
	destAttrPersistConns = 9
	destAttrStats        = 10
	destAttrStats64      = 12

	nlaTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

var errMalformed = errors.New("malformed netlink attribute")

// walkAttrs calls f with the type and payload of each attribute in b.
func walkAttrs(b []byte, f func(typ uint16, v []byte) error) error {
	for len(b) >= 4 {
		l := int(nlenc.Uint16(b[0:2]))
		if l < 4 || l > len(b) {
			return errMalformed
		}
		if err := f(nlenc.Uint16(b[2:4])&nlaTypeMask, b[4:l]); err != nil {
			return err
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return nil
}

// nested calls f with the payload of the attributes of type typ in b.
func nested(b []byte, typ uint16, f func(v []byte) error) error {
	return walkAttrs(b, func(t uint16, v []byte) error {
		if t != typ {
			return nil
		}
		return f(v)
	})
}

// uintAttr reads a 1-, 2-, 4- or 8-byte attribute in host order.
func uintAttr(v []byte) uint64 {
	switch len(v) {
	case 1:
		return uint64(v[0])
	case 2:
		return uint64(nlenc.Uint16(v))
	case 4:
		return uint64(nlenc.Uint32(v))
	case 8:
		return nlenc.Uint64(v)
	}
	return 0
}

// be16Attr reads a 2-byte attribute in network order (ports).
func be16Attr(v []byte) uint16 {
	if len(v) != 2 {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

// decodeStats decodes IPVS_SVC_ATTR_STATS(64) or IPVS_DEST_ATTR_STATS(64):
// the same attributes, 32- or 64-bit.
func decodeStats(b []byte) (table.Stats, error) {
	var s table.Stats
	fields := [...]*uint64{1: &s.Conns, 2: &s.InPkts, 3: &s.OutPkts, 4: &s.InBytes, 5: &s.OutBytes,
		6: &s.CPS, 7: &s.InPPS, 8: &s.OutPPS, 9: &s.InBPS, 10: &s.OutBPS}
	err := walkAttrs(b, func(t uint16, v []byte) error {
		if int(t) < len(fields) && fields[t] != nil {
			*fields[t] = uintAttr(v)
		}
		return nil
	})
	return s, err
}

// statsPair keeps the 32- and 64-bit counters; the 64-bit ones win
// unless all zero (kernels since 4.1 send both), as fromStats does.
type statsPair struct{ s32, s64 table.Stats }

func (p statsPair) best() table.Stats {
	if p.s64 != (table.Stats{}) {
		return p.s64
	}
	return p.s32
}

func (p *statsPair) decode(which bool, v []byte) error {
	s, err := decodeStats(v)
	if which {
		p.s64 = s
	} else {
		p.s32 = s
	}
	return err
}

// internSched returns the scheduler name in v (NUL-terminated) without an
// allocation for the kernel's own schedulers.
func internSched(v []byte) string {
	if i := indexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	for _, s := range [...]string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "mh", "sed", "nq", "fo", "ovf", "twos"} {
		if string(v) == s {
			return s
		}
	}
	return string(v)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// addrAttr decodes a union nf_inet_addr of family f.
func addrAttr(v []byte, f table.Family) netip.Addr {
	if f == table.FamilyIPv4 && len(v) >= 4 {
		v = v[:4]
	}
	a, _ := netip.AddrFromSlice(v)
	return a
}

// decodeService decodes the IPVS_CMD_ATTR_SERVICE of a reply, like
// fromService(cloudflare/ipvs's unpackService) but in place.
func decodeService(reply []byte) (table.Service, error) {
	var s table.Service
	found := false
	err := nested(reply, cmdAttrService, func(b []byte) error {
		found = true
		return decodeServiceAttrs(b, &s)
	})
	if err == nil && !found {
		err = errors.New("reply without a service")
	}
	return s, err
}

func decodeServiceAttrs(b []byte, s *table.Service) error {
	var addr, mask []byte
	var stats statsPair
	flagsOK := false
	err := walkAttrs(b, func(t uint16, v []byte) error {
		switch t {
		case svcAttrAF:
			s.Family = table.Family(uintAttr(v))
		case svcAttrProtocol:
			s.Protocol = table.Protocol(uintAttr(v))
		case svcAttrAddr:
			addr = v
		case svcAttrPort:
			s.Port = be16Attr(v)
		case svcAttrFWMark:
			s.FWMark = uint32(uintAttr(v))
		case svcAttrSchedName:
			s.Scheduler = internSched(v)
		case svcAttrFlags:
			if len(v) != 8 {
				return fmt.Errorf("service flags attribute of %d bytes, want 8", len(v))
			}
			s.Flags, flagsOK = table.Flags(nlenc.Uint32(v[:4])), true
		case svcAttrTimeout:
			s.Timeout = uint32(uintAttr(v))
		case svcAttrNetmask:
			mask = v
		case svcAttrStats, svcAttrStats64:
			return stats.decode(t == svcAttrStats64, v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !flagsOK {
		return errors.New("service without flags attribute")
	}
	if s.FWMark == 0 {
		s.Address = addrAttr(addr, s.Family)
	}
	switch {
	case s.Family == table.FamilyIPv6 && len(mask) == 4:
		if bits := nlenc.Uint32(mask); bits <= 128 {
			s.Netmask = bits
		}
	case s.Family != table.FamilyIPv6 && len(mask) == 4:
		s.Netmask = binary.BigEndian.Uint32(mask)
	}
	s.Stats = stats.best()
	return nil
}

// decodeDest decodes the IPVS_CMD_ATTR_DEST of a reply; the family
// defaults to the service's (kernels before 3.18 do not send it).
func decodeDest(reply []byte, svcFamily table.Family) (table.Destination, error) {
	d := table.Destination{Family: svcFamily}
	found := false
	err := nested(reply, cmdAttrDest, func(b []byte) error {
		found = true
		return decodeDestAttrs(b, &d)
	})
	if err == nil && !found {
		err = errors.New("reply without a destination")
	}
	return d, err
}

func decodeDestAttrs(b []byte, d *table.Destination) error {
	var addr []byte
	var stats statsPair
	err := walkAttrs(b, func(t uint16, v []byte) error {
		switch t {
		case destAttrAddr:
			addr = v
		case destAttrPort:
			d.Port = be16Attr(v)
		case destAttrFwdMethod:
			d.Forward = table.Forward(uintAttr(v))
		case destAttrWeight:
			d.Weight = uint32(uintAttr(v))
		case destAttrUThresh:
			d.UpperThreshold = uint32(uintAttr(v))
		case destAttrLThresh:
			d.LowerThreshold = uint32(uintAttr(v))
		case destAttrActiveConns:
			d.ActiveConns = uint32(uintAttr(v))
		case destAttrInactConns:
			d.InactConns = uint32(uintAttr(v))
		case destAttrPersistConns:
			d.PersistConns = uint32(uintAttr(v))
		case destAttrAF:
			d.Family = table.Family(uintAttr(v))
		case destAttrTunType:
			d.TunnelType = table.TunnelType(uintAttr(v))
		case destAttrTunPort:
			d.TunnelPort = be16Attr(v)
		case destAttrTunFlags:
			d.TunnelFlags = table.TunnelFlags(uintAttr(v))
		case destAttrStats, destAttrStats64:
			return stats.decode(t == destAttrStats64, v)
		}
		return nil
	})
	d.Address = addrAttr(addr, d.Family)
	d.Stats = stats.best()
	return err
}

// serviceIdentity is the request payload naming s: IPVS_CMD_ATTR_SERVICE
// with the attributes that identify it.
func serviceIdentity(k table.ServiceKey) ([]byte, error) {
	ident, err := marshalIdentity(k)
	if err != nil {
		return nil, err
	}
	return netlink.MarshalAttributes([]netlink.Attribute{{Type: cmdAttrService, Data: ident}})
}
