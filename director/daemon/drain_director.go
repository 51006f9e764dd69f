package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lvsd/lb/director/control"
)

// lbctl drain-director: this director gives up its VRRP mastership
// gracefully and stays out of it until lbctl undrain-director. Each
// router caps its instances' priority at vrrp.DrainPriority and a master
// hands over with a priority 0 advert, keeping the addresses until the
// peer's first advert (vrrp/drain.go), so no request is lost in between.
// The state is saved in state_dir/overrides.json: routers started later
// (a reload, a restart) start drained. A drained director still takes
// over when no other router is master: it never leaves the addresses
// unserved.

// errNoVRRP refuses drain-director on a director with neither VRRP nor
// BGP.
var errNoVRRP = errors.New("this director runs no VRRP instance and no bgp section: there is nothing to give up")

// directorDrainStatus is the director's drain for the status, nil when it
// is not drained.
func (d *Daemon) directorDrainStatus() *control.DirectorDrain {
	_, dr := d.ovr.snapshot()
	if !dr.Drained {
		return nil
	}
	return &control.DirectorDrain{Drained: true, Since: dr.Since}
}

// directorDrained reports whether the director is drained (for routers
// being started).
func (d *Daemon) directorDrained() bool {
	_, dr := d.ovr.snapshot()
	return dr.Drained
}

// SetDirectorDrain implements control.Overrider: it saves the state, drains
// (or undrains) every router, and when draining waits until no instance
// is MASTER or the handoff had its time (three advert intervals and a
// second); the answer lists the instances as they are then.
func (d *Daemon) SetDirectorDrain(ctx context.Context, req control.DirectorDrainRequest) (control.DirectorDrain, error) {
	d.applyMu.Lock() // the routers do not change under us
	defer d.applyMu.Unlock()
	routers := d.routers()
	if len(routers) == 0 && d.Config().BGP == nil {
		return control.DirectorDrain{}, errNoVRRP
	}
	servers, dr := d.ovr.snapshot()
	res := control.DirectorDrain{Drained: req.Drain, Changed: dr.Drained != req.Drain}
	if res.Changed {
		next := directorRecord{Drained: req.Drain}
		if req.Drain {
			next.Since = time.Now().UTC()
		}
		if err := d.ovr.save(servers, next); err != nil {
			return res, fmt.Errorf("drain-director not saved, nothing changed: %w", err)
		}
		dr = next
		d.log.Warn("director drain set by the operator", "drained", req.Drain)
		from, to := "none", "drain"
		if !req.Drain {
			from, to = to, from
		}
		d.emitDrain("director", from, to, 0)
	}
	res.Since = dr.Since
	for _, r := range routers {
		r.SetDrained(req.Drain)
	}
	bgpSt, err := d.drainRouting(ctx, req.Drain)
	res.BGP = bgpSt
	if err != nil {
		return res, err
	}
	if req.Drain {
		d.waitNotMaster(ctx, 3*d.maxAdvertInterval()+time.Second)
	}
	res.Instances = d.vrrpStatus()
	return res, nil
}

// drainRouting drains the other way this director attracts traffic: with
// a bgp section it withdraws every route (bgp_status.go's drainBGP), and
// announces them again on undrain. Without one it does nothing.
func (d *Daemon) drainRouting(ctx context.Context, drain bool) (*control.BGP, error) {
	if d.Config().BGP == nil {
		return nil, nil
	}
	return d.drainBGP(ctx, drain), nil
}

// waitNotMaster waits until no instance is MASTER, at most wait.
func (d *Daemon) waitNotMaster(ctx context.Context, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		master := false
		for _, in := range d.VRRPStats().Instances {
			master = master || in.State.String() == "MASTER"
		}
		if !master {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// maxAdvertInterval is the longest advert interval of the instances in
// force.
func (d *Daemon) maxAdvertInterval() time.Duration {
	var m time.Duration
	for _, in := range d.Config().VRRP.Instances {
		m = max(m, in.AdvertInterval)
	}
	return m
}

func joinReason(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
