package vrrp

import "fmt"

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
