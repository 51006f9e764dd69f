package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Mode is the LVS forwarding method the node is a real server for.
type Mode int

// Forwarding modes.
const (
	// ModeDR is direct routing: the director rewrites only the MAC address,
	// so the VIP must be a local address that the node never announces.
	ModeDR Mode = iota + 1
	// ModeTUN is IP-in-IP tunnelling: packets arrive encapsulated and are
	// decapsulated by the tunnel device that holds the VIPs.
	ModeTUN
)

// String returns "dr" or "tun".
func (m Mode) String() string {
	switch m {
	case ModeDR:
		return "dr"
	case ModeTUN:
		return "tun"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "dr" or "tun" (any case; "route"/"gate" and
// "tunnel"/"ipip" are accepted as ipvsadm-style aliases).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "dr", "route", "gate":
		return ModeDR, nil
	case "tun", "tunnel", "ipip":
		return ModeTUN, nil
	}
	return 0, fmt.Errorf("unknown mode %q: want dr or tun", s)
}

// Defaults used when a Spec field is left empty, and the values the config
// file defaults to.
const (
	DefaultARPIgnore      = 1
	DefaultARPAnnounce    = 2
	DefaultRPFilterTUN    = 0
	DefaultResyncInterval = 30 * time.Second
	DefaultStateFile      = "/var/lib/lbrs/state.json"
	DefaultTunnel4        = "tunl0"
	DefaultTunnel6        = "ip6tnl0"
)

// Spec is what the agent keeps in place. It is a plain runtime struct: the
// lbrs command fills it from the YAML config.
type Spec struct {
	// Mode is ModeDR or ModeTUN.
	Mode Mode
	// VIPs are the virtual addresses, put on the node as /32 or /128.
	VIPs []netip.Addr
	// Interface holds the VIPs: default lo in DR mode, tunl0 in TUN mode
	// (there it holds the IPv4 VIPs only).
	Interface string
	// Interface6 holds the IPv6 VIPs in TUN mode (default ip6tnl0). Unused
	// in DR mode, where all VIPs are on Interface.
	Interface6 string
	// LabelPrefix names IPv4 VIPs LabelPrefix+N (N counts the IPv4 VIPs in
	// order, from 0). In DR mode empty means Interface+":" (lo:0, lo:1...);
	// in TUN mode empty means no labels.
	LabelPrefix string
	// NoLabels keeps DR mode's IPv4 VIPs unlabelled (lbrs.yaml's
	// label_prefix: ""), instead of the default Interface+":".
	NoLabels bool
	// ARPIgnore and ARPAnnounce are written to net.ipv4.conf.{Interface,all}
	// when there is an IPv4 VIP. Zero is a valid value, not "default": the
	// config layer supplies DefaultARPIgnore/DefaultARPAnnounce.
	ARPIgnore, ARPAnnounce int
	// RPFilter, when set, is written to net.ipv4.conf.{Interface,all}.rp_filter.
	// Nil means untouched in DR mode and DefaultRPFilterTUN in TUN mode.
	RPFilter *int
	// StateFile records what the agent found before changing it.
	StateFile string
	// ResyncInterval is how often the full state is re-read and repaired
	// (sysctls have no change notifications). Zero means DefaultResyncInterval.
	ResyncInterval time.Duration
}

// normalized returns the spec with defaults filled in and VIPs unmapped.
func (s Spec) normalized() Spec {
	n := s
	n.VIPs = make([]netip.Addr, len(s.VIPs))
	for i, v := range s.VIPs {
		n.VIPs[i] = v.Unmap().WithZone("")
	}
	if n.Interface == "" {
		if n.Mode == ModeTUN {
			n.Interface = DefaultTunnel4
		} else {
			n.Interface = "lo"
		}
	}
	if n.Mode == ModeDR {
		n.Interface6 = n.Interface
		if n.LabelPrefix == "" && !n.NoLabels {
			n.LabelPrefix = n.Interface + ":"
		}
	} else if n.Interface6 == "" {
		n.Interface6 = DefaultTunnel6
	}
	if n.Mode == ModeTUN && n.RPFilter == nil {
		v := DefaultRPFilterTUN
		n.RPFilter = &v
	}
	if n.ResyncInterval == 0 {
		n.ResyncInterval = DefaultResyncInterval
	}
	return n
}

// Validate reports every problem of the spec (after defaults), joined.
func (s Spec) Validate() error {
	n := s.normalized()
	var errs []error
	if n.Mode != ModeDR && n.Mode != ModeTUN {
		errs = append(errs, fmt.Errorf("mode %v: want dr or tun", n.Mode))
	}
	if len(n.VIPs) == 0 {
		errs = append(errs, errors.New("no VIPs: at least one is needed"))
	}
	seen := make(map[netip.Addr]bool)
	for _, v := range n.VIPs {
		switch {
		case !v.IsValid():
			errs = append(errs, errors.New("VIP: invalid (zero) address"))
			continue
		case !UsableVIP(v):
			errs = append(errs, fmt.Errorf("VIP %s: not usable as a virtual address (unspecified, loopback, multicast, link-local or broadcast)", v))
		}
		if seen[v] {
			errs = append(errs, fmt.Errorf("VIP %s: listed twice", v))
		}
		seen[v] = true
	}
	for _, name := range []string{n.Interface, n.Interface6} {
		if err := checkIfName(name); err != nil {
			errs = append(errs, err)
		}
	}
	if n.Mode == ModeTUN && n.Interface == "lo" {
		errs = append(errs, errors.New("interface lo in tun mode: the VIPs belong on the tunnel device (tunl0)"))
	}
	if n.LabelPrefix != "" {
		if idx := countV4(n.VIPs); idx > 0 {
			last := n.LabelPrefix + strconv.Itoa(idx-1)
			if len(last) > 15 {
				errs = append(errs, fmt.Errorf("label %q: longer than the kernel's 15 bytes", last))
			}
		}
		if !strings.HasPrefix(n.LabelPrefix, n.Interface) {
			errs = append(errs, fmt.Errorf("label prefix %q: must start with the interface name %q (the kernel shows labels as aliases of their device)", n.LabelPrefix, n.Interface))
		}
	}
	if n.ARPIgnore < 0 || n.ARPIgnore > 8 {
		errs = append(errs, fmt.Errorf("arp_ignore %d: want 0-8", n.ARPIgnore))
	}
	if n.ARPAnnounce < 0 || n.ARPAnnounce > 2 {
		errs = append(errs, fmt.Errorf("arp_announce %d: want 0-2", n.ARPAnnounce))
	}
	if n.RPFilter != nil && (*n.RPFilter < 0 || *n.RPFilter > 2) {
		errs = append(errs, fmt.Errorf("rp_filter %d: want 0-2", *n.RPFilter))
	}
	if n.StateFile == "" {
		errs = append(errs, errors.New("state file: empty path"))
	}
	if n.ResyncInterval < 0 {
		errs = append(errs, fmt.Errorf("resync interval %v: negative", n.ResyncInterval))
	}
	return errors.Join(errs...)
}

func checkIfName(name string) error {
	if DeviceNameProblem(name) != "" {
		return fmt.Errorf("interface %q: not a valid device name", name)
	}
	return nil
}

// DeviceNameProblem says why the kernel would refuse name as a device name
// (dev_valid_name), or "": at most 15 bytes, not "." or "..", no "/", ":"
// or byte the kernel's isspace() calls white space (ASCII's six, and 0xA0).
// lbrs check (internal/config) asks it too, so check and apply agree.
func DeviceNameProblem(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > 15:
		return "longer than 15 bytes"
	case name == "." || name == "..":
		return "\".\" and \"..\" are not device names"
	case strings.ContainsAny(name, "/:"):
		return "contains \"/\" or \":\""
	case strings.ContainsAny(name, " \t\n\v\f\r") || strings.IndexByte(name, 0xa0) >= 0:
		return "contains white space"
	}
	return ""
}

