package vrrp

import (
	"errors"
	"fmt"
	"slices"
)

// Static entries (keepalived static_ipaddress, static_routes,
// static_rules) are held whatever the instances' states: set when lbd
// starts, kept across reloads that keep them, removed when a reload drops
// them and when lbd stops (keepalived's order: addresses, routes, rules
// in; rules, routes, addresses out).

// HasStatic reports whether the Set holds static entries.
func (s *Set) HasStatic() bool {
	return len(s.StaticAddresses) > 0 || len(s.StaticRoutes) > 0 || len(s.StaticRules) > 0
}

// StaticEqual reports whether s and o hold the same static entries.
func (s *Set) StaticEqual(o *Set) bool {
	return slices.Equal(s.StaticAddresses, o.StaticAddresses) && slices.Equal(s.StaticRoutes, o.StaticRoutes) &&
		slices.Equal(s.StaticRules, o.StaticRules)
}

// validateStatic checks the static entries: an address needs its device
// (there is no instance interface to default to).
func (s *Set) validateStatic(given Given, f fields) {
	seen := map[VIP]bool{}
	for j, v := range s.StaticAddresses {
		p := "static_ipaddresses" + item(j)
		vf := f.at(p)
		if !given.has(p+".address", v.Prefix.IsValid()) {
			vf.missing("address")
			continue
		}
		if !v.Prefix.IsValid() {
			continue
		}
		if !given.has(p+".device", v.Device != "") || v.Device == "" {
			vf.missing("device")
		}
		a := v.Prefix.Addr()
		if a.IsUnspecified() || a.IsMulticast() {
			vf.add("address", "%s cannot be an interface address", a)
		}
		k := VIP{Prefix: v.Prefix, Device: v.Device}
		if seen[k] {
			vf.add("address", "%s on %s is listed twice", v.Prefix, v.Device)
		}
		seen[k] = true
		validateLabel(vf, v, familyOf(a))
		oneOf(vf, "scope", v.Scope, routeScopes)
	}
	validateRouteList(given, f, "static_routes", s.StaticRoutes)
	validateRuleList(given, f, "static_rules", s.StaticRules)
}

// ApplyStatic makes the system hold next's static entries: those of prev
// that next lacks are removed (rules, routes, addresses), then next's are
// added (addresses, routes, rules; adding is idempotent). prev is nil at
// start, next nil at stop. env needs Addresses and Routes. Every entry is
// tried; the errors are joined.
func ApplyStatic(env Env, prev, next *Set) error {
	if prev == nil {
		prev = &Set{}
	}
	if next == nil {
		next = &Set{}
	}
	var errs []error
	note := func(what string, x any, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s static %v: %w", what, x, err))
		}
	}
	for _, r := range prev.StaticRules {
		if !slices.Contains(next.StaticRules, r) {
			note("removing", r, env.Routes.RemoveRule(r))
		}
	}
	for _, r := range prev.StaticRoutes {
		if !slices.Contains(next.StaticRoutes, r) {
			note("removing", r, env.Routes.RemoveRoute(r))
		}
	}
	for _, v := range prev.StaticAddresses {
		if !slices.Contains(next.StaticAddresses, v) {
			note("removing", v.Prefix.String()+" dev "+v.Device, env.Addresses.Remove(v))
		}
	}
	for _, v := range next.StaticAddresses {
		note("adding", v.Prefix.String()+" dev "+v.Device, env.Addresses.Add(v))
	}
	for _, r := range next.StaticRoutes {
		note("adding", r, env.Routes.AddRoute(r))
	}
	for _, r := range next.StaticRules {
		note("adding", r, env.Routes.AddRule(r))
	}
	return errors.Join(errs...)
}
