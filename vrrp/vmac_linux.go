package vrrp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// LinuxVMACs creates macvlans with netlink and sets their sysctls under
// /proc/sys, in the calling thread's network namespace (that of the
// Router's Run).
type LinuxVMACs struct {
	mu sync.Mutex
	// saved holds a parent's sysctls as found before the first Create on
	// it, and how many macvlans use it.
	saved map[string]*parentSysctls
}

type parentSysctls struct {
	users  int
	values map[string]string // sysctl path -> value found
}

// keepalived's settings (vrrp_if_config.c): the macvlan answers ARP only
// for its own addresses and hears its peers' adverts; the parent no longer
// answers ARP for the virtual addresses. lbd also sets the parent's
// arp_announce to 2: traffic from a VIP to a host of the parent's subnet
// leaves by the parent, and with keepalived's settings the parent's ARP
// requests named the VIP as their sender, which moved the client's entry
// for the VIP from the virtual MAC to the parent's MAC.
var (
	vmacSysctls   = map[string]string{"arp_ignore": "1", "accept_local": "1", "rp_filter": "0"}
	parentSysctl4 = map[string]string{"arp_ignore": "1", "arp_filter": "1", "arp_announce": "2"}
)

func sysctlPath(iface, key string) string {
	return filepath.Join("/proc/sys/net/ipv4/conf", iface, key)
}

func readSysctl(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(path, v string) error {
	if err := os.WriteFile(path, []byte(v+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// handle opens netlink in the calling thread's network namespace.
func nsHandle() (*netlink.Handle, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("getting the network namespace: %w", err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	return h, nil
}

// Create implements VMACs.
func (l *LinuxVMACs) Create(spec VMACSpec) (err error) {
	h, err := nsHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	parent, err := h.LinkByName(spec.Parent)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", spec.Parent, err)
	}
	if err := removeLeftover(h, spec, parent.Attrs().Index); err != nil {
		return err
	}
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: spec.Name, ParentIndex: parent.Attrs().Index, HardwareAddr: spec.MAC},
		Mode:      netlink.MACVLAN_MODE_PRIVATE,
	}
	if err := h.LinkAdd(mv); err != nil {
		return fmt.Errorf("creating macvlan %s on %s: %w", spec.Name, spec.Parent, err)
	}
	defer func() {
		if err != nil {
			h.LinkDel(mv)
		}
	}()
	link, err := h.LinkByName(spec.Name)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", spec.Name, err)
	}
	if spec.IPv6 {
		if err := vmacLinkLocal(h, link, parent); err != nil {
			return err
		}
	} else if err := l.setSysctls(spec); err != nil {
		return err
	}
	if err := h.LinkSetUp(link); err != nil {
		l.restore(spec)
		return fmt.Errorf("bringing %s up: %w", spec.Name, err)
	}
	return nil
}

// removeLeftover deletes a macvlan of that name left on the parent (by a
// crash); any other device of that name is an error.
func removeLeftover(h *netlink.Handle, spec VMACSpec, parentIndex int) error {
	old, err := h.LinkByName(spec.Name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		return nil
	case err != nil:
		return fmt.Errorf("looking up %s: %w", spec.Name, err)
	}
	if old.Type() != "macvlan" || old.Attrs().ParentIndex != parentIndex {
		return fmt.Errorf("creating macvlan %s: a %s device of that name exists", spec.Name, old.Type())
	}
	if err := h.LinkDel(old); err != nil {
		return fmt.Errorf("removing leftover macvlan %s: %w", spec.Name, err)
	}
	return nil
}

// vmacLinkLocal stops the kernel from generating a link-local address on
// the macvlan (RFC 5798 7.4: adverts come from the parent's link-local
// address) and gives it the parent's.
func vmacLinkLocal(h *netlink.Handle, link, parent netlink.Link) error {
	if err := h.LinkSetIP6AddrGenMode(link, 1 /* IN6_ADDR_GEN_MODE_NONE */); err != nil {
		return fmt.Errorf("setting addrgenmode none on %s: %w", link.Attrs().Name, err)
	}
	addrs, err := h.AddrList(parent, netlink.FAMILY_V6)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", parent.Attrs().Name, err)
	}
	for _, a := range addrs {
		if !a.IP.IsLinkLocalUnicast() {
			continue
		}
		ll := &netlink.Addr{IPNet: a.IPNet, Flags: unix.IFA_F_NODAD}
		if err := h.AddrReplace(link, ll); err != nil {
			return fmt.Errorf("adding %s to %s: %w", a.IPNet, link.Attrs().Name, err)
		}
		return nil
	}
	return fmt.Errorf("%s has no IPv6 link-local address", parent.Attrs().Name)
}

// setSysctls sets keepalived's sysctls on the macvlan and, remembering
// what it found, on the parent.
func (l *LinuxVMACs) setSysctls(spec VMACSpec) error {
	for k, v := range vmacSysctls {
		if err := writeSysctl(sysctlPath(spec.Name, k), v); err != nil {
			return err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.saved == nil {
		l.saved = map[string]*parentSysctls{}
	}
	ps := l.saved[spec.Parent]
	if ps == nil {
		ps = &parentSysctls{values: map[string]string{}}
		for k := range parentSysctl4 {
			p := sysctlPath(spec.Parent, k)
			v, err := readSysctl(p)
			if err != nil {
				return err
			}
			ps.values[p] = v
		}
		l.saved[spec.Parent] = ps
	}
	ps.users++
	for k, v := range parentSysctl4 {
		if err := writeSysctl(sysctlPath(spec.Parent, k), v); err != nil {
			l.restoreLocked(spec.Parent)
			return err
		}
	}
	return nil
}

// restore puts back the parent's sysctls once its last macvlan is gone.
func (l *LinuxVMACs) restore(spec VMACSpec) error {
	if spec.IPv6 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.restoreLocked(spec.Parent)
}

func (l *LinuxVMACs) restoreLocked(parent string) error {
	ps := l.saved[parent]
	if ps == nil {
		return nil
	}
	if ps.users--; ps.users > 0 {
		return nil
	}
	delete(l.saved, parent)
	var errs []error
	for p, v := range ps.values {
		if _, err := strconv.Atoi(v); err != nil {
			continue
		}
		errs = append(errs, writeSysctl(p, v))
	}
	return errors.Join(errs...)
}

// Remove implements VMACs.
func (l *LinuxVMACs) Remove(spec VMACSpec) error {
	h, err := nsHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	var errs []error
	link, err := h.LinkByName(spec.Name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
	case err != nil:
		errs = append(errs, fmt.Errorf("looking up %s: %w", spec.Name, err))
	default:
		if err := h.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("removing macvlan %s: %w", spec.Name, err))
		}
	}
	errs = append(errs, l.restore(spec))
	return errors.Join(errs...)
}
