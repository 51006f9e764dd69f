package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BGP is the BGP speaker at scrape time (issue 16).
type BGP struct {
	Peers    []BGPPeer
	Prefixes []BGPPrefix
	// Withdrawals counts the withdrawals so far by reason.
	Withdrawals map[string]uint64
}

// BGPPeer is one peer's session.
type BGPPeer struct {
	Address string
	State   string    // idle, connect, active, opensent, openconfirm, established
	Since   time.Time // established since; zero otherwise
}

// BGPPrefix is one configured VIP's route.
type BGPPrefix struct {
	Prefix    string
	Announced bool
	Reason    string // why it is not announced ("" when it is)
}

// BGPStates are the session states lbd_bgp_peer_state exports, each from 0.
var BGPStates = []string{"idle", "connect", "active", "opensent", "openconfirm", "established"}

// bgpCollector exports Sources.BGP.
type bgpCollector struct {
	src                                            Sources
	peerUp, peerState, uptime, announced, withdraw *prometheus.Desc
}

func newBGPCollector(src Sources) *bgpCollector {
	return &bgpCollector{
		src:       src,
		peerUp:    desc("bgp_peer_up", "1 while the BGP session with the peer is established.", "peer"),
		peerState: desc("bgp_peer_state", "1 for the BGP session's current FSM state, 0 for the others.", "peer", "state"),
		uptime:    desc("bgp_peer_uptime_seconds", "Seconds since the BGP session was established; 0 when it is not.", "peer"),
		announced: desc("bgp_prefix_announced", "1 while the VIP's route is announced; 0 with the reason it is withdrawn (stopping, draining, not programmed, quorum lost).", "prefix", "reason"),
		withdraw:  desc("bgp_withdrawals_total", "Routes withdrawn so far, by reason.", "reason"),
	}
}

func (c *bgpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.peerUp, c.peerState, c.uptime, c.announced, c.withdraw} {
		ch <- d
	}
}

func (c *bgpCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.BGP == nil {
		return
	}
	b := c.src.BGP()
	if b == nil {
		return
	}
	gauge := prometheus.GaugeValue
	for _, p := range b.Peers {
		est := p.State == "established"
		ch <- newMetric(c.peerUp, gauge, b2f(est), p.Address)
		for _, s := range BGPStates {
			ch <- newMetric(c.peerState, gauge, b2f(p.State == s), p.Address, s)
		}
		up := 0.0
		if est && !p.Since.IsZero() {
			up = time.Since(p.Since).Seconds()
		}
		ch <- newMetric(c.uptime, gauge, up, p.Address)
	}
	for _, p := range b.Prefixes {
		ch <- newMetric(c.announced, gauge, b2f(p.Announced), p.Prefix, p.Reason)
	}
	for r, n := range b.Withdrawals {
		ch <- newMetric(c.withdraw, prometheus.CounterValue, float64(n), r)
	}
}
