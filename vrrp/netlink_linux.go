package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// LinuxEnv returns the real seams, bound to the calling thread's network
// namespace: raw sockets, netlink addresses and links, gratuitous ARP over
// packet sockets, os/exec.
func LinuxEnv(log *slog.Logger) (Env, error) {
	if log == nil {
		log = slog.Default()
	}
	ns, err := netns.Get()
	if err != nil {
		return Env{}, fmt.Errorf("vrrp: getting the network namespace: %w", err)
	}
	h, sub, err := openRoute(ns)
	if err != nil {
		ns.Close()
		return Env{}, fmt.Errorf("vrrp: opening netlink: %w", err)
	}
	nl := &netlinkEnv{ns: ns, sub: sub, h: h, log: log}
	return Env{
		Listen:    ListenRaw,
		Addresses: nl,
		Links:     netlinkLinks{nl},
		Announcer: newPacketAnnouncer(),
		Runner:    ExecRunner{},
		Routes:    nl,
	}, nil
}

// netlinkEnv implements Addresses and Links with vishvananda/netlink.
type netlinkEnv struct {
	ns  netns.NsHandle
	sub *netns.NsHandle // the namespace subscriptions name (openRoute)
	h   *netlink.Handle
	log *slog.Logger

	mu    sync.Mutex
	links map[string]netlink.Link // by name; dropped on error
}

// link returns the device, from the cache when fresh is false.
func (e *netlinkEnv) link(name string, fresh bool) (netlink.Link, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l, ok := e.links[name]; ok && !fresh {
		return l, nil
	}
	l, err := e.h.LinkByName(name)
	if err != nil {
		delete(e.links, name)
		return nil, err
	}
	if e.links == nil {
		e.links = map[string]netlink.Link{}
	}
	e.links[name] = l
	return l, nil
}

// withLink runs f on the device, retrying once with a fresh lookup (the
// device may have been recreated with another index).
func (e *netlinkEnv) withLink(name string, f func(netlink.Link) error) error {
	l, err := e.link(name, false)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", name, err)
	}
	if err := f(l); err == nil {
		return nil
	}
	if l, err = e.link(name, true); err != nil {
		return fmt.Errorf("looking up %s: %w", name, err)
	}
	return f(l)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

func (e *netlinkEnv) vipAddr(v VIP) *netlink.Addr {
	a := &netlink.Addr{IPNet: prefixNet(v.Prefix), Label: v.Label}
	if s, ok := routeScopeNums[v.Scope]; ok {
		a.Scope = int(s)
	}
	if v.Prefix.Addr().Is6() {
		// No duplicate address detection: the address must work at once.
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

func (e *netlinkEnv) Add(v VIP) error {
	err := e.withLink(v.Device, func(l netlink.Link) error { return e.h.AddrReplace(l, e.vipAddr(v)) })
	if err != nil {
		return fmt.Errorf("adding %v to %s: %w", v.Prefix, v.Device, err)
	}
	return nil
}

func (e *netlinkEnv) Remove(v VIP) error {
	err := e.withLink(v.Device, func(l netlink.Link) error {
		err := e.h.AddrDel(l, e.vipAddr(v))
		if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	})
	var nf netlink.LinkNotFoundError
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("removing %v from %s: %w", v.Prefix, v.Device, err)
	}
	return nil
}

func (e *netlinkEnv) Has(v VIP) (bool, error) {
	link, err := e.link(v.Device, true)
	if err != nil {
		return false, fmt.Errorf("looking up %s: %w", v.Device, err)
	}
	fam := netlink.FAMILY_V4
	if v.Prefix.Addr().Is6() {
		fam = netlink.FAMILY_V6
	}
	addrs, err := e.h.AddrList(link, fam)
	if err != nil {
		return false, fmt.Errorf("listing addresses of %s: %w", v.Device, err)
	}
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		if ip.Unmap() == v.Prefix.Addr() {
			return true, nil
		}
	}
	return false, nil
}

