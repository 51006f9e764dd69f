package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
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
// their attributes encoded with mdlayher/netlink (see opEncoder), byte for
// byte as before (testdata/batch.golden; ipvs.go has the numbers).

const (
	nlmsgHdrLen  = 16       // struct nlmsghdr
	genlHdrLen   = 4        // struct genlmsghdr
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
	enc := opEncoder{family: h.family.ID}
	for i, op := range ops {
		var err error
		buf, err = enc.appendOp(buf, base+uint32(i), op)
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
	return appendRequest(nil, family, seq, cmdGetInfo, nil)
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

// opEncoder encodes the ops of a batch, each as one generic netlink
// request (no acknowledgement asked). Attributes are framed, padded and
// nested by netlink.MarshalAttributes (what netlink.AttributeEncoder's
// Encode calls). Given attribute lists that live on the stack, it makes
// one allocation per list, where AttributeEncoder makes one per attribute
// and more to grow its list: under the testbed's emulated CPU,
// AttributeEncoder took 50 to 70 ms for 1,100 ops (BenchmarkEncodeBatch),
// this 8 ms. The ops of a service come in a row (a service, its
// destinations), so the encoder keeps the encoded identifying attributes
// of the last service named for the next op that names it the same way.
type opEncoder struct {
	family uint16
	key    table.ServiceKey
	ident  []byte
}

// appendOp appends op's request to buf.
func (e *opEncoder) appendOp(buf []byte, seq uint32, op table.Op) ([]byte, error) {
	cmd, full, withDest, err := opCommand(op.Kind)
	if err != nil {
		return buf, err
	}
	attrs, err := e.attributes(full, withDest, op)
	if err != nil {
		return buf, fmt.Errorf("encode %s: %w", opWhat(op), err)
	}
	return appendRequest(buf, e.family, seq, cmd, attrs), nil
}

// attributes encodes the service and, if withDest, destination attributes
// of op.
func (e *opEncoder) attributes(full, withDest bool, op table.Op) ([]byte, error) {
	var svc []byte
	var err error
	if full {
		svc, err = marshalService(op.Service)
	} else {
		svc, err = e.identity(op.Service)
	}
	if err != nil {
		return nil, err
	}
	// Nested attributes without NLA_F_NESTED, as cloudflare/ipvs and
	// ipvsadm send them.
	top := [2]netlink.Attribute{{Type: cmdAttrService, Data: svc}}
	n := 1
	if withDest {
		if top[1].Data, err = marshalDest(op.Dest); err != nil {
			return nil, err
		}
		top[1].Type, n = cmdAttrDest, 2
	}
	return netlink.MarshalAttributes(top[:n])
}

// identity returns the encoded attributes that identify s.
func (e *opEncoder) identity(s table.Service) ([]byte, error) {
	k := s.Key()
	if e.ident != nil && k == e.key {
		return e.ident, nil
	}
	b, err := marshalIdentity(k)
	if err != nil {
		return nil, err
	}
	e.key, e.ident = k, b
	return b, nil
}

// marshalIdentity encodes the attributes that identify a service: its
// family, then its fwmark or its protocol, address and port.
func marshalIdentity(k table.ServiceKey) ([]byte, error) {
	var af, proto, port [2]byte
	var mark [4]byte
	nlenc.PutUint16(af[:], uint16(k.Family))
	nlenc.PutUint16(proto[:], uint16(k.Protocol))
	nlenc.PutUint32(mark[:], k.FWMark)
	binary.BigEndian.PutUint16(port[:], k.Port)
	addr := addr16(k.Address)
	attrs := []netlink.Attribute{{Type: svcAttrAF, Data: af[:]}, {Type: svcAttrFWMark, Data: mark[:]}}
	if k.FWMark == 0 {
		attrs = []netlink.Attribute{{Type: svcAttrAF, Data: af[:]}, {Type: svcAttrProtocol, Data: proto[:]},
			{Type: svcAttrAddr, Data: addr[:]}, {Type: svcAttrPort, Data: port[:]}}
	}
	return netlink.MarshalAttributes(attrs)
}

// marshalService encodes every attribute of s: those that identify it,
// then scheduler, flags, timeout and netmask.
func marshalService(s table.Service) ([]byte, error) {
	ident, err := marshalIdentity(s.Key())
	if err != nil {
		return nil, err
	}
	var flags [8]byte // struct ip_vs_flags: flags, mask
	var timeout, mask [4]byte
	nlenc.PutUint32(flags[0:4], uint32(s.Flags))
	nlenc.PutUint32(flags[4:8], svcFlagsMaskAll)
	nlenc.PutUint32(timeout[:], s.Timeout)
	if s.Key().Family == table.FamilyIPv6 {
		bits := s.Netmask
		if bits < 1 || bits > 128 { // the kernel wants a prefix length 1..128
			bits = 128
		}
		nlenc.PutUint32(mask[:], bits)
	} else {
		binary.BigEndian.PutUint32(mask[:], s.Netmask)
	}
	rest, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: svcAttrSchedName, Data: nlenc.Bytes(s.Scheduler)},
		{Type: svcAttrFlags, Data: flags[:]},
		{Type: svcAttrTimeout, Data: timeout[:]},
		{Type: svcAttrNetmask, Data: mask[:]},
	})
	if err != nil {
		return nil, err
	}
	return append(ident, rest...), nil
}

