// Package kernel is the director's only door to the kernel's IPVS: single
// writes of services and destinations and the settings through
// github.com/cloudflare/ipvs; over its own generic netlink sockets, batched
// writes (batch.go), reads of services and destinations decoded in place
// (read.go), and what that library lacks (flush, sync daemons); the
// sysctls a director needs, and /proc/net/ip_vs_conn. It converts to and
// from the pure model of director/table and counts every netlink write and
// read.
package kernel

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cloudflare/ipvs"
	"github.com/cloudflare/ipvs/netmask"
	"github.com/mdlayher/genetlink"

	"github.com/lvsd/lb/director/table"
)

// IsUnavailable reports whether err means the kernel has no IPVS (no "IPVS"
// generic netlink family: ip_vs not built or not loaded).
func IsUnavailable(err error) bool { return errors.Is(err, os.ErrNotExist) }

// Handle is an open IPVS netlink connection in the caller's network
// namespace. It is safe for concurrent use (calls are serialized).
type Handle struct {
	mu     sync.Mutex
	c      ipvs.Client
	closer io.Closer
	raw    *genetlink.Conn
	family genetlink.Family
	batch  *batchConn
	rd     *readConn // opened on first use, replaced after a failure
	rdBuf  int       // its receive buffer: a page, readBufMax once one was too small
	writes atomic.Uint64
	reads  atomic.Uint64
}

// Open connects to IPVS. On a kernel without IPVS the error satisfies
// IsUnavailable.
func Open() (*Handle, error) {
	c, err := ipvs.New()
	if err != nil {
		return nil, fmt.Errorf("open IPVS generic netlink family (is ip_vs loaded?): %w", err)
	}
	raw, err := genetlink.Dial(nil)
	if err != nil {
		closeClient(c)
		return nil, fmt.Errorf("open generic netlink: %w", err)
	}
	fam, err := raw.GetFamily(familyName)
	if err != nil {
		raw.Close()
		closeClient(c)
		return nil, fmt.Errorf("resolve IPVS generic netlink family: %w", err)
	}
	batch, err := openBatchConn()
	if err != nil {
		raw.Close()
		closeClient(c)
		return nil, err
	}
	h := &Handle{c: c, raw: raw, family: fam, batch: batch, rdBuf: min(os.Getpagesize(), readBufMax)}
	if cl, ok := c.(io.Closer); ok {
		h.closer = cl
	}
	return h, nil
}

func closeClient(c ipvs.Client) {
	if cl, ok := c.(io.Closer); ok {
		cl.Close()
	}
}

// Close releases the netlink sockets.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	if h.closer != nil {
		errs = append(errs, h.closer.Close())
	}
	if h.raw != nil {
		errs = append(errs, h.raw.Close())
	}
	if h.batch != nil {
		errs = append(errs, h.batch.close())
	}
	if h.rd != nil {
		errs = append(errs, h.rd.close())
		h.rd = nil
	}
	return errors.Join(errs...)
}

// Writes returns how many netlink write requests (create, update, remove,
// set, flush, zero, daemon) this handle has sent, failed ones included.
func (h *Handle) Writes() uint64 { return h.writes.Load() }

// Info returns the IPVS version and connection table size.
func (h *Handle) Info() (table.Info, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i, err := h.c.Info()
	if err != nil {
		return table.Info{}, fmt.Errorf("get IPVS info: %w", err)
	}
	return table.Info{Version: i.Version, ConnTableSize: i.ConnectionTableSize}, nil
}

// Services lists the kernel's services with their counters (no
// destinations). An empty table is an empty list, not an error.
func (h *Handle) Services() ([]table.Service, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []table.Service
	err := h.read(cmdGetService, nil, true, func(a []byte) error {
		s, err := decodeService(a)
		out = append(out, s)
		return err
	}, func() { out = out[:0] })
	if err != nil {
		return nil, fmt.Errorf("list IPVS services: %w", err)
	}
	return out, nil
}

