package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// buildCollector exports lbd_build_info from Sources.Build.
type buildCollector struct {
	src  Sources
	info *prometheus.Desc
}

func newBuildCollector(src Sources) *buildCollector {
	return &buildCollector{src: src, info: desc("build_info",
		"Always 1: lbd's version, VCS revision (+dirty for a modified tree, unknown without VCS information) and Go version.",
		"version", "revision", "goversion")}
}

func (c *buildCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.info }

func (c *buildCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Build == nil {
		return
	}
	b := c.src.Build()
	ch <- newMetric(c.info, prometheus.GaugeValue, 1, b.Version, b.RevisionString(), b.GoVersion)
}
