package realserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"

	"github.com/lvsd/lb/internal/sysctl"
)

// Errors a System returns (wrapped) so the agent can tell "absent" from
// "failed".
var (
	// ErrLinkNotFound: the named device does not exist.
	ErrLinkNotFound = errors.New("link not found")
	// ErrAddrNotFound: the address to delete is not on the device.
	ErrAddrNotFound = errors.New("address not found")
	// ErrSysctlNotFound: the /proc/sys key does not exist (its device is gone).
	ErrSysctlNotFound = errors.New("sysctl not found")
)

// Address is an IP address on a device, as the agent sees it.
type Address struct {
	Link   string       // device name
	Prefix netip.Prefix // address and prefix length, e.g. 192.0.2.1/32
	// Label is the IPv4 label ("lo:0"); the kernel reports the device name
	// for an unlabelled IPv4 address, and nothing for IPv6.
	Label string
	// Secondary is set for an address that is not its subnet's primary
	// (IFA_F_SECONDARY; for IPv6 the same bit marks temporary addresses).
	Secondary bool
	// HostScope is set for host- or link-scoped addresses (127.0.0.1,
	// fe80::/64): never a node's identity on the network.
	HostScope bool
}

// String prints "192.0.2.1/32 lo:0 on lo".
func (a Address) String() string {
	s := a.Prefix.String()
	if a.Label != "" && a.Label != a.Link {
		s += " " + a.Label
	}
	return s + " on " + a.Link
}

// LinkInfo is the state of a device.
type LinkInfo struct {
	Name string
	Up   bool // administratively up (IFF_UP)
	// Kind is "loopback" for lo, else the netlink link kind: "ipip",
	// "ip6tnl", "dummy", "veth"..., "device" for a physical one.
	Kind string
}

// System is every kernel access the agent makes. The real one is
// [NewNetlinkSystem]; tests use an in-memory fake.
type System interface {
	// Link returns the named device, or an error wrapping ErrLinkNotFound.
	Link(name string) (LinkInfo, error)
	// SetLinkUp sets the device administratively up or down.
	SetLinkUp(name string, up bool) error
	// LoadModule loads a kernel module (modprobe); failure is expected
	// where modules are built in or disabled.
	LoadModule(ctx context.Context, module string) error
	// CreateTunnel creates a catch-all (no local, no remote) IPIP tunnel
	// device, or an ip6tnl one when ipv6 is set.
	CreateTunnel(name string, ipv6 bool) error
	// DeleteLink removes a device.
	DeleteLink(name string) error

	// Addrs lists the addresses on a device (error wrapping
	// ErrLinkNotFound if the device does not exist).
	Addrs(link string) ([]Address, error)
	// AllAddrs lists the addresses on every device.
	AllAddrs() ([]Address, error)
	// AddAddr adds the address (with its label) to a.Link.
	AddAddr(a Address) error
	// DelAddr removes the address from a.Link, or returns an error wrapping
	// ErrAddrNotFound.
	DelAddr(a Address) error

	// ReadSysctl reads a key under /proc/sys ("net/ipv4/conf/lo/arp_ignore"),
	// trimmed; an error names the sysctl, and wraps ErrSysctlNotFound if it
	// does not exist.
	ReadSysctl(key string) (string, error)
	// WriteSysctl writes a key under /proc/sys; errors as ReadSysctl's.
	WriteSysctl(key, value string) error

	// Subscribe reports address and link changes: one value (coalesced)
	// after each batch of changes. The channel is closed when ctx ends or
	// when the subscription breaks (the caller then resubscribes and reads
	// everything again, since events may have been lost).
	Subscribe(ctx context.Context) (<-chan struct{}, error)
}

// sysctlErr is the error of a System's ReadSysctl or WriteSysctl of key
// from the error of a sysctl tree (sysctl.Proc, or sysctl.Map in tests):
// a missing key becomes ErrSysctlNotFound.
func sysctlErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", sysctl.Name(key), ErrSysctlNotFound)
	}
	return err
}

// errMissing reports whether err means "already gone".
func errMissing(err error) bool {
	return errors.Is(err, ErrLinkNotFound) || errors.Is(err, ErrAddrNotFound) || errors.Is(err, ErrSysctlNotFound)
}

// observed is what the kernel has, restricted to what the agent looks at.
type observed struct {
	Links   map[string]LinkInfo  // present devices among those of interest
	Addrs   map[string][]Address // by device
	Sysctls map[string]string    // key -> value; absent key = not readable
}

// observe reads the given devices, their addresses and the given sysctls.
// A missing device or sysctl is simply absent from the result.
func observe(sys System, links []string, sysctls []string) (observed, error) {
	o := observed{Links: map[string]LinkInfo{}, Addrs: map[string][]Address{}, Sysctls: map[string]string{}}
	for _, name := range links {
		if _, done := o.Links[name]; done {
			continue
		}
		li, err := sys.Link(name)
		if errors.Is(err, ErrLinkNotFound) {
			continue
		}
		if err != nil {
			return o, fmt.Errorf("read link %s: %w", name, err)
		}
		o.Links[name] = li
		addrs, err := sys.Addrs(name)
		if errors.Is(err, ErrLinkNotFound) {
			delete(o.Links, name)
			continue
		}
		if err != nil {
			return o, fmt.Errorf("list addresses on %s: %w", name, err)
		}
		o.Addrs[name] = addrs
	}
	for _, key := range sysctls {
		v, err := sys.ReadSysctl(key)
		if errors.Is(err, ErrSysctlNotFound) {
			continue
		}
		if err != nil {
			return o, err // it names the sysctl
		}
		o.Sysctls[key] = v
	}
	return o, nil
}
