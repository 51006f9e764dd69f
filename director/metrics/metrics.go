// Package metrics exposes lbd's state to Prometheus (client_golang): VRRP
// instances, the kernel's IPVS counters, health checks and the reconciler.
// A single prometheus.Collector reads snapshots from its sources at scrape
// time; nothing polls in the background. Each Handler has a registry of its
// own (no global registry). docs/metrics.md lists every metric.
package metrics

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lvsd/lb/director/alert"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/buildinfo"
	"github.com/lvsd/lb/vrrp"
)

// Check is one health-check subscription's state as the metrics show it.
type Check struct {
	Service, Server, Check string
	Up                     bool
	// LastDuration is how long the last attempt took; Checks and Failures
	// count attempts of the underlying (possibly shared) check.
	LastDuration     time.Duration
	Checks, Failures uint64
}

// Sources are read at scrape time; a nil source leaves its metrics out.
type Sources struct {
	VRRP func() vrrp.Stats
	// Transitions counts VRRP transitions by instance and target state.
	Transitions func() map[string]map[string]uint64
	// IPVS reads the kernel's table with counters; ErrNoIPVS (lbd runs
	// VRRP only) leaves every IPVS metric out, lbd_ipvs_up included.
	IPVS   func() (table.Table, error)
	Checks func() []Check
	// CheckTotals are the scheduler's completed attempts and failures.
	CheckTotals func() (checks, failures uint64)
	// Reconciler returns write attempts and repairs.
	Reconciler func() (writes, repairs uint64)
	// Reloads counts reloads by result (ReloadResults).
	Reloads func() map[string]uint64
	// Notify returns the notifier's counters (alerts.go).
	Notify func() alert.Counters
	// Discovery is each service's ZooKeeper discovery (discovery.go).
	Discovery func() []Discovery
	// BGP is the BGP speaker (bgp.go); nil (or a nil answer) without BGP.
	BGP func() *BGP
	// Build is lbd's build information: lbd_build_info (build.go).
	Build func() buildinfo.Info
	// Operator is each real server's state and the director's drain
	// (servers.go).
	Operator func() Operator
	// BFDDrops counts the BFD packets dropped by reason (alerts.go); nil
	// or an empty answer without bfd.
	BFDDrops func() map[string]uint64
}

// ErrNoIPVS is what Sources.IPVS returns when lbd runs VRRP only: there is
// no IPVS table, and no lbd_ipvs_up.
var ErrNoIPVS = errors.New("lbd runs VRRP only: no IPVS table")

// ReloadResults are the results lbd_reloads_total counts, each always
// exported (0 until it happens): applied; failed (applied with errors);
// invalid (the file could not be read or is invalid); refused (by the
// removal guard).
var ReloadResults = []string{"applied", "failed", "invalid", "refused"}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("lbd_"+name, help, labels, nil)
}

var (
	svcLabels  = []string{"service", "protocol", "address", "port", "fwmark"}
	destLabels = []string{"service", "protocol", "address", "port", "fwmark", "server"}
)

// Collector is a prometheus.Collector that turns Sources into constant
// metrics at each scrape.
type Collector struct {
	src Sources

	vrrpState, vrrpPrio, vrrpBasePrio, vrrpTrans, vrrpSent, vrrpRecv, vrrpDrops, vrrpPrioZeroRecv, vrrpPrioZeroSent *prometheus.Desc
	vrrpSockDrops                                                                                                   *prometheus.Desc

	svcConns, svcInPkts, svcOutPkts, svcInBytes, svcOutBytes *prometheus.Desc
	dstConns, dstInPkts, dstOutPkts, dstInBytes, dstOutBytes *prometheus.Desc
	dstActive, dstInactive, dstWeight                        *prometheus.Desc
	ipvsUp                                                   *prometheus.Desc

	checkUp, checkDuration, checkAttempts, checksTotal *prometheus.Desc
	recWrites, recRepairs                              *prometheus.Desc
	reloads                                            *prometheus.Desc
}