// Watch reports address removals. The netlink subscription closes on any
// receive error: it is then opened again and a Resync event tells the
// router to compare the addresses it holds with the kernel's.
func (e *netlinkEnv) Watch(ctx context.Context) (<-chan AddrEvent, error) {
	return watchNetlink(ctx, e.log, "address",
		func(ch chan<- netlink.AddrUpdate, done <-chan struct{}, onErr func(error)) error {
			return netlink.AddrSubscribeWithOptions(ch, done, netlink.AddrSubscribeOptions{Namespace: e.sub, ErrorCallback: onErr})
		},
		func(u netlink.AddrUpdate) (AddrEvent, bool) {
			if u.NewAddr {
				return AddrEvent{}, false
			}
			ip, _ := netip.AddrFromSlice(u.LinkAddress.IP)
			return AddrEvent{Addr: ip.Unmap()}, true
		},
		func() ([]AddrEvent, error) { return []AddrEvent{{Resync: true}}, nil })
}

// watchNetlink runs a netlink subscription until ctx ends and sends what
// convert makes of each update. The subscription closes on any receive
// error: it is then opened again (once a second until that works) and the
// events resync returns are sent, since updates may have been lost.
func watchNetlink[U, E any](ctx context.Context, log *slog.Logger, what string,
	subscribe func(ch chan<- U, done <-chan struct{}, onErr func(error)) error,
	convert func(U) (E, bool), resync func() ([]E, error)) (<-chan E, error) {
	onErr := func(err error) {
		if ctx.Err() == nil {
			log.Warn("vrrp: "+what+" notifications failed", "err", err)
		}
	}
	open := func() (chan U, chan struct{}, error) {
		ch := make(chan U, 256)
		done := make(chan struct{})
		if err := subscribe(ch, done, onErr); err != nil {
			return nil, nil, fmt.Errorf("subscribing to %s changes: %w", what, err)
		}
		return ch, done, nil
	}
	ch, done, err := open()
	if err != nil {
		return nil, err
	}
	out := make(chan E, 64)
	send := func(ev E) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		defer close(out)
		defer func() { close(done) }()
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-ch:
				if ok {
					if ev, keep := convert(u); keep && !send(ev) {
						return
					}
					continue
				}
				close(done)
				for {
					if ch, done, err = open(); err == nil {
						break
					}
					log.Warn("vrrp: resubscribing to "+what+" changes", "err", err)
					select {
					case <-ctx.Done():
						done = make(chan struct{}) // for the deferred close
						return
					case <-time.After(time.Second):
					}
				}
				evs, err := resync()
				if err != nil {
					log.Warn("vrrp: resynchronising after lost "+what+" notifications", "err", err)
					continue
				}
				for _, ev := range evs {
					if !send(ev) {
						return
					}
				}
			}
		}
	}()
	return out, nil
}

func linkUp(l netlink.Link) bool {
	f := l.Attrs().Flags
	return f&net.FlagUp != 0 && f&net.FlagRunning != 0
}

func (e *netlinkEnv) Up(name string) (bool, error) {
	l, err := e.h.LinkByName(name)
	if err != nil {
		return false, fmt.Errorf("looking up %s: %w", name, err)
	}
	return linkUp(l), nil
}

// netlinkLinks implements Links.
type netlinkLinks struct{ *netlinkEnv }

// Watch reports link changes (up = administratively up and carrier).
func (l netlinkLinks) Watch(ctx context.Context) (<-chan LinkEvent, error) {
	return l.watchLinks(ctx)
}

func (e *netlinkEnv) watchLinks(ctx context.Context) (<-chan LinkEvent, error) {
	return watchNetlink(ctx, e.log, "link",
		func(ch chan<- netlink.LinkUpdate, done <-chan struct{}, onErr func(error)) error {
			return netlink.LinkSubscribeWithOptions(ch, done, netlink.LinkSubscribeOptions{Namespace: e.sub, ErrorCallback: onErr})
		},
		func(u netlink.LinkUpdate) (LinkEvent, bool) {
			up := linkUp(u.Link) && u.Header.Type != unix.RTM_DELLINK
			return LinkEvent{Name: u.Link.Attrs().Name, Up: up}, true
		},
		// Every link's current state.
		func() ([]LinkEvent, error) {
			links, err := e.h.LinkList()
			if err != nil {
				return nil, fmt.Errorf("listing links: %w", err)
			}
			evs := make([]LinkEvent, 0, len(links))
			for _, l := range links {
				evs = append(evs, LinkEvent{Name: l.Attrs().Name, Up: linkUp(l)})
			}
			return evs, nil
		})
}
