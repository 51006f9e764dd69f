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
// first) and, at start, those the kernel already holds as up: with a
// weight above 0, or at weight 0 when that is their up weight (configured
// 0, drained by the operator); a restart of lbd adopts them with no write.
// One the kernel holds at weight 0 otherwise (inhibited) is not trusted. The same rule
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
	drained := map[director.RealServerID]bool{}
	for id, o := range p.mgr.Overrides() {
		drained[id] = o.State == director.AdminDrain
	}
	for id := range kernelServing(next.VirtualServers, kt, drained) {
		trusted[id] = true
	}
	return trusted
}

// kernelServing is the real servers of vss that kt (the kernel's table)
// holds as they would be up: with a weight above 0, or at weight 0 when
// that is their up weight (configured 0, or drained by the operator).
func kernelServing(vss []config.VirtualServer, kt table.Table, drained map[director.RealServerID]bool) map[director.RealServerID]bool {
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
			id := director.RealServerID{Service: key, Address: rs.Address, Port: rs.Port}
			if slices.ContainsFunc(svc.Destinations, func(kd table.Destination) bool {
				return kd.Address.Unmap() == rs.Address.Unmap() && kd.Port == rs.Port &&
					(kd.Weight > 0 || rs.Weight == 0 || drained[id])
			}) {
				out[id] = true
			}
		}
	}
	return out
}
