package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/director/table"
)

// Batched writes.
//
// cloudflare/ipvs sends one request and waits for its acknowledgement per
// write: three system calls and a scheduler round trip each, which under
// the testbed's emulated CPU cost more than "ipvsadm -R". WriteBatch packs
// many requests into one sendmsg without asking for acknowledgements: the
// kernel processes them in order, synchronously within that sendmsg, and
// queues an error message (carrying the failed request's sequence number)
// only for those that fail. Draining the socket after each sendmsg thus
// yields every failure, mapped back to its op. The attribute layout follows
// linux/include/uapi/linux/ip_vs.h.

// IPVS generic netlink commands and attributes used by the batch encoder.
const (
	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetInfo    = 15

	cmdAttrService = 1
	cmdAttrDest    = 2

	svcAttrAF        = 1
	svcAttrProtocol  = 2
	svcAttrAddr      = 3
	svcAttrPort      = 4
	svcAttrFWMark    = 5
	svcAttrSchedName = 6
	svcAttrFlags     = 7
	svcAttrTimeout   = 8
	svcAttrNetmask   = 9

	destAttrAddr      = 1
	destAttrPort      = 2
	destAttrFwdMethod = 3
	destAttrWeight    = 4
	destAttrUThresh   = 5
	destAttrLThresh   = 6
	destAttrAF        = 11
	destAttrTunType   = 13
	destAttrTunPort   = 14
	destAttrTunFlags  = 15

	nlmsgHdrLen  = 16
	genlHdrLen   = 4
	batchMaxSize = 64 << 10 // bytes per sendmsg, well under the socket buffers
)

// batchConn is a dedicated blocking generic netlink socket for WriteBatch.
type batchConn struct {
	mu  sync.Mutex
	fd  int
	seq uint32
}

func openBatchConn() (*batchConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind netlink socket: %w", err)
	}
	// Error messages without the failed request echoed back, so that many
	// fit in the receive buffer; and a bounded wait for the barrier reply.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	tv := unix.NsecToTimeval((10 * time.Second).Nanoseconds())
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return &batchConn{fd: fd, seq: uint32(time.Now().UnixNano()) | 1}, nil
}

func (b *batchConn) close() error { return unix.Close(b.fd) }

// BatchMin is the number of ops from which the Reconciler's writes go
// through WriteBatch; smaller changes use cloudflare/ipvs one at a time.
const BatchMin = 16

// WriteBatch sends ops in order and returns one error per op (nil for
// success). A failed op does not stop the ones after it (the kernel goes on
// with the next request), exactly like sending them one by one and
// continuing past failures. Every op counts as one write.
func (h *Handle) WriteBatch(ops []table.Op) []error {
	errs := make([]error, len(ops))
	if len(ops) == 0 {
		return errs
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.batch
	b.mu.Lock()
	defer b.mu.Unlock()
	h.writes.Add(uint64(len(ops)))

	if b.seq == 0 || b.seq+uint32(len(ops))+1 < b.seq {
		b.seq = 1 // never 0, never wrapping within a batch
	}
	base := b.seq
	b.seq += uint32(len(ops)) + 1
	buf := make([]byte, 0, batchMaxSize+4096)
	first := 0
	flush := func(end int) error {
		if len(buf) == 0 {
			return nil
		}
		if err := unix.Sendto(b.fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("send %d IPVS writes: %w", end-first, err)
		}
		buf = buf[:0]
		first = end
		return b.drain(base, errs, ops)
	}
	for i, op := range ops {
		var err error
		buf, err = appendOp(buf, h.family.ID, base+uint32(i), op)
		if err != nil {
			errs[i] = err
			continue
		}
		if len(buf) >= batchMaxSize {
			if err := flush(i + 1); err != nil {
				return failRest(errs, first, i+1, err)
			}
		}
	}
	if err := flush(len(ops)); err != nil {
		return failRest(errs, first, len(ops), err)
	}
	// Barrier: a request with a reply, after which nothing of ours is left
	// in flight.
	if err := b.barrier(h.family.ID, base+uint32(len(ops)), errs, ops); err != nil {
		// We cannot tell which writes failed: the caller re-reads.
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("IPVS batch outcome unknown: %w", err)
			}
		}
	}
	return errs
}

func failRest(errs []error, from, to int, err error) []error {
	for i := from; i < to; i++ {
		if errs[i] == nil {
			errs[i] = err
		}
	}
	for i := to; i < len(errs); i++ {
		if errs[i] == nil {
			errs[i] = fmt.Errorf("not sent: %w", err)
		}
	}
	return errs
}

