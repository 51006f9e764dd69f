package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
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
// yields every failure, mapped back to its op. The requests are framed and
// their attributes encoded with mdlayher/netlink, byte for byte as
// cloudflare/ipvs sends the same writes (ipvs.go has the numbers).

const (
	nlmsgHdrLen  = 16
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
	msg, err := barrierRequest(family, seq)
	if err != nil {
		return fmt.Errorf("encode IPVS barrier: %w", err)
	}
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
func barrierRequest(family uint16, seq uint32) ([]byte, error) {
	return request(family, seq, cmdGetInfo, nil)
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

// opWhat says what op does, in the words of the single-call methods'
// errors.
func opWhat(op table.Op) string {
	var verb string
	switch op.Kind {
	case table.OpCreateService, table.OpCreateDest:
		verb = "create"
	case table.OpUpdateService, table.OpUpdateDest:
		verb = "update"
	case table.OpRemoveService, table.OpRemoveDest:
		verb = "remove"
	default:
		return op.Kind.String()
	}
	if op.IsServiceOp() {
		return svcWhat(verb, op.Service)()
	}
	return destWhat(verb, op.Service, op.Dest)()
}

// appendOp appends op as one netlink request (no acknowledgement asked).
func appendOp(buf []byte, family uint16, seq uint32, op table.Op) ([]byte, error) {
	cmd, full, withDest, err := opCommand(op.Kind)
	if err != nil {
		return buf, err
	}
	ae := netlink.NewAttributeEncoder()
	nest(ae, cmdAttrService, func(nae *netlink.AttributeEncoder) { encodeService(nae, op.Service, full) })
	if withDest {
		nest(ae, cmdAttrDest, func(nae *netlink.AttributeEncoder) { encodeDest(nae, op.Dest) })
	}
	msg, err := request(family, seq, cmd, ae)
	if err != nil {
		return buf, fmt.Errorf("encode %s: %w", opWhat(op), err)
	}
	return append(buf, msg...), nil
}

// opCommand returns the command of an op kind, whether the service goes
// with all its attributes (or only those identifying it), and whether a
// destination goes with it.
func opCommand(k table.OpKind) (cmd uint8, fullService, withDest bool, err error) {
	switch k {
	case table.OpCreateService:
		return cmdNewService, true, false, nil
	case table.OpUpdateService:
		return cmdSetService, true, false, nil
	case table.OpRemoveService:
		return cmdDelService, false, false, nil
	case table.OpCreateDest:
		return cmdNewDest, false, true, nil
	case table.OpUpdateDest:
		return cmdSetDest, false, true, nil
	case table.OpRemoveDest:
		return cmdDelDest, false, true, nil
	}
	return 0, false, false, fmt.Errorf("unknown IPVS op %v", k)
}

// request frames the attributes of ae (none if nil) as one generic netlink
// request of the family, without asking for an acknowledgement.
func request(family uint16, seq uint32, cmd uint8, ae *netlink.AttributeEncoder) ([]byte, error) {
	var attrs []byte
	if ae != nil {
		var err error
		if attrs, err = ae.Encode(); err != nil {
			return nil, err
		}
	}
	gm, err := genetlink.Message{Header: genetlink.Header{Command: cmd, Version: genlVersion}, Data: attrs}.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return netlink.Message{
		Header: netlink.Header{Length: uint32(nlmsgHdrLen + len(gm)), Type: netlink.HeaderType(family), Flags: netlink.Request, Sequence: seq},
		Data:   gm,
	}.MarshalBinary()
}

// nest adds the attributes fn encodes as the nested attribute typ. Unlike
// AttributeEncoder.Nested it leaves NLA_F_NESTED unset, as cloudflare/ipvs
// and ipvsadm send service and destination attributes.
func nest(ae *netlink.AttributeEncoder, typ uint16, fn func(*netlink.AttributeEncoder)) {
	ae.Do(typ, func() ([]byte, error) {
		nae := netlink.NewAttributeEncoder()
		fn(nae)
		return nae.Encode()
	})
}

// encodeService encodes what identifies s (family, then fwmark or protocol,
// address and port) and, when full, its other attributes.
func encodeService(ae *netlink.AttributeEncoder, s table.Service, full bool) {
	k := s.Key()
	ae.Uint16(svcAttrAF, uint16(k.Family))
	if k.FWMark != 0 {
		ae.Uint32(svcAttrFWMark, k.FWMark)
	} else {
		ae.Uint16(svcAttrProtocol, uint16(k.Protocol))
		ae.Bytes(svcAttrAddr, addr16(k.Address))
		ae.Bytes(svcAttrPort, be16(k.Port))
	}
	if !full {
		return
	}
	ae.String(svcAttrSchedName, s.Scheduler)
	flags := make([]byte, 8) // struct ip_vs_flags: flags, mask
	binary.NativeEndian.PutUint32(flags[0:4], uint32(s.Flags))
	binary.NativeEndian.PutUint32(flags[4:8], svcFlagsMaskAll)
	ae.Bytes(svcAttrFlags, flags)
	ae.Uint32(svcAttrTimeout, s.Timeout)
	if k.Family == table.FamilyIPv6 {
		bits := s.Netmask
		if bits < 1 || bits > 128 { // the kernel wants a prefix length 1..128
			bits = 128
		}
		ae.Uint32(svcAttrNetmask, bits)
	} else {
		ae.Bytes(svcAttrNetmask, binary.BigEndian.AppendUint32(nil, s.Netmask))
	}
}

// encodeDest encodes every attribute of d; an IPv4-mapped address goes as
// IPv4.
func encodeDest(ae *netlink.AttributeEncoder, d table.Destination) {
	a := d.Address.Unmap()
	ae.Uint16(destAttrAF, uint16(table.FamilyOf(a)))
	ae.Bytes(destAttrAddr, addr16(a))
	ae.Bytes(destAttrPort, be16(d.Port))
	ae.Uint32(destAttrFwdMethod, uint32(d.Forward))
	ae.Uint32(destAttrWeight, d.Weight)
	ae.Uint32(destAttrUThresh, d.UpperThreshold)
	ae.Uint32(destAttrLThresh, d.LowerThreshold)
	ae.Uint8(destAttrTunType, uint8(d.TunnelType))
	ae.Bytes(destAttrTunPort, be16(d.TunnelPort))
	ae.Uint16(destAttrTunFlags, uint16(d.TunnelFlags))
}

// addr16 lays a out like the kernel's union nf_inet_addr.
func addr16(a netip.Addr) []byte {
	out := make([]byte, 16)
	switch {
	case a.Is4():
		v := a.As4()
		copy(out, v[:])
	case a.Is6():
		v := a.As16()
		copy(out, v[:])
	}
	return out
}

// be16 is a port in network byte order.
func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
