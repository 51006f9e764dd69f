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
	bfdUp, bfdFailures, bfdTakeovers  *prometheus.Desc
	bfdDrops                          *prometheus.Desc
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
		bfdUp: desc("vrrp_bfd_session_up", "1 while the instance's BFD session to the peer is Up, else 0.",
			"instance", "iface", "vrid", "peer"),
		bfdFailures: desc("vrrp_bfd_session_failures_total", "Times the instance's BFD session to the peer left Up by the peer's silence.",
			"instance", "iface", "vrid", "peer"),
		bfdTakeovers: desc("vrrp_bfd_takeovers_total", "Times BFD's word that the master failed made the instance take over.",
			"instance", "iface", "vrid"),
		bfdDrops: desc("bfd_drops_total", "BFD packets dropped, by reason (ttl, short, version, length, detect_mult, multipoint, my_discr, your_discr, auth, demand, no_session, unknown_peer, admin_down, too_many).",
			"reason"),
		mails: desc("notify_mails_total", "E-mail alerts by result: sent, failed (the SMTP server refused or could not be reached), dropped (queue full).", "result"),
	}
}

func (c *alertCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.splitBrains, c.fifoLines, c.fifoDrops, c.mails, c.bfdUp, c.bfdFailures, c.bfdTakeovers, c.bfdDrops} {
		ch <- d
	}
}

func (c *alertCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.VRRP != nil {
		for _, in := range c.src.VRRP().Instances {
			vrid := strconv.Itoa(int(in.VRID))
			ch <- newMetric(c.splitBrains, prometheus.CounterValue, float64(in.SplitBrains), in.Name, in.Interface, vrid)
			if len(in.BFD) > 0 {
				ch <- newMetric(c.bfdTakeovers, prometheus.CounterValue, float64(in.BFDTakeovers), in.Name, in.Interface, vrid)
			}
			for _, b := range in.BFD {
				up := 0.0
				if b.State == "Up" {
					up = 1
				}
				ch <- newMetric(c.bfdUp, prometheus.GaugeValue, up, in.Name, in.Interface, vrid, b.Peer.String())
				ch <- newMetric(c.bfdFailures, prometheus.CounterValue, float64(b.Failures), in.Name, in.Interface, vrid, b.Peer.String())
			}
		}
	}
	if c.src.BFDDrops != nil {
		for r, n := range c.src.BFDDrops() {
			ch <- newMetric(c.bfdDrops, prometheus.CounterValue, float64(n), r)
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
