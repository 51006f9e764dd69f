package vrrp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The Routes seam over netlink: virtual_routes and virtual_rules.

var (
	routeTypeNums = map[string]int{"": unix.RTN_UNICAST, "unicast": unix.RTN_UNICAST,
		"blackhole": unix.RTN_BLACKHOLE, "unreachable": unix.RTN_UNREACHABLE, "prohibit": unix.RTN_PROHIBIT}
	routeScopeNums = map[string]netlink.Scope{"global": netlink.SCOPE_UNIVERSE, "site": netlink.SCOPE_SITE,
		"link": netlink.SCOPE_LINK, "host": netlink.SCOPE_HOST, "nowhere": netlink.SCOPE_NOWHERE}
)

// nlRoute builds the netlink route; the device is looked up by name.
func (e *netlinkEnv) nlRoute(r Route) (*netlink.Route, error) {
	nr := &netlink.Route{
		Dst:      prefixNet(r.To),
		Table:    r.Table,
		Priority: r.Metric,
		Type:     routeTypeNums[r.Type],
		Family:   netlink.FAMILY_V4,
	}
	if r.ipv6() {
		nr.Family = netlink.FAMILY_V6
	}
	if r.Via.IsValid() {
		nr.Gw = r.Via.AsSlice()
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	if s, ok := routeScopeNums[r.Scope]; ok {
		nr.Scope = s
	} else if !r.Via.IsValid() && r.Device != "" && nr.Type == unix.RTN_UNICAST {
		nr.Scope = netlink.SCOPE_LINK // as ip route: a direct route is on-link
	}
	if r.Device != "" {
		l, err := e.link(r.Device, true)
		if err != nil {
			return nil, fmt.Errorf("looking up %s: %w", r.Device, err)
		}
		nr.LinkIndex = l.Attrs().Index
	}
	return nr, nil
}

// AddRoute adds the route; one already there counts as added.
func (e *netlinkEnv) AddRoute(r Route) error {
	nr, err := e.nlRoute(r)
	if err == nil {
		err = e.h.RouteAdd(nr)
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("adding route %v: %w", r, err)
	}
	return nil
}

// RemoveRoute deletes the route; an absent route (or device) is no error.
func (e *netlinkEnv) RemoveRoute(r Route) error {
	nr, err := e.nlRoute(r)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err == nil {
		err = e.h.RouteDel(nr)
	}
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("removing route %v: %w", r, err)
	}
	return nil
}

func nlRule(r Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = netlink.FAMILY_V4
	if r.ipv6() {
		nr.Family = netlink.FAMILY_V6
	}
	nr.Table = r.Table
	if r.Priority != 0 {
		nr.Priority = r.Priority
	}
	if r.From.IsValid() {
		nr.Src = prefixNet(r.From)
	}
	if r.To.IsValid() {
		nr.Dst = prefixNet(r.To)
	}
	nr.Mark = uint32(r.FWMark)
	if r.FWMask != 0 {
		m := uint32(r.FWMask)
		nr.Mask = &m
	}
	nr.IifName, nr.OifName = r.IIF, r.OIF
	return nr
}

// AddRule adds the rule unless an equal one is there: the kernel gives a
// rule without a priority one of its own, so it would not see the
// duplicate.
func (e *netlinkEnv) AddRule(r Rule) error {
	nr := nlRule(r)
	have, err := e.h.RuleList(nr.Family)
	if err != nil {
		return fmt.Errorf("listing rules: %w", err)
	}
	for _, h := range have {
		if sameRule(h, *nr) {
			return nil
		}
	}
	if err := e.h.RuleAdd(nr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("adding rule %v: %w", r, err)
	}
	return nil
}

// RemoveRule deletes the rule; an absent rule is no error.
func (e *netlinkEnv) RemoveRule(r Rule) error {
	if err := e.h.RuleDel(nlRule(r)); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("removing rule %v: %w", r, err)
	}
	return nil
}

// sameRule reports whether the kernel's rule h is want (a want without a
// priority matches any).
func sameRule(h, want netlink.Rule) bool {
	eqNet := func(a, b *net.IPNet) bool {
		if a == nil || b == nil {
			return a == nil && b == nil
		}
		return a.String() == b.String()
	}
	mask := func(m *uint32) uint32 {
		if m == nil {
			return 0
		}
		return *m
	}
	return h.Table == want.Table && (want.Priority < 0 || h.Priority == want.Priority) &&
		eqNet(h.Src, want.Src) && eqNet(h.Dst, want.Dst) && h.Mark == want.Mark &&
		(want.Mask == nil || mask(h.Mask) == *want.Mask) && h.IifName == want.IifName && h.OifName == want.OifName
}

// ApplyStaticLinux is ApplyStatic on the calling thread's network
// namespace, over a netlink handle of its own (closed on return).
func ApplyStaticLinux(log *slog.Logger, prev, next *Set) error {
	ns, err := netns.Get()
	if err != nil {
		return fmt.Errorf("vrrp: getting the network namespace: %w", err)
	}
	defer ns.Close()
	h, sub, err := openRoute(ns)
	if err != nil {
		return fmt.Errorf("vrrp: opening netlink: %w", err)
	}
	defer h.Close()
	nl := &netlinkEnv{ns: ns, sub: sub, h: h, log: log}
	return ApplyStatic(Env{Addresses: nl, Routes: nl}, prev, next)
}