// drain reads every queued message without blocking and records errors.
func (b *batchConn) drain(base uint32, errs []error, ops []table.Op) error {
	rb := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(b.fd, rb, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK) {
			return nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("receive IPVS write results: %w", err)
		}
		b.record(rb[:n], base, errs, ops, 0)
	}
}

// barrier sends a GET_INFO request and reads until its reply, recording
// the errors that come before it.
func (b *batchConn) barrier(family uint16, seq uint32, errs []error, ops []table.Op) error {
	msg := barrierRequest(family, seq)
	if err := unix.Sendto(b.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send IPVS barrier: %w", err)
	}
	base := seq - uint32(len(ops))
	rb := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(b.fd, rb, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for IPVS barrier: %w", err)
		}
		if b.record(rb[:n], base, errs, ops, seq) {
			return nil
		}
	}
}

// barrierRequest is a GET_INFO request with sequence number seq.
func barrierRequest(family uint16, seq uint32) []byte {
	msg := make([]byte, nlmsgHdrLen+genlHdrLen)
	putNlmsghdr(msg, uint32(len(msg)), family, unix.NLM_F_REQUEST, seq)
	msg[nlmsgHdrLen] = cmdGetInfo
	msg[nlmsgHdrLen+1] = genlVersion
	return msg
}

// record parses the netlink messages in p; it returns true when one of
// them answers the barrier sequence number.
func (b *batchConn) record(p []byte, base uint32, errs []error, ops []table.Op, barrier uint32) bool {
	done := false
	for len(p) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(p[0:4]))
		typ := binary.NativeEndian.Uint16(p[4:6])
		seq := binary.NativeEndian.Uint32(p[8:12])
		if l < nlmsgHdrLen || l > len(p) {
			return done
		}
		body := p[nlmsgHdrLen:l]
		if barrier != 0 && seq == barrier {
			done = true
		}
		if typ == unix.NLMSG_ERROR && len(body) >= 4+nlmsgHdrLen {
			code := int32(binary.NativeEndian.Uint32(body[0:4]))
			reqSeq := binary.NativeEndian.Uint32(body[4+8 : 4+12])
			if i := reqSeq - base; code != 0 && int(i) < len(ops) && reqSeq >= base {
				errs[i] = fmt.Errorf("%s: %w", opWhat(ops[i]), syscall.Errno(-code))
			}
			if reqSeq == barrier && barrier != 0 {
				done = true
			}
		}
		p = p[(l+3)&^3:]
	}
	return done
}

func opWhat(op table.Op) string {
	switch op.Kind {
	case table.OpCreateService:
		return "create IPVS service " + op.Service.Key().String()
	case table.OpUpdateService:
		return "update IPVS service " + op.Service.Key().String()
	case table.OpRemoveService:
		return "remove IPVS service " + op.Service.Key().String()
	case table.OpCreateDest:
		return "create destination " + op.Dest.Key().String() + " of " + op.Service.Key().String()
	case table.OpUpdateDest:
		return "update destination " + op.Dest.Key().String() + " of " + op.Service.Key().String()
	case table.OpRemoveDest:
		return "remove destination " + op.Dest.Key().String() + " of " + op.Service.Key().String()
	}
	return op.Kind.String()
}

func putNlmsghdr(b []byte, length uint32, typ, flags uint16, seq uint32) {
	binary.NativeEndian.PutUint32(b[0:4], length)
	binary.NativeEndian.PutUint16(b[4:6], typ)
	binary.NativeEndian.PutUint16(b[6:8], flags)
	binary.NativeEndian.PutUint32(b[8:12], seq)
	binary.NativeEndian.PutUint32(b[12:16], 0)
}

