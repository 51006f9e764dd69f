package vrrp

// heldAddrs returns every address the master holds: the advertised ones,
// then the excluded ones.
func (c *Config) heldAddrs() []VIP {
	if len(c.ExcludedVIPs) == 0 {
		return c.VIPs
	}
	return append(append(make([]VIP, 0, len(c.VIPs)+len(c.ExcludedVIPs)), c.VIPs...), c.ExcludedVIPs...)
}

// addHeld adds what a master holds, in keepalived's order: the addresses
// (advertised, then excluded), then the routes (which may need them as
// source or next hop), then the rules.
func (r *Router) addHeld(in *instance) {
	for _, v := range in.cfg.heldAddrs() {
		if err := r.env.Addresses.Add(v); err != nil {
			r.log.Error("vrrp: adding a virtual address", "instance", in.cfg.Name, "vip", v.Prefix, "device", v.Device, "err", err)
		}
	}
	for _, rt := range in.cfg.Routes {
		if err := r.env.Routes.AddRoute(rt); err != nil {
			r.log.Error("vrrp: adding a virtual route", "instance", in.cfg.Name, "route", rt.String(), "err", err)
		}
	}
	for _, ru := range in.cfg.Rules {
		if err := r.env.Routes.AddRule(ru); err != nil {
			r.log.Error("vrrp: adding a virtual rule", "instance", in.cfg.Name, "rule", ru.String(), "err", err)
		}
	}
}

// removeHeld removes them in the reverse order: rules, routes, addresses.
func (r *Router) removeHeld(in *instance) {
	for _, ru := range in.cfg.Rules {
		if err := r.env.Routes.RemoveRule(ru); err != nil {
			r.log.Error("vrrp: removing a virtual rule", "instance", in.cfg.Name, "rule", ru.String(), "err", err)
		}
	}
	for _, rt := range in.cfg.Routes {
		if err := r.env.Routes.RemoveRoute(rt); err != nil {
			r.log.Error("vrrp: removing a virtual route", "instance", in.cfg.Name, "route", rt.String(), "err", err)
		}
	}
	for _, v := range in.cfg.heldAddrs() {
		if err := r.env.Addresses.Remove(v); err != nil {
			r.log.Error("vrrp: removing a virtual address", "instance", in.cfg.Name, "vip", v.Prefix, "device", v.Device, "err", err)
		}
	}
}
