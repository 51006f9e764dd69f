package daemon

import (
	"slices"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/config"
)

// Alpha and trust. A check with alpha starts down: its real server gets no
// traffic, and costs no write, before the check first passes
// (SpecsFromConfig sets CheckRef.DownUntilReport from the check's effective
// alpha). A trusted real server is exempt: its alpha checks count as up
// until they report, and it stays until one reports it down. Trusted are
// the servers up now (a reload that re-checks them does not take them out
// first) and, at start, those the kernel already serves with a weight
// above 0 (a restart of lbd adopts them with no write). The same rule
// holds for static real servers and discovered members (whose alpha comes
// from trust_new: memberServer).

// trustedServers is the real servers whose alpha checks count as up until
// they report, or nil when no check of subs has alpha. p may be nil
// (VRRP only: nothing to trust).
func (d *Daemon) trustedServers(p *ipvsPart, next *config.Director, subs []CheckSub, start bool) map[director.RealServerID]bool {
	if p == nil || !slices.ContainsFunc(subs, func(s CheckSub) bool { return s.Timing.Alpha }) {
		return nil
	}
	trusted := d.upServers()
	if trusted == nil {
		trusted = map[director.RealServerID]bool{}
	}
	if !start {
		return trusted
	}
	kt, err := table.Read(p.kern)
	if err != nil {
		d.log.Warn("cannot read the kernel's table: real servers with alpha checks start down", "err", err)
		return trusted
	}
	for id := range kernelServing(next.VirtualServers, kt) {
		trusted[id] = true
	}
	return trusted
}

// kernelServing is the real servers of vss that kt (the kernel's table)
// holds with a weight above 0.
func kernelServing(vss []config.VirtualServer, kt table.Table) map[director.RealServerID]bool {
	out := map[director.RealServerID]bool{}
	for i := range vss {
		vs := &vss[i]
		key := ServiceKeyOf(vs)
		svc, ok := kt.Find(key)
		if !ok {
			continue
		}
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			if slices.ContainsFunc(svc.Destinations, func(kd table.Destination) bool {
				return kd.Weight > 0 && kd.Address.Unmap() == rs.Address.Unmap() && kd.Port == rs.Port
			}) {
				out[director.RealServerID{Service: key, Address: rs.Address, Port: rs.Port}] = true
			}
		}
	}
	return out
}