// NewCollector returns a collector reading src.
func NewCollector(src Sources) *Collector {
	inst := []string{"instance", "iface", "vrid"}
	return &Collector{
		src:              src,
		vrrpState:        desc("vrrp_state", "VRRP instance state: 0 init, 1 backup, 2 master, 3 fault, 4 stopped.", inst...),
		vrrpPrio:         desc("vrrp_priority", "Effective VRRP priority (after tracking).", inst...),
		vrrpBasePrio:     desc("vrrp_base_priority", "Configured VRRP priority.", inst...),
		vrrpTrans:        desc("vrrp_transitions_total", "VRRP state transitions by target state.", "instance", "state"),
		vrrpSent:         desc("vrrp_adverts_sent_total", "VRRP advertisements sent.", inst...),
		vrrpRecv:         desc("vrrp_adverts_received_total", "VRRP advertisements received that passed the checks.", inst...),
		vrrpPrioZeroSent: desc("vrrp_priority_zero_sent_total", "Priority 0 advertisements sent (master leaving).", inst...),
		vrrpPrioZeroRecv: desc("vrrp_priority_zero_received_total", "Priority 0 advertisements received.", inst...),
		vrrpDrops:        desc("vrrp_drops_total", "Received VRRP packets dropped, by reason.", "instance", "iface", "vrid", "reason"),
		vrrpSockDrops:    desc("vrrp_socket_drops_total", "VRRP packets dropped before reaching an instance, by interface and reason.", "iface", "family", "reason"),

		svcConns:    desc("ipvs_service_connections_total", "Connections scheduled by the IPVS service.", svcLabels...),
		svcInPkts:   desc("ipvs_service_incoming_packets_total", "Incoming packets of the IPVS service.", svcLabels...),
		svcOutPkts:  desc("ipvs_service_outgoing_packets_total", "Outgoing packets of the IPVS service.", svcLabels...),
		svcInBytes:  desc("ipvs_service_incoming_bytes_total", "Incoming bytes of the IPVS service.", svcLabels...),
		svcOutBytes: desc("ipvs_service_outgoing_bytes_total", "Outgoing bytes of the IPVS service.", svcLabels...),
		dstConns:    desc("ipvs_backend_connections_total", "Connections scheduled to the real server.", destLabels...),
		dstInPkts:   desc("ipvs_backend_incoming_packets_total", "Incoming packets to the real server.", destLabels...),
		dstOutPkts:  desc("ipvs_backend_outgoing_packets_total", "Outgoing packets from the real server.", destLabels...),
		dstInBytes:  desc("ipvs_backend_incoming_bytes_total", "Incoming bytes to the real server.", destLabels...),
		dstOutBytes: desc("ipvs_backend_outgoing_bytes_total", "Outgoing bytes from the real server.", destLabels...),
		dstActive:   desc("ipvs_backend_active_connections", "Active connections to the real server (ActiveConn).", destLabels...),
		dstInactive: desc("ipvs_backend_inactive_connections", "Inactive connections to the real server (InActConn).", destLabels...),
		dstWeight:   desc("ipvs_backend_weight", "Weight of the real server in the kernel table.", destLabels...),
		ipvsUp:      desc("ipvs_up", "1 if the kernel's IPVS table could be read at this scrape."),

		checkUp:       desc("check_up", "1 if the health check passes (its state after rise/fall), else 0.", "service", "server", "check"),
		checkDuration: desc("check_duration_seconds", "Duration of the last attempt of the health check.", "service", "server", "check"),
		checkAttempts: desc("check_attempts_total", "Attempts of the health check (shared by identical checks), by result.", "service", "server", "check", "result"),
		checksTotal:   desc("checks_total", "Health-check attempts of the scheduler, by result (ok or fail).", "result"),
		recWrites:     desc("reconciler_writes_total", "IPVS write attempts by the reconciler (failed ones included)."),
		recRepairs:    desc("reconciler_repairs_total", "IPVS repairs made by resyncs (changes made behind lbd's back)."),
		reloads:       desc("reloads_total", "Configuration reloads by result: applied, failed (applied with errors), invalid, refused (removal guard).", "result"),
	}
}

