package daemon

import (
	"net/netip"

	"github.com/lvsd/lb/internal/config"
)

// omega runs, on stop, keepalived's omega notifiers: for each service
// with omega set, the notify_down command of every real server up, then
// its quorum_down command (whatever its quorum state, as keepalived does
// on shutdown). Services without omega run nothing on stop.
func (d *Daemon) omega() {
	p := d.ipvsNow()
	if p == nil {
		return
	}
	cfg := d.Config()
	desired := p.mgr.Desired()
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		if !vs.Omega {
			continue
		}
		key := ServiceKeyOf(vs)
		for _, st := range desired.RealServers {
			if st.ID.Service != key || st.Sorry || !st.Up {
				continue
			}
			if rs := realServerOf(vs, st.ID.Address, st.ID.Port); rs != nil {
				d.log.Info("omega: real server down on stop", "service", key.String(), "server", serverString(st.ID))
				d.run(rs.NotifyDown, "notify command failed to start", "service", key.String(), "server", serverString(st.ID))
			}
		}
		d.log.Info("omega: quorum down on stop", "service", key.String())
		d.run(vs.QuorumDown, "quorum command failed to start", "service", key.String())
	}
}

// realServerOf returns vs's real server at addr and port, or nil.
func realServerOf(vs *config.VirtualServer, addr netip.Addr, port uint16) *config.RealServer {
	for i := range vs.RealServers {
		if rs := &vs.RealServers[i]; rs.Address == addr && rs.Port == port {
			return rs
		}
	}
	return nil
}
