package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Discovery is one service's ZooKeeper discovery at scrape time.
type Discovery struct {
	Service    string
	Path       string
	Static     int  // static real servers of the service
	Members    int  // discovered members applied
	Leaving    int  // members gone from the registry, drained at weight 0 until their connections end
	SessionUp  bool // the ZooKeeper session is established
	Stale      bool // the registry is lost: the members are the last known
	StaleSince time.Time
	Held       bool              // an update is held (lbctl discovery confirm)
	Events     map[string]uint64 // by DiscoveryEvents
}

// DiscoveryEvents are the events lbd_discovery_events_total counts, each
// exported from 0: applied (a list changed the members), held (an update
// removing too large a share was held), confirmed (an operator released
// one), stale (the registry was lost), invalid (a child left out: it does
// not parse, or repeats a member).
var DiscoveryEvents = []string{"applied", "held", "confirmed", "stale", "invalid"}

// discoveryCollector exports Sources.Discovery.
type discoveryCollector struct {
	src                                       Sources
	members, session, stale, staleSince, held *prometheus.Desc
	events                                    *prometheus.Desc
}

func newDiscoveryCollector(src Sources) *discoveryCollector {
	sp := []string{"service", "path"}
	return &discoveryCollector{
		src:        src,
		members:    desc("discovery_members", "Real servers of a service with discovery, by source: static (the file), zookeeper (members applied) or leaving (gone from the registry, at weight 0 until their connections end).", "service", "path", "source"),
		session:    desc("discovery_session_up", "1 while the ZooKeeper session of the service's discovery is established.", sp...),
		stale:      desc("discovery_stale", "1 while the registry is lost: the members are the last known ones (kept, still checked).", sp...),
		staleSince: desc("discovery_stale_since_seconds", "Unix time since which the discovery is stale; 0 when it is fresh.", sp...),
		held:       desc("discovery_held", "1 while an update removing too large a share of the pool is held (lbctl discovery confirm).", sp...),
		events:     desc("discovery_events_total", "Discovery events by kind: applied, held, confirmed, stale, invalid.", "service", "path", "event"),
	}
}

func (c *discoveryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.members, c.session, c.stale, c.staleSince, c.held, c.events} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *discoveryCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Discovery == nil {
		return
	}
	gauge := prometheus.GaugeValue
	for _, d := range c.src.Discovery() {
		l := []string{d.Service, d.Path}
		ch <- newMetric(c.members, gauge, float64(d.Static), d.Service, d.Path, "static")
		ch <- newMetric(c.members, gauge, float64(d.Members), d.Service, d.Path, "zookeeper")
		ch <- newMetric(c.members, gauge, float64(d.Leaving), d.Service, d.Path, "leaving")
		ch <- newMetric(c.session, gauge, b2f(d.SessionUp), l...)
		ch <- newMetric(c.stale, gauge, b2f(d.Stale), l...)
		since := 0.0
		if d.Stale && !d.StaleSince.IsZero() {
			since = float64(d.StaleSince.UnixNano()) / 1e9
		}
		ch <- newMetric(c.staleSince, gauge, since, l...)
		ch <- newMetric(c.held, gauge, b2f(d.Held), l...)
		for _, e := range DiscoveryEvents {
			ch <- newMetric(c.events, prometheus.CounterValue, float64(d.Events[e]), d.Service, d.Path, e)
		}
	}
}