// marshalDest encodes every attribute of d; an IPv4-mapped address goes as
// IPv4.
func marshalDest(d table.Destination) ([]byte, error) {
	a := d.Address.Unmap()
	addr := addr16(a)
	var af, port, tunPort, tunFlags [2]byte
	var fwd, weight, upper, lower [4]byte
	nlenc.PutUint16(af[:], uint16(table.FamilyOf(a)))
	binary.BigEndian.PutUint16(port[:], d.Port)
	nlenc.PutUint32(fwd[:], uint32(d.Forward))
	nlenc.PutUint32(weight[:], d.Weight)
	nlenc.PutUint32(upper[:], d.UpperThreshold)
	nlenc.PutUint32(lower[:], d.LowerThreshold)
	tunType := [1]byte{uint8(d.TunnelType)}
	binary.BigEndian.PutUint16(tunPort[:], d.TunnelPort)
	nlenc.PutUint16(tunFlags[:], uint16(d.TunnelFlags))
	return netlink.MarshalAttributes([]netlink.Attribute{
		{Type: destAttrAF, Data: af[:]},
		{Type: destAttrAddr, Data: addr[:]},
		{Type: destAttrPort, Data: port[:]},
		{Type: destAttrFwdMethod, Data: fwd[:]},
		{Type: destAttrWeight, Data: weight[:]},
		{Type: destAttrUThresh, Data: upper[:]},
		{Type: destAttrLThresh, Data: lower[:]},
		{Type: destAttrTunType, Data: tunType[:]},
		{Type: destAttrTunPort, Data: tunPort[:]},
		{Type: destAttrTunFlags, Data: tunFlags[:]},
	})
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

// appendOp appends op as one netlink request, encoded on its own.
func appendOp(buf []byte, family uint16, seq uint32, op table.Op) ([]byte, error) {
	e := opEncoder{family: family}
	return e.appendOp(buf, seq, op)
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

// appendRequest appends to buf a generic netlink request of the family
// carrying attrs, without asking for an acknowledgement. The two headers
// are laid out here, not by netlink.Message and genetlink.Message, whose
// MarshalBinary allocate three times per request.
func appendRequest(buf []byte, family uint16, seq uint32, cmd uint8, attrs []byte) []byte {
	var hdr [nlmsgHdrLen + genlHdrLen]byte
	nlenc.PutUint32(hdr[0:4], uint32(len(hdr)+len(attrs))) // attrs is padded to 4 bytes
	nlenc.PutUint16(hdr[4:6], family)
	nlenc.PutUint16(hdr[6:8], uint16(netlink.Request))
	nlenc.PutUint32(hdr[8:12], seq)
	// hdr[12:16]: port ID 0, the kernel.
	hdr[nlmsgHdrLen], hdr[nlmsgHdrLen+1] = cmd, genlVersion // then 2 reserved bytes
	return append(append(buf, hdr[:]...), attrs...)
}