func countV4(vips []netip.Addr) int {
	n := 0
	for _, v := range vips {
		if v.Is4() {
			n++
		}
	}
	return n
}

// desiredLink is a device the VIPs live on.
type desiredLink struct {
	Name   string
	Tunnel bool // may be created (module load, then netlink) when missing
	IPv6   bool // ip6tnl rather than ipip, when a tunnel
}

// desiredState is the Spec turned into kernel objects, in apply order.
type desiredState struct {
	Links   []desiredLink
	Sysctls []sysctlSetting
	Addrs   []Address
}

type sysctlSetting struct {
	Key   string // path under /proc/sys, e.g. net/ipv4/conf/lo/arp_ignore
	Value string
}

// desired computes the kernel objects the (normalized) spec asks for.
func (s Spec) desired() desiredState {
	var d desiredState
	has4, has6 := false, false
	for _, v := range s.VIPs {
		if v.Is4() {
			has4 = true
		} else {
			has6 = true
		}
	}
	tun := s.Mode == ModeTUN
	if has4 || !tun {
		d.Links = append(d.Links, desiredLink{Name: s.Interface, Tunnel: tun})
	}
	if has6 && tun && s.Interface6 != s.Interface {
		d.Links = append(d.Links, desiredLink{Name: s.Interface6, Tunnel: true, IPv6: true})
	}
	if has4 {
		for _, knob := range []struct {
			name string
			val  int
		}{{"arp_ignore", s.ARPIgnore}, {"arp_announce", s.ARPAnnounce}} {
			for _, dev := range []string{s.Interface, "all"} {
				d.Sysctls = append(d.Sysctls, sysctlSetting{Key: confKey(dev, knob.name), Value: strconv.Itoa(knob.val)})
			}
		}
		if s.RPFilter != nil {
			for _, dev := range []string{s.Interface, "all"} {
				d.Sysctls = append(d.Sysctls, sysctlSetting{Key: confKey(dev, "rp_filter"), Value: strconv.Itoa(*s.RPFilter)})
			}
		}
	}
	n4 := 0
	for _, v := range s.VIPs {
		a := Address{Prefix: netip.PrefixFrom(v, v.BitLen())}
		if v.Is4() {
			a.Link = s.Interface
			if s.LabelPrefix != "" {
				a.Label = s.LabelPrefix + strconv.Itoa(n4)
			}
			n4++
		} else {
			a.Link = s.Interface6
		}
		d.Addrs = append(d.Addrs, a)
	}
	return d
}

func confKey(dev, knob string) string { return "net/ipv4/conf/" + dev + "/" + knob }
