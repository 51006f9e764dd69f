package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// alertCollector exports the split-brain alarm (from Sources.VRRP) and the
// notifier's counters (Sources.Notify).
type alertCollector struct {
	src                               Sources
	splitBrains, fifoLines, fifoDrops *prometheus.Desc
	mails                             *prometheus.Desc
}

// MailResults are the results lbd_notify_mails_total counts.
var MailResults = []string{"sent", "failed", "dropped"}

func newAlertCollector(src Sources) *alertCollector {
	return &alertCollector{
		src: src,
		splitBrains: desc("vrrp_split_brains_total", "Split-brain episodes: as MASTER, the instance kept hearing another master that loses to it.",
			"instance", "iface", "vrid"),
		fifoLines: desc("notify_fifo_lines_total", "Lines written to the notify FIFOs."),
		fifoDrops: desc("notify_fifo_dropped_total", "Notify FIFO lines dropped: queue full, no reader draining the FIFO, or the FIFO unusable."),
		mails:     desc("notify_mails_total", "E-mail alerts by result: sent, failed (the SMTP server refused or could not be reached), dropped (queue full).", "result"),
	}
}

func (c *alertCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.splitBrains, c.fifoLines, c.fifoDrops, c.mails} {
		ch <- d
	}
}

func (c *alertCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.VRRP != nil {
		for _, in := range c.src.VRRP().Instances {
			ch <- newMetric(c.splitBrains, prometheus.CounterValue, float64(in.SplitBrains), in.Name, in.Interface, strconv.Itoa(int(in.VRID)))
		}
	}
	if c.src.Notify != nil {
		n := c.src.Notify()
		ch <- newMetric(c.fifoLines, prometheus.CounterValue, float64(n.FIFOLines))
		ch <- newMetric(c.fifoDrops, prometheus.CounterValue, float64(n.FIFODropped))
		for i, v := range []uint64{n.MailSent, n.MailFailed, n.MailDropped} {
			ch <- newMetric(c.mails, prometheus.CounterValue, float64(v), MailResults[i])
		}
	}
}
