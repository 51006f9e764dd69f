package vrrp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// LinuxVMACs creates macvlans with netlink and sets their sysctls under
// /proc/sys, in the calling thread's network namespace (that of the
// Router's Run). It keeps no state: each macvlan's alias carries the
// parent's sysctls as they were before the first of our macvlans on it,
// so that routers sharing a parent (lbd's VRRP components) and a restart
// after a crash restore what the parent had, once its last macvlan goes.
type LinuxVMACs struct{}

// vmacAlias starts the alias of our macvlans; the parent's original
// sysctls follow as KEY=VALUE words (IPv4 macvlans only).
const vmacAlias = "lbd-vmac"

// keepalived's settings (vrrp_if_config.c): the macvlan answers ARP only
// for its own addresses and hears its peers' adverts; the parent no longer
// answers ARP for the virtual addresses. lbd also sets the parent's
// arp_announce to 2: traffic from a VIP to a host of the parent's subnet
// leaves by the parent, and with keepalived's settings the parent's ARP
// requests named the VIP as their sender, which moved the client's entry
// for the VIP from the virtual MAC to the parent's MAC.
var (
	vmacSysctls   = [][2]string{{"arp_ignore", "1"}, {"accept_local", "1"}, {"rp_filter", "0"}}
	parentSysctl4 = [][2]string{{"arp_ignore", "1"}, {"arp_filter", "1"}, {"arp_announce", "2"}}
)

func sysctlPath(iface, key string) string {
	return filepath.Join("/proc/sys/net/ipv4/conf", iface, key)
}

func readSysctl(iface, key string) (string, error) {
	p := sysctlPath(iface, key)
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(iface, key, v string) error {
	p := sysctlPath(iface, key)
	if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}

// nsHandle opens netlink in the calling thread's network namespace.
func nsHandle() (*netlink.Handle, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("getting the network namespace: %w", err)
	}
	defer ns.Close()
	h, _, err := openRoute(ns)
	if err != nil {
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	return h, nil
}

// ourVMACs returns our IPv4 macvlans on the parent (their aliases carry
// its original sysctls), but skip.
func ourVMACs(h *netlink.Handle, parentIndex int, skip string) ([]netlink.Link, error) {
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	var out []netlink.Link
	for _, l := range links {
		a := l.Attrs()
		if l.Type() == "macvlan" && a.ParentIndex == parentIndex && a.Name != skip && strings.HasPrefix(a.Alias, vmacAlias+" ") {
			out = append(out, l)
		}
	}
	return out, nil
}

// originals returns the parent's sysctls before our first macvlan: from
// one of ours (the leftover of this name included), else as they are now.
func originals(h *netlink.Handle, spec VMACSpec, parentIndex int) (string, error) {
	ours, err := ourVMACs(h, parentIndex, "")
	if err != nil {
		return "", err
	}
	if len(ours) > 0 {
		return ours[0].Attrs().Alias, nil
	}
	words := []string{vmacAlias}
	for _, kv := range parentSysctl4 {
		v, err := readSysctl(spec.Parent, kv[0])
		if err != nil {
			return "", err
		}
		words = append(words, kv[0]+"="+v)
	}
	return strings.Join(words, " "), nil
}

// Create implements VMACs.
func (LinuxVMACs) Create(spec VMACSpec) (err error) {
	h, err := nsHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	parent, err := h.LinkByName(spec.Parent)
	if err != nil {
		return fmt.Errorf("looking up %s: %w", spec.Parent, err)
	}
	alias := vmacAlias
	if !spec.IPv6 {
		if alias, err = originals(h, spec, parent.Attrs().Index); err != nil {
			return err
		}
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
	if err := h.LinkSetAlias(link, alias); err != nil {
		return fmt.Errorf("setting the alias of %s: %w", spec.Name, err)
	}
	if spec.IPv6 {
		err = vmacLinkLocal(h, link, parent)
	} else {
		err = setSysctls(spec)
	}
	if err != nil {
		return err
	}
	if err := h.LinkSetUp(link); err != nil {
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

// setSysctls sets keepalived's sysctls on the macvlan and the parent.
func setSysctls(spec VMACSpec) error {
	for _, kv := range vmacSysctls {
		if err := writeSysctl(spec.Name, kv[0], kv[1]); err != nil {
			return err
		}
	}
	for _, kv := range parentSysctl4 {
		if err := writeSysctl(spec.Parent, kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// Remove implements VMACs: it deletes the macvlan and, when it was our
// last IPv4 one on the parent, puts back the parent's sysctls its alias
// carries.
func (LinuxVMACs) Remove(spec VMACSpec) error {
	h, err := nsHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(spec.Name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		return nil
	case err != nil:
		return fmt.Errorf("looking up %s: %w", spec.Name, err)
	}
	if err := h.LinkDel(link); err != nil {
		return fmt.Errorf("removing macvlan %s: %w", spec.Name, err)
	}
	if spec.IPv6 {
		return nil
	}
	others, err := ourVMACs(h, link.Attrs().ParentIndex, spec.Name)
	if err != nil || len(others) > 0 {
		return err
	}
	return restoreSysctls(spec.Parent, link.Attrs().Alias)
}

// restoreSysctls writes back the KEY=VALUE words of alias we set.
func restoreSysctls(parent, alias string) error {
	words := strings.Fields(alias)
	if len(words) == 0 || words[0] != vmacAlias {
		return fmt.Errorf("%s's original sysctls are lost (the macvlan's alias is %q): left as they are", parent, alias)
	}
	var errs []error
	for _, w := range words[1:] {
		k, v, ok := strings.Cut(w, "=")
		if !ok || !slices.ContainsFunc(parentSysctl4, func(kv [2]string) bool { return kv[0] == k }) {
			continue
		}
		errs = append(errs, writeSysctl(parent, k, v))
	}
	return errors.Join(errs...)
}
