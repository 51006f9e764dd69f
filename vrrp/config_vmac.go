package vrrp

import (
	"net"
	"strconv"
	"strings"
)

// VMACConfig is keepalived's use_vmac and vmac_xmit_base: the instance
// creates a macvlan (mode private) on its interface whose MAC is the VRRP
// virtual MAC (00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for
// IPv6), puts the virtual addresses that name no other device on it, and
// sends and receives its adverts there, or on the base interface with
// XmitBase. The macvlan is created when the router starts, stays up while
// it runs, whatever the instance's state, and is removed at stop.
type VMACConfig struct {
	Enabled  bool   `yaml:"enabled"`
	Name     string `yaml:"name"`      // the macvlan's name; default vrrp.VRID (keepalived's)
	XmitBase bool   `yaml:"xmit_base"` // adverts go out and come in on the base interface
}

// maxIfName is the longest interface name the kernel takes (IFNAMSIZ-1).
const maxIfName = 15

// DefaultVMACName is keepalived's name for an instance's macvlan.
func DefaultVMACName(vrid int) string { return "vrrp." + strconv.Itoa(vrid) }

// VirtualMAC returns the VRRP virtual router MAC address of a VRID (RFC
// 5798 7.3): 00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for IPv6.
func VirtualMAC(vrid uint8, ipv6 bool) net.HardwareAddr {
	fam := byte(1)
	if ipv6 {
		fam = 2
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, fam, vrid}
}

// setVMACDefaults names the macvlan and moves onto it the virtual
// addresses on the instance's interface (as keepalived: those that name
// no other device, and the excluded ones of the instance's family).
func (c *Config) setVMACDefaults() {
	if !c.VMAC.Enabled {
		return
	}
	if c.VMAC.Name == "" && c.VRID > 0 && c.VRID < 256 {
		c.VMAC.Name = DefaultVMACName(c.VRID)
	}
	if c.VMAC.Name == "" {
		return
	}
	for i := range c.VIPs {
		if v := &c.VIPs[i]; v.Device == c.Interface {
			v.Device = c.VMAC.Name
		}
	}
	// Excluded addresses of the instance's family too; one of the other
	// family stays on the interface (the vmac's MAC is not its family's).
	for i := range c.ExcludedVIPs {
		v := &c.ExcludedVIPs[i]
		if v.Device == c.Interface && v.Prefix.IsValid() && familyOf(v.Prefix.Addr()) == c.Family() {
			v.Device = c.VMAC.Name
		}
	}
}

// validateVMAC checks the vmac block after SetDefaults.
func (c *Config) validateVMAC(f fields) {
	v := c.VMAC
	if !v.Enabled {
		if v.Name != "" || v.XmitBase {
			f.add("vmac", "name and xmit_base need enabled: true")
		}
		return
	}
	switch {
	case v.Name == "":
	case len(v.Name) > maxIfName:
		f.add("vmac.name", "interface name %q is longer than %d bytes", v.Name, maxIfName)
	case strings.ContainsAny(v.Name, "/: \t\n") || v.Name == "." || v.Name == "..":
		f.add("vmac.name", "%q is not an interface name", v.Name)
	case v.Name == c.Interface:
		f.add("vmac.name", "must differ from the instance's interface %q", c.Interface)
	}
	if len(c.UnicastPeers) > 0 && !v.XmitBase {
		f.add("vmac.xmit_base", "unicast_peers with a vmac need xmit_base: true (as keepalived)")
	}
}

// vmacDevice returns the device adverts are sent and received on: the
// macvlan unless vmac_xmit_base, else the instance's interface.
func (c *Config) advertDevice() string {
	if c.VMAC.Enabled && !c.VMAC.XmitBase && c.VMAC.Name != "" {
		return c.VMAC.Name
	}
	return c.Interface
}

// vmacSpec returns the instance's macvlan.
func (c *Config) vmacSpec() VMACSpec {
	return VMACSpec{Name: c.VMAC.Name, Parent: c.Interface, MAC: VirtualMAC(c.vrid(), c.ipv6()), IPv6: c.ipv6()}
}

// checkVMACName reports a macvlan name two instances would share.
func checkVMACName(f fields, in *Config, p string, seen map[string]string) {
	if !in.VMAC.Enabled || in.VMAC.Name == "" {
		return
	}
	vp := join(p, "vmac.name")
	if first, dup := seen[in.VMAC.Name]; dup {
		f.duplicate(vp, first, "duplicate vmac %s (give each instance its own vmac.name)", in.VMAC.Name)
		return
	}
	seen[in.VMAC.Name] = vp
}