// Service returns the service of key k with its counters (no
// destinations); found is false when the kernel has none.
func (h *Handle) Service(k table.ServiceKey) (s table.Service, found bool, err error) {
	req, err := serviceIdentity(k.Normalize())
	if err != nil {
		return s, false, fmt.Errorf("encode IPVS service %s: %w", k, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	err = h.read(cmdGetService, req, false, func(a []byte) error {
		s, err = decodeService(a)
		found = err == nil
		return err
	}, func() { found = false })
	if errors.Is(err, syscall.ESRCH) {
		return table.Service{}, false, nil
	}
	if err != nil {
		return table.Service{}, false, fmt.Errorf("get IPVS service %s: %w", k, err)
	}
	return s, found, nil
}

// Destinations lists the destinations of s (identified by its key) in
// kernel order. None, or a service that does not exist, is an empty list.
func (h *Handle) Destinations(s table.Service) ([]table.Destination, error) {
	k := s.Key()
	req, err := serviceIdentity(k)
	if err != nil {
		return nil, fmt.Errorf("encode IPVS service %s: %w", k, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []table.Destination
	err = h.read(cmdGetDest, req, true, func(a []byte) error {
		d, err := decodeDest(a, k.Family)
		out = append(out, d)
		return err
	}, func() { out = out[:0] })
	if err != nil {
		return nil, fmt.Errorf("list destinations of %s: %w", k, err)
	}
	return out, nil
}

// read makes one read request on the read socket, counted; after a
// failure that is not the kernel's answer the socket is replaced, so that
// no half-read reply is left on it. A reply too long for the buffer
// (errTruncated) makes it start over with the largest buffer: reset
// forgets what each was given. h.mu is held.
func (h *Handle) read(cmd uint8, req []byte, dump bool, each func([]byte) error, reset func()) error {
	h.reads.Add(1)
	for {
		if h.rd == nil {
			rd, err := openReadConn(h.rdBuf)
			if err != nil {
				return err
			}
			h.rd = rd
		}
		err := h.rd.request(h.family.ID, cmd, req, dump, each)
		var errno syscall.Errno
		if err != nil && !errors.As(err, &errno) {
			h.rd.close()
			h.rd = nil
		}
		if errors.Is(err, errTruncated) && h.rdBuf < readBufMax {
			h.rdBuf = readBufMax
			reset()
			continue
		}
		return err
	}
}

// Reads returns how many netlink read requests (dumps and gets of
// services and destinations) this handle has sent.
func (h *Handle) Reads() uint64 { return h.reads.Load() }

func (h *Handle) write(what func() string, f func() error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes.Add(1)
	if err := f(); err != nil {
		return fmt.Errorf("%s: %w", what(), err)
	}
	return nil
}

func text(s string) func() string { return func() string { return s } }

func svcWhat(verb string, s table.Service) func() string {
	return func() string { return verb + " IPVS service " + s.Key().String() }
}

func destWhat(verb string, s table.Service, d table.Destination) func() string {
	return func() string { return verb + " destination " + d.Key().String() + " of " + s.Key().String() }
}

// CreateService adds s (ipvsadm -A).
func (h *Handle) CreateService(s table.Service) error {
	return h.write(svcWhat("create", s), func() error { return h.c.CreateService(toService(s)) })
}

// UpdateService changes s's attributes (ipvsadm -E).
func (h *Handle) UpdateService(s table.Service) error {
	return h.write(svcWhat("update", s), func() error { return h.c.UpdateService(toService(s)) })
}

// RemoveService deletes s and its destinations (ipvsadm -D).
func (h *Handle) RemoveService(s table.Service) error {
	return h.write(svcWhat("remove", s), func() error { return h.c.RemoveService(toService(s)) })
}

// CreateDestination adds d to s (ipvsadm -a).
func (h *Handle) CreateDestination(s table.Service, d table.Destination) error {
	return h.write(destWhat("create", s, d), func() error { return h.c.CreateDestination(toService(s), toDest(d)) })
}

// UpdateDestination changes d in s (ipvsadm -e).
func (h *Handle) UpdateDestination(s table.Service, d table.Destination) error {
	return h.write(destWhat("update", s, d), func() error { return h.c.UpdateDestination(toService(s), toDest(d)) })
}

// RemoveDestination deletes d from s (ipvsadm -d).
func (h *Handle) RemoveDestination(s table.Service, d table.Destination) error {
	return h.write(destWhat("remove", s, d), func() error { return h.c.RemoveDestination(toService(s), toDest(d)) })
}

// Timeouts returns the tcp, tcpfin and udp timeouts.
func (h *Handle) Timeouts() (table.Timeouts, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.c.Config()
	if err != nil {
		return table.Timeouts{}, fmt.Errorf("get IPVS timeouts: %w", err)
	}
	return table.Timeouts{TCP: c.TCPTimeout, TCPFin: c.TCPFinTimeout, UDP: c.UDPTimeout}, nil
}

// SetTimeouts sets the timeouts; the kernel leaves a zero one unchanged
// (ipvsadm --set).
func (h *Handle) SetTimeouts(t table.Timeouts) error {
	return h.write(text("set IPVS timeouts"), func() error {
		return h.c.SetConfig(ipvs.Config{TCPTimeout: t.TCP, TCPFinTimeout: t.TCPFin, UDPTimeout: t.UDP})
	})
}

func toService(s table.Service) ipvs.Service {
	k := s.Key()
	out := ipvs.Service{
		Scheduler: s.Scheduler,
		Timeout:   s.Timeout,
		Flags:     ipvs.Flags(s.Flags),
		FWMark:    k.FWMark,
		Family:    ipvs.AddressFamily(k.Family),
	}
	if k.FWMark == 0 {
		out.Address = k.Address
		out.Port = k.Port
		out.Protocol = ipvs.Protocol(k.Protocol)
	}
	// The kernel refuses a new or edited service without a netmask.
	if k.Family == table.FamilyIPv6 {
		bits := int(s.Netmask)
		if bits < 1 || bits > 128 { // the kernel wants 1..128
			bits = 128
		}
		out.Netmask = netmask.MaskFrom(bits, 128)
	} else {
		m := s.Netmask
		out.Netmask = netmask.MaskFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)})
	}
	return out
}

func fromService(s ipvs.ServiceExtended) table.Service {
	out := table.Service{
		ServiceKey: table.ServiceKey{
			FWMark:   s.FWMark,
			Family:   table.Family(s.Family),
			Protocol: table.Protocol(s.Protocol),
			Address:  s.Address,
			Port:     s.Port,
		},
		Scheduler: s.Scheduler,
		Flags:     table.Flags(s.Flags),
		Timeout:   s.Timeout,
		Stats:     fromStats(s.Stats, s.Stats64),
	}
	if s.Family == ipvs.INET6 {
		if b := s.Netmask.Bits(); b >= 0 {
			out.Netmask = uint32(b)
		}
	} else if m := s.Netmask.AsSlice(); len(m) == 4 {
		out.Netmask = uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
	}
	if out.FWMark == 0 && out.Family == table.FamilyIPv4 && out.Address.Is4In6() {
		out.Address = out.Address.Unmap()
	}
	return out
}

func toDest(d table.Destination) ipvs.Destination {
	a := d.Address
	if a.Is4In6() {
		a = a.Unmap()
	}
	return ipvs.Destination{
		Address:        a,
		FwdMethod:      ipvs.ForwardType(d.Forward),
		Weight:         d.Weight,
		UpperThreshold: d.UpperThreshold,
		LowerThreshold: d.LowerThreshold,
		Port:           d.Port,
		Family:         ipvs.AddressFamily(table.FamilyOf(a)),
		TunnelType:     ipvs.TunnelType(d.TunnelType),
		TunnelPort:     d.TunnelPort,
		TunnelFlags:    ipvs.TunnelFlags(d.TunnelFlags),
	}
}

func fromDest(d ipvs.DestinationExtended) table.Destination {
	a := d.Address
	if d.Family == ipvs.INET && a.Is4In6() {
		a = a.Unmap()
	}
	return table.Destination{
		Address:        a,
		Port:           d.Port,
		Family:         table.Family(d.Family),
		Forward:        table.Forward(d.FwdMethod),
		Weight:         d.Weight,
		UpperThreshold: d.UpperThreshold,
		LowerThreshold: d.LowerThreshold,
		TunnelType:     table.TunnelType(d.TunnelType),
		TunnelPort:     d.TunnelPort,
		TunnelFlags:    table.TunnelFlags(d.TunnelFlags),
		ActiveConns:    d.ActiveConnections,
		InactConns:     d.InactiveConnections,
		PersistConns:   d.PersistentConnections,
		Stats:          fromStats(d.Stats, d.Stats64),
	}
}

// fromStats prefers the 64-bit counters (kernels since 4.1 send both).
func fromStats(s32, s64 ipvs.Stats) table.Stats {
	s := s64
	if s64 == (ipvs.Stats{}) {
		s = s32
	}
	return table.Stats{
		Conns: s.Connections, InPkts: s.IncomingPackets, OutPkts: s.OutgoingPackets,
		InBytes: s.IncomingBytes, OutBytes: s.OutgoingBytes,
		CPS: s.ConnectionRate, InPPS: s.IncomingPacketRate, OutPPS: s.OutgoingPacketRate,
		InBPS: s.IncomingByteRate, OutBPS: s.OutgoingByteRate,
	}
}