// Describe implements prometheus.Collector: it sends every metric's
// description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.vrrpState, c.vrrpPrio, c.vrrpBasePrio, c.vrrpTrans, c.vrrpSent, c.vrrpRecv,
		c.vrrpPrioZeroSent, c.vrrpPrioZeroRecv, c.vrrpDrops, c.vrrpSockDrops,
		c.svcConns, c.svcInPkts, c.svcOutPkts, c.svcInBytes, c.svcOutBytes,
		c.dstConns, c.dstInPkts, c.dstOutPkts, c.dstInBytes, c.dstOutBytes, c.dstActive, c.dstInactive, c.dstWeight, c.ipvsUp,
		c.checkUp, c.checkDuration, c.checkAttempts, c.checksTotal, c.recWrites, c.recRepairs, c.reloads} {
		ch <- d
	}
}

// newMetric returns a constant sample, or an invalid metric carrying the
// error (bad label values), which the handler logs and leaves out.
func newMetric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

// vrrpStateValue maps states to keepalived exporters' numbers.
func vrrpStateValue(s vrrp.State) float64 {
	switch s {
	case vrrp.StateBackup:
		return 1
	case vrrp.StateMaster:
		return 2
	case vrrp.StateFault:
		return 3
	case vrrp.StateStopped:
		return 4
	}
	return 0
}

// Collect implements prometheus.Collector: it reads the sources and sends
// the metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	if c.src.VRRP != nil {
		st := c.src.VRRP()
		for _, in := range st.Instances {
			l := []string{in.Name, in.Interface, strconv.Itoa(int(in.VRID))}
			ch <- newMetric(c.vrrpState, gauge, vrrpStateValue(in.State), l...)
			ch <- newMetric(c.vrrpPrio, gauge, float64(in.Priority), l...)
			ch <- newMetric(c.vrrpBasePrio, gauge, float64(in.BasePriority), l...)
			ch <- newMetric(c.vrrpSent, counter, float64(in.AdvertsSent), l...)
			ch <- newMetric(c.vrrpRecv, counter, float64(in.AdvertsReceived), l...)
			ch <- newMetric(c.vrrpPrioZeroSent, counter, float64(in.PriorityZeroSent), l...)
			ch <- newMetric(c.vrrpPrioZeroRecv, counter, float64(in.PriorityZeroReceived), l...)
			for r := vrrp.DropReason(0); r < vrrp.NumDropReasons; r++ {
				ch <- newMetric(c.vrrpDrops, counter, float64(in.Drops[r]), append(l, r.String())...)
			}
		}
		type sk struct{ iface, fam, reason string }
		socks := map[sk]uint64{}
		for _, s := range st.Sockets {
			fam := "ipv4"
			if s.IPv6 {
				fam = "ipv6"
			}
			for r, n := range s.Drops {
				socks[sk{s.Interface, fam, r.String()}] += n
			}
		}
		for k, n := range socks {
			ch <- newMetric(c.vrrpSockDrops, counter, float64(n), k.iface, k.fam, k.reason)
		}
	}
	if c.src.Transitions != nil {
		for inst, m := range c.src.Transitions() {
			for state, n := range m {
				ch <- newMetric(c.vrrpTrans, counter, float64(n), inst, state)
			}
		}
	}
	if c.src.IPVS != nil {
		c.collectIPVS(ch)
	}
	if c.src.Checks != nil {
		for _, k := range c.src.Checks() {
			l := []string{k.Service, k.Server, k.Check}
			up := 0.0
			if k.Up {
				up = 1
			}
			ch <- newMetric(c.checkUp, gauge, up, l...)
			ch <- newMetric(c.checkDuration, gauge, k.LastDuration.Seconds(), l...)
			ch <- newMetric(c.checkAttempts, counter, float64(k.Checks-k.Failures), append(l, "ok")...)
			ch <- newMetric(c.checkAttempts, counter, float64(k.Failures), append(l, "fail")...)
		}
	}
	if c.src.CheckTotals != nil {
		n, f := c.src.CheckTotals()
		ch <- newMetric(c.checksTotal, counter, float64(n-f), "ok")
		ch <- newMetric(c.checksTotal, counter, float64(f), "fail")
	}
	if c.src.Reconciler != nil {
		w, r := c.src.Reconciler()
		ch <- newMetric(c.recWrites, counter, float64(w))
		ch <- newMetric(c.recRepairs, counter, float64(r))
	}
	if c.src.Reloads != nil {
		n := c.src.Reloads()
		for _, res := range ReloadResults {
			ch <- newMetric(c.reloads, counter, float64(n[res]), res)
		}
	}
}

