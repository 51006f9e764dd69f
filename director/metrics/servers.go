package metrics

import "github.com/prometheus/client_golang/prometheus"

// ServerState is one real server's state at scrape time.
type ServerState struct {
	Service, Server string
	// State is one of ServerStates.
	State string
}

// ServerStates are the states lbd_real_server_state exports, each from 0:
// up, down (its checks), draining and maintenance (an operator's lbctl
// drain / maintenance), slow-starting (its weight ramping back up).
var ServerStates = []string{"up", "down", "draining", "maintenance", "slow-starting"}

// Operator is the operators' overrides at scrape time.
type Operator struct {
	Servers []ServerState
	// DirectorDrained: lbctl drain-director is in force.
	DirectorDrained bool
}

// operatorCollector exports Sources.Operator.
type operatorCollector struct {
	src            Sources
	state, drained *prometheus.Desc
}

func newOperatorCollector(src Sources) *operatorCollector {
	return &operatorCollector{
		src:     src,
		state:   desc("real_server_state", "1 for the real server's state (up, down, draining, maintenance, slow-starting), 0 for the others.", "service", "server", "state"),
		drained: desc("director_drained", "1 while this director is drained (lbctl drain-director): it stays BACKUP."),
	}
}

func (c *operatorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.drained
}

func (c *operatorCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Operator == nil {
		return
	}
	o := c.src.Operator()
	for _, s := range o.Servers {
		for _, st := range ServerStates {
			ch <- newMetric(c.state, prometheus.GaugeValue, b2f(s.State == st), s.Service, s.Server, st)
		}
	}
	ch <- newMetric(c.drained, prometheus.GaugeValue, b2f(o.DirectorDrained))
}
