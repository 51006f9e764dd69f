package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/internal/sysctl"
)

// VIPAddrs puts an announced VIP on a local device, so the kernel accepts
// its packets (bgp.vip_device), and takes it off again. Add reports whether
// it added the address (false: it was there already, and stays there when
// lbd stops).
type VIPAddrs interface {
	Add(dev string, p netip.Prefix) (added bool, err error)
	Remove(dev string, p netip.Prefix) error
}

// netlinkVIPs is the real VIPAddrs. An IPv4 VIP on lo would be answered
// by ARP on every interface (arp_ignore 0): Add raises
// net.ipv4.conf.all.arp_ignore to 1 (answer only for addresses of the
// receiving interface) and arp_announce to 2 (never use the VIP as an ARP
// source), as a DR real server does; it never lowers them.
type netlinkVIPs struct {
	sysctls interface {
		Get(string) (string, error)
		Set(string, string) error
	}
}

func newNetlinkVIPs() VIPAddrs { return netlinkVIPs{sysctls: sysctl.Proc{}} }

func (n netlinkVIPs) Add(dev string, p netip.Prefix) (bool, error) {
	link, err := netlink.LinkByName(dev)
	if err != nil {
		return false, fmt.Errorf("device %s: %w", dev, err)
	}
	if p.Addr().Is4() {
		if err := n.quietARP(); err != nil {
			return false, err
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := netlink.AddrAdd(link, addr); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return false, nil
		}
		return false, fmt.Errorf("adding %s to %s: %w", p, dev, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return true, fmt.Errorf("setting %s up: %w", dev, err)
	}
	return true, nil
}

func (n netlinkVIPs) Remove(dev string, p netip.Prefix) error {
	link, err := netlink.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("device %s: %w", dev, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := netlink.AddrDel(link, addr); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("removing %s from %s: %w", p, dev, err)
	}
	return nil
}

// quietARP raises the two ARP sysctls to at least their DR values.
func (n netlinkVIPs) quietARP() error {
	for name, want := range map[string]int{"net.ipv4.conf.all.arp_ignore": 1, "net.ipv4.conf.all.arp_announce": 2} {
		cur, err := n.sysctls.Get(name)
		if err != nil {
			return err
		}
		if v, err := strconv.Atoi(cur); err == nil && v >= want {
			continue
		}
		if err := n.sysctls.Set(name, strconv.Itoa(want)); err != nil {
			return err
		}
	}
	return nil
}
