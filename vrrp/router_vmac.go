package vrrp

import (
	"fmt"
	"time"
)

// createVMACs creates the instances' macvlans before the sockets are
// opened on them; on an error it removes those it made.
func (r *Router) createVMACs() error {
	for _, in := range r.insts {
		if !in.cfg.VMAC.Enabled {
			continue
		}
		spec := in.cfg.vmacSpec()
		if err := r.env.VMACs.Create(spec); err != nil {
			r.removeVMACsLocked()
			return fmt.Errorf("vrrp: instance %s: creating vmac %s on %s: %w", in.cfg.Name, spec.Name, spec.Parent, err)
		}
		r.log.Info("vrrp: vmac created", "instance", in.cfg.Name, "vmac", spec.Name, "interface", spec.Parent, "mac", spec.MAC.String())
		r.vmacs = append(r.vmacs, spec)
	}
	return nil
}

// removeVMACs removes the macvlans open created, after the instances
// have released their addresses.
func (r *Router) removeVMACs() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeVMACsLocked()
}

func (r *Router) removeVMACsLocked() {
	for i := len(r.vmacs) - 1; i >= 0; i-- {
		spec := r.vmacs[i]
		if err := r.env.VMACs.Remove(spec); err != nil {
			r.log.Warn("vrrp: removing a vmac", "vmac", spec.Name, "interface", spec.Parent, "err", err)
		}
	}
	r.vmacs = nil
}

// vmacEvent puts back a vmac that went down or away while the router
// runs (keepalived keeps its vmacs up): it is made again and, if its
// instance is master, the instance's addresses are put back on it.
func (r *Router) vmacEvent(e LinkEvent) {
	if e.Up {
		return
	}
	for _, spec := range r.vmacs {
		if spec.Name != e.Name {
			continue
		}
		if up, err := r.env.Links.Up(spec.Name); err == nil && up {
			return // a stale event (our own re-creation)
		}
		r.log.Warn("vrrp: vmac went down or away, making it again", "vmac", spec.Name, "interface", spec.Parent)
		if err := r.env.VMACs.Create(spec); err != nil {
			r.log.Error("vrrp: making a vmac again", "vmac", spec.Name, "interface", spec.Parent, "err", err)
			return
		}
		r.reopenSockets(spec.Name)
		for _, in := range r.insts {
			if in.cfg.VMAC.Enabled && in.cfg.VMAC.Name == spec.Name && in.m.State() == StateMaster {
				r.step(in, AddressRemoved{}, time.Now())
			}
		}
		return
	}
}

// reopenSockets opens the VRRP sockets on a device made again (a socket
// stays bound to the device it was opened on); the readers move to the
// new one when the old one's Recv fails on Close.
func (r *Router) reopenSockets(device string) {
	for _, s := range r.socks {
		if s.cfg.Interface != device {
			continue
		}
		tr, err := r.env.Listen(s.cfg)
		if err != nil {
			r.log.Error("vrrp: opening the VRRP socket again", "interface", device, "err", err)
			continue
		}
		old := s.tr
		s.tr = tr
		old.Close()
	}
}
