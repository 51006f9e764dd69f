package daemon

import (
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/vrrp"
)

// applyStatic makes the system hold next's static addresses, routes and
// rules (vrrp.static_*), removing those of prev that next lacks: prev is
// nil at start, next nil at stop. Nothing is done when both hold the same.
// A failure is logged: the static entries do not stop VRRP, as in
// keepalived.
func (d *Daemon) applyStatic(prev, next *vrrp.Set) {
	empty := &vrrp.Set{}
	if prev == nil {
		prev = empty
	}
	if next == nil {
		next = empty
	}
	if prev.StaticEqual(next) {
		return
	}
	var err error
	if d.opts.VRRPEnv != nil {
		var env vrrp.Env
		if env, err = d.opts.VRRPEnv(d.log); err == nil {
			err = vrrp.ApplyStatic(env, prev, next)
		}
	} else {
		err = vrrp.ApplyStaticLinux(d.log, prev, next)
	}
	if err != nil {
		d.log.Error("vrrp static addresses, routes and rules", "err", err)
		return
	}
	d.log.Info("vrrp static addresses, routes and rules set", "addresses", len(next.StaticAddresses),
		"routes", len(next.StaticRoutes), "rules", len(next.StaticRules))
}

// oldVRRP is the running configuration's VRRP set (nil before the first).
func oldVRRP(old *config.Director) *vrrp.Set {
	if old == nil {
		return nil
	}
	return &old.VRRP
}