// appendOp appends op as one netlink request (no acknowledgement asked).
func appendOp(buf []byte, family uint16, seq uint32, op table.Op) ([]byte, error) {
	var cmd uint8
	full, dest := false, false
	switch op.Kind {
	case table.OpCreateService:
		cmd, full = cmdNewService, true
	case table.OpUpdateService:
		cmd, full = cmdSetService, true
	case table.OpRemoveService:
		cmd = cmdDelService
	case table.OpCreateDest:
		cmd, dest = cmdNewDest, true
	case table.OpUpdateDest:
		cmd, dest = cmdSetDest, true
	case table.OpRemoveDest:
		cmd, dest = cmdDelDest, true
	default:
		return buf, fmt.Errorf("unknown IPVS op %v", op.Kind)
	}
	start := len(buf)
	buf = append(buf, make([]byte, nlmsgHdrLen)...)
	buf = append(buf, cmd, genlVersion, 0, 0)
	buf = appendNested(buf, cmdAttrService, func(b []byte) []byte { return appendService(b, op.Service, full) })
	if dest {
		buf = appendNested(buf, cmdAttrDest, func(b []byte) []byte { return appendDest(b, op.Dest) })
	}
	putNlmsghdr(buf[start:], uint32(len(buf)-start), family, unix.NLM_F_REQUEST, seq)
	return buf, nil
}

func appendService(b []byte, s table.Service, full bool) []byte {
	k := s.Key()
	b = appendU16(b, svcAttrAF, uint16(k.Family))
	if k.FWMark != 0 {
		b = appendU32(b, svcAttrFWMark, k.FWMark)
	} else {
		b = appendU16(b, svcAttrProtocol, uint16(k.Protocol))
		addr := addr16(k.Address)
		b = appendAttr(b, svcAttrAddr, addr[:])
		b = appendBE16(b, svcAttrPort, k.Port)
	}
	if !full {
		return b
	}
	b = appendAttr(b, svcAttrSchedName, append([]byte(s.Scheduler), 0))
	var flags [8]byte
	binary.NativeEndian.PutUint32(flags[0:4], uint32(s.Flags))
	binary.NativeEndian.PutUint32(flags[4:8], 0xffffffff)
	b = appendAttr(b, svcAttrFlags, flags[:])
	b = appendU32(b, svcAttrTimeout, s.Timeout)
	if k.Family == table.FamilyIPv6 {
		bits := s.Netmask
		if bits < 1 || bits > 128 {
			bits = 128
		}
		b = appendU32(b, svcAttrNetmask, bits)
	} else {
		var m [4]byte
		binary.BigEndian.PutUint32(m[:], s.Netmask)
		b = appendAttr(b, svcAttrNetmask, m[:])
	}
	return b
}

func appendDest(b []byte, d table.Destination) []byte {
	a := d.Address.Unmap()
	addr := addr16(a)
	b = appendU16(b, destAttrAF, uint16(table.FamilyOf(a)))
	b = appendAttr(b, destAttrAddr, addr[:])
	b = appendBE16(b, destAttrPort, d.Port)
	b = appendU32(b, destAttrFwdMethod, uint32(d.Forward))
	b = appendU32(b, destAttrWeight, d.Weight)
	b = appendU32(b, destAttrUThresh, d.UpperThreshold)
	b = appendU32(b, destAttrLThresh, d.LowerThreshold)
	b = appendAttr(b, destAttrTunType, []byte{uint8(d.TunnelType)})
	b = appendBE16(b, destAttrTunPort, d.TunnelPort)
	b = appendU16(b, destAttrTunFlags, uint16(d.TunnelFlags))
	return b
}

// addr16 lays a out like the kernel's union nf_inet_addr.
func addr16(a netip.Addr) [16]byte {
	var out [16]byte
	switch {
	case a.Is4():
		v := a.As4()
		copy(out[:], v[:])
	case a.Is6():
		out = a.As16()
	}
	return out
}

func appendAttr(b []byte, typ uint16, data []byte) []byte {
	l := 4 + len(data)
	var h [4]byte
	binary.NativeEndian.PutUint16(h[0:2], uint16(l))
	binary.NativeEndian.PutUint16(h[2:4], typ)
	b = append(b, h[:]...)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func appendNested(b []byte, typ uint16, f func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = f(b)
	binary.NativeEndian.PutUint16(b[start:start+2], uint16(len(b)-start))
	binary.NativeEndian.PutUint16(b[start+2:start+4], typ)
	return b
}

func appendU16(b []byte, typ, v uint16) []byte {
	var d [2]byte
	binary.NativeEndian.PutUint16(d[:], v)
	return appendAttr(b, typ, d[:])
}

func appendBE16(b []byte, typ, v uint16) []byte {
	var d [2]byte
	binary.BigEndian.PutUint16(d[:], v)
	return appendAttr(b, typ, d[:])
}

func appendU32(b []byte, typ uint16, v uint32) []byte {
	var d [4]byte
	binary.NativeEndian.PutUint32(d[:], v)
	return appendAttr(b, typ, d[:])
}
