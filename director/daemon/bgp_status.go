package daemon

import (
	"context"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/metrics"
)

// bgpStatusTimeout bounds the speaker's answer to a status read.
const bgpStatusTimeout = 2 * time.Second

// bgpControlStatus is the BGP part of the control socket's status.
func (d *Daemon) bgpControlStatus(ctx context.Context) *control.BGP {
	cfg := d.Config()
	if cfg.BGP == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, bgpStatusTimeout)
	defer cancel()
	st, err := d.bgpStatus(ctx)
	if st == nil {
		return nil
	}
	d.bgp.mu.Lock()
	draining, id := d.bgp.draining, d.bgp.routerID
	d.bgp.mu.Unlock()
	out := &control.BGP{ASN: cfg.BGP.ASN, RouterID: id, Draining: draining}
	if err != nil {
		out.Error = err.Error()
	}
	for _, p := range st.Peers {
		out.Peers = append(out.Peers, control.BGPPeer{Address: p.Address, ASN: p.ASN, State: p.State, Since: p.Since, HoldTime: p.HoldTime, BFD: p.BFD})
	}
	for _, p := range st.Prefixes {
		out.Prefixes = append(out.Prefixes, control.BGPPrefix{Prefix: p.Prefix, Announced: p.Announced, Reason: string(p.Reason), Since: p.Since})
	}
	if len(st.Withdrawals) > 0 {
		out.Withdrawals = map[string]uint64{}
		for r, n := range st.Withdrawals {
			out.Withdrawals[string(r)] = n
		}
	}
	return out
}

// bgpMetrics is the BGP part of a scrape; nil without BGP.
func (d *Daemon) bgpMetrics() *metrics.BGP {
	st := d.bgpControlStatus(context.Background())
	if st == nil {
		return nil
	}
	m := &metrics.BGP{Withdrawals: st.Withdrawals}
	for _, p := range st.Peers {
		m.Peers = append(m.Peers, metrics.BGPPeer{Address: p.Address.String(), State: p.State, Since: p.Since})
	}
	for _, p := range st.Prefixes {
		m.Prefixes = append(m.Prefixes, metrics.BGPPrefix{Prefix: p.Prefix.String(), Announced: p.Announced, Reason: p.Reason})
	}
	return m
}

// drainBGP is the BGP half of the director's drain (drain_director.go):
// drain withdraws every route (reason draining) while lbd keeps serving
// what still reaches it; !drain lets the announcer announce again.
func (d *Daemon) drainBGP(ctx context.Context, drain bool) *control.BGP {
	d.bgp.mu.Lock()
	d.bgp.draining = drain
	d.bgp.mu.Unlock()
	d.log.Warn("bgp: director drain", "drain", drain)
	d.announce(ctx)
	return d.bgpControlStatus(ctx)
}
