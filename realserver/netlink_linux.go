package realserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/internal/sysctl"
)

// NetlinkSystem is the real System: rtnetlink through vishvananda/netlink,
// sysctls through /proc/sys (internal/sysctl), modules through modprobe.
//
// It works in the network namespace it is given, whichever thread calls it:
// netlink sockets are opened inside that namespace, and /proc/sys/net (which
// the kernel resolves through the namespace of the thread that opens the
// file) is opened from a thread locked into it.
type NetlinkSystem struct {
	h       *netlink.Handle
	ns      netns.NsHandle // netns.None(): the process's own namespace
	sysctls sysctl.Proc    // /proc/sys, opened from within ns
	log     *slog.Logger
}

var _ System = (*NetlinkSystem)(nil)

// NewNetlinkSystem returns a System for the calling process's network
// namespace.
func NewNetlinkSystem(log *slog.Logger) (*NetlinkSystem, error) {
	return NewNetlinkSystemAt(netns.None(), log)
}

// NewNetlinkSystemAt returns a System for the given network namespace
// (netns.None() for the process's own). The handle must stay open while the
// System is used.
func NewNetlinkSystemAt(ns netns.NsHandle, log *slog.Logger) (*NetlinkSystem, error) {
	var h *netlink.Handle
	var err error
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
	}
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &NetlinkSystem{h: h, ns: ns, log: log}, nil
}

// Close releases the netlink handle.
func (s *NetlinkSystem) Close() { s.h.Close() }

func (s *NetlinkSystem) linkByName(name string) (netlink.Link, error) {
	l, err := s.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("%s: %w", name, ErrLinkNotFound)
		}
		return nil, fmt.Errorf("look up %s: %w", name, err)
	}
	return l, nil
}

// Link implements System.
func (s *NetlinkSystem) Link(name string) (LinkInfo, error) {
	l, err := s.linkByName(name)
	if err != nil {
		return LinkInfo{}, err
	}
	kind := l.Type()
	if l.Attrs().Flags&net.FlagLoopback != 0 {
		kind = "loopback"
	}
	return LinkInfo{Name: name, Up: l.Attrs().Flags&net.FlagUp != 0, Kind: kind}, nil
}

// SetLinkUp implements System.
func (s *NetlinkSystem) SetLinkUp(name string, up bool) error {
	l, err := s.linkByName(name)
	if err != nil {
		return err
	}
	if up {
		err = s.h.LinkSetUp(l)
	} else {
		err = s.h.LinkSetDown(l)
	}
	if err != nil {
		return fmt.Errorf("set %s %s: %w", name, upDown(up), err)
	}
	return nil
}