func serviceLabels(k table.ServiceKey) []string {
	proto, addr, port, fw := "", "", "", ""
	if k.FWMark != 0 {
		// Firewall-mark services have no protocol, address or port.
		fw = strconv.FormatUint(uint64(k.FWMark), 10)
	} else {
		proto = k.Protocol.String()
		addr = k.Address.String()
		port = strconv.Itoa(int(k.Port))
	}
	return []string{k.String(), proto, addr, port, fw}
}

// NewRegistry returns a fresh registry holding the collector of src and
// the Go runtime and process collectors.
func NewRegistry(src Sources) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src), newAlertCollector(src), newDiscoveryCollector(src), newBGPCollector(src), newBuildCollector(src),
		newOperatorCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler returns an http.Handler serving /metrics from a registry of its
// own (see NewRegistry), in the format the scraper asks for (text 0.0.4 by
// default). A metric that fails at a scrape is logged and left out; the
// rest is served.
func Handler(src Sources) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(NewRegistry(src), promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(slog.Default().Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux
}

// collectIPVS sends lbd_ipvs_up and the table's counters.
func (c *Collector) collectIPVS(ch chan<- prometheus.Metric) {
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	t, err := c.src.IPVS()
	if errors.Is(err, ErrNoIPVS) {
		return // VRRP only: no IPVS metric at all
	}
	up := 1.0
	if err != nil {
		up = 0
	}
	ch <- newMetric(c.ipvsUp, gauge, up)
	for _, s := range t.Services {
		sl := serviceLabels(s.ServiceKey)
		stat := func(d *prometheus.Desc, v uint64, l []string) {
			ch <- newMetric(d, counter, float64(v), l...)
		}
		stat(c.svcConns, s.Stats.Conns, sl)
		stat(c.svcInPkts, s.Stats.InPkts, sl)
		stat(c.svcOutPkts, s.Stats.OutPkts, sl)
		stat(c.svcInBytes, s.Stats.InBytes, sl)
		stat(c.svcOutBytes, s.Stats.OutBytes, sl)
		for _, d := range s.Destinations {
			dl := append(append([]string{}, sl...), d.Key().String())
			stat(c.dstConns, d.Stats.Conns, dl)
			stat(c.dstInPkts, d.Stats.InPkts, dl)
			stat(c.dstOutPkts, d.Stats.OutPkts, dl)
			stat(c.dstInBytes, d.Stats.InBytes, dl)
			stat(c.dstOutBytes, d.Stats.OutBytes, dl)
			ch <- newMetric(c.dstActive, gauge, float64(d.ActiveConns), dl...)
			ch <- newMetric(c.dstInactive, gauge, float64(d.InactConns), dl...)
			ch <- newMetric(c.dstWeight, gauge, float64(d.Weight), dl...)
		}
	}
}