// LoadModule implements System with modprobe.
func (s *NetlinkSystem) LoadModule(ctx context.Context, module string) error {
	out, err := exec.CommandContext(ctx, "modprobe", module).CombinedOutput()
	if err != nil {
		return fmt.Errorf("modprobe %s: %w: %s", module, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// CreateTunnel implements System.
func (s *NetlinkSystem) CreateTunnel(name string, ipv6 bool) error {
	var l netlink.Link = &netlink.Iptun{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if ipv6 {
		l = &netlink.Ip6tnl{LinkAttrs: netlink.LinkAttrs{Name: name}}
	}
	if err := s.h.LinkAdd(l); err != nil {
		return fmt.Errorf("create %s device %s: %w", l.Type(), name, err)
	}
	return nil
}

// DeleteLink implements System.
func (s *NetlinkSystem) DeleteLink(name string) error {
	l, err := s.linkByName(name)
	if err != nil {
		return err
	}
	if err := s.h.LinkDel(l); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Addrs implements System.
func (s *NetlinkSystem) Addrs(link string) ([]Address, error) {
	l, err := s.linkByName(link)
	if err != nil {
		return nil, err
	}
	list, err := s.addrList(l)
	if err != nil {
		return nil, fmt.Errorf("list addresses on %s: %w", link, err)
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		if ad, ok := toAddress(link, a); ok {
			out = append(out, ad)
		}
	}
	return out, nil
}

// AllAddrs implements System.
func (s *NetlinkSystem) AllAddrs() ([]Address, error) {
	links, err := s.h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("list links: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	list, err := s.addrList(nil)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		if ad, ok := toAddress(names[a.LinkIndex], a); ok {
			out = append(out, ad)
		}
	}
	return out, nil
}

// addrList dumps addresses, retrying a dump that a concurrent change
// interrupted.
func (s *NetlinkSystem) addrList(l netlink.Link) ([]netlink.Addr, error) {
	var err error
	for range 5 {
		var list []netlink.Addr
		list, err = s.h.AddrList(l, netlink.FAMILY_ALL)
		if err == nil {
			return list, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, err
		}
	}
	return nil, err
}

func toAddress(link string, a netlink.Addr) (Address, bool) {
	if a.IPNet == nil {
		return Address{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return Address{}, false
	}
	ones, _ := a.Mask.Size()
	return Address{
		Link:      link,
		Prefix:    netip.PrefixFrom(ip.Unmap(), ones),
		Label:     a.Label,
		Secondary: a.Flags&unix.IFA_F_SECONDARY != 0,
		HostScope: a.Scope == unix.RT_SCOPE_HOST || a.Scope == unix.RT_SCOPE_LINK,
	}, true
}

func toNetlinkAddr(a Address) *netlink.Addr {
	ip := a.Prefix.Addr()
	na := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(ip.AsSlice()), Mask: net.CIDRMask(a.Prefix.Bits(), ip.BitLen())}}
	if ip.Is4() {
		na.Label = a.Label
	} else {
		na.Flags = unix.IFA_F_NODAD
	}
	return na
}

// AddAddr implements System. An address already there is not an error.
func (s *NetlinkSystem) AddAddr(a Address) error {
	l, err := s.linkByName(a.Link)
	if err != nil {
		return err
	}
	if err := s.h.AddrAdd(l, toNetlinkAddr(a)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %s: %w", a, err)
	}
	return nil
}

// DelAddr implements System.
func (s *NetlinkSystem) DelAddr(a Address) error {
	l, err := s.linkByName(a.Link)
	if err != nil {
		return err
	}
	if err := s.h.AddrDel(l, toNetlinkAddr(a)); err != nil {
		if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete %s: %w", a, ErrAddrNotFound)
		}
		return fmt.Errorf("delete %s: %w", a, err)
	}
	return nil
}

// ReadSysctl implements System.
func (s *NetlinkSystem) ReadSysctl(key string) (string, error) {
	var v string
	var err error
	if nerr := s.inNetns(func() error { v, err = s.sysctls.Get(key); return nil }); nerr != nil {
		return "", fmt.Errorf("read sysctl %s: %w", sysctl.Name(key), nerr)
	}
	return v, sysctlErr(key, err)
}

// WriteSysctl implements System.
func (s *NetlinkSystem) WriteSysctl(key, value string) error {
	var err error
	if nerr := s.inNetns(func() error { err = s.sysctls.Set(key, value); return nil }); nerr != nil {
		return fmt.Errorf("write sysctl %s: %w", sysctl.Name(key), nerr)
	}
	return sysctlErr(key, err)
}

// inNetns runs fn on a thread inside the System's namespace. If the thread
// cannot be switched back, it stays locked so the runtime discards it.
func (s *NetlinkSystem) inNetns(fn func() error) error {
	if !s.ns.IsOpen() {
		return fn()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(s.ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns: %w", err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it dies with this goroutine.
		return errors.Join(ferr, fmt.Errorf("return to original netns: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Subscribe implements System: address and link notifications merged into
// one coalescing channel, closed when ctx ends or either subscription
// breaks.
func (s *NetlinkSystem) Subscribe(ctx context.Context) (<-chan struct{}, error) {
	done := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(done) }) }
	var ns *netns.NsHandle
	if s.ns.IsOpen() {
		ns = &s.ns
	}
	onErr := func(err error) { s.log.Debug("netlink subscription", "err", err) }
	addrCh := make(chan netlink.AddrUpdate, 256)
	if err := netlink.AddrSubscribeWithOptions(addrCh, done, netlink.AddrSubscribeOptions{Namespace: ns, ErrorCallback: onErr}); err != nil {
		stop()
		return nil, fmt.Errorf("subscribe to address changes: %w", err)
	}
	linkCh := make(chan netlink.LinkUpdate, 64)
	if err := netlink.LinkSubscribeWithOptions(linkCh, done, netlink.LinkSubscribeOptions{Namespace: ns, ErrorCallback: onErr}); err != nil {
		stop()
		go drain(addrCh)
		return nil, fmt.Errorf("subscribe to link changes: %w", err)
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		defer func() {
			stop()
			// The library's readers may be blocked sending: let them finish
			// so they see the closed socket and exit.
			go drain(addrCh)
			go drain(linkCh)
		}()
		notify := func() {
			select {
			case out <- struct{}{}:
			default:
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-addrCh:
				if !ok {
					addrCh = nil
					return
				}
				notify()
			case _, ok := <-linkCh:
				if !ok {
					linkCh = nil
					return
				}
				notify()
			}
		}
	}()
	return out, nil
}

func drain[T any](ch <-chan T) {
	if ch == nil {
		return
	}
	for range ch {
	}
}
