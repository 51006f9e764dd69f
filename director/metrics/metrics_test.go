package metrics

import (
	"github.com/lvsd/lb/internal/buildinfo"

	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lvsd/lb/director/alert"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/vrrp"
)

func sampleSources() Sources {
	svc := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP,
		Address: netip.MustParseAddr("192.0.2.10"), Port: 80}, Scheduler: "rr",
		Stats: table.Stats{Conns: 12, InPkts: 100, OutPkts: 90, InBytes: 5000, OutBytes: 4000},
		Destinations: []table.Destination{{Address: netip.MustParseAddr("198.51.100.1"), Port: 80, Weight: 3,
			ActiveConns: 2, InactConns: 5, Stats: table.Stats{Conns: 7}}}}
	fwm := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, FWMark: 5}, Scheduler: "wlc",
		Stats: table.Stats{Conns: 4}}
	return Sources{
		VRRP: func() vrrp.Stats {
			return vrrp.Stats{Instances: []vrrp.InstanceStats{{Name: "VI_1", Interface: "eth0", VRID: 51,
				State: vrrp.StateMaster, Priority: 200, BasePriority: 200, AdvertsSent: 42, AdvertsReceived: 3,
				PriorityZeroSent: 1, Drops: map[vrrp.DropReason]uint64{vrrp.DropAuth: 4}}},
				Sockets: []vrrp.SocketStats{
					{Interface: "eth0", Drops: map[vrrp.DropReason]uint64{vrrp.DropVRID: 9}},
					// Two sockets of one interface and family add up.
					{Interface: "eth0", Drops: map[vrrp.DropReason]uint64{vrrp.DropVRID: 1}},
					{Interface: "eth0", IPv6: true, Drops: map[vrrp.DropReason]uint64{vrrp.DropTTL: 2}},
				}}
		},
		Transitions: func() map[string]map[string]uint64 { return map[string]map[string]uint64{"VI_1": {"MASTER": 1}} },
		IPVS:        func() (table.Table, error) { return table.Table{Services: []table.Service{svc, fwm}}, nil },
		Checks: func() []Check {
			return []Check{{Service: "TCP 192.0.2.10:80", Server: "198.51.100.1:80", Check: "http#0", Up: true,
				LastDuration: 1500 * time.Microsecond, Checks: 10, Failures: 1}}
		},
		CheckTotals: func() (uint64, uint64) { return 10, 1 },
		Reconciler:  func() (uint64, uint64) { return 5, 2 },
		Reloads:     func() map[string]uint64 { return map[string]uint64{"applied": 3, "refused": 1} },
	}
}

// scrape GETs /metrics from Handler(src) and returns the body.
func scrape(t *testing.T, src Sources) (string, *http.Response) {
	t.Helper()
	srv := httptest.NewServer(Handler(src))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d:\n%s", resp.StatusCode, body)
	}
	return string(body), resp
}

func TestScrape(t *testing.T) {
	got, resp := scrape(t, sampleSources())
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	// The text format sorts labels by name.
	inst := `iface="eth0",instance="VI_1",vrid="51"`
	sl := `address="192.0.2.10",fwmark="",port="80",protocol="TCP"`
	svc := sl + `,service="TCP 192.0.2.10:80"`
	dst := sl + `,server="198.51.100.1:80",service="TCP 192.0.2.10:80"`
	chk := `check="http#0",server="198.51.100.1:80",service="TCP 192.0.2.10:80"`
	for _, want := range []string{
		"# HELP lbd_vrrp_state VRRP instance state: 0 init, 1 backup, 2 master, 3 fault, 4 stopped.",
		"# TYPE lbd_vrrp_state gauge",
		`lbd_vrrp_state{` + inst + `} 2`,
		`lbd_vrrp_priority{` + inst + `} 200`,
		`lbd_vrrp_base_priority{` + inst + `} 200`,
		"# TYPE lbd_vrrp_adverts_sent_total counter",
		`lbd_vrrp_adverts_sent_total{` + inst + `} 42`,
		`lbd_vrrp_adverts_received_total{` + inst + `} 3`,
		`lbd_vrrp_priority_zero_sent_total{` + inst + `} 1`,
		`lbd_vrrp_priority_zero_received_total{` + inst + `} 0`,
		`lbd_vrrp_drops_total{iface="eth0",instance="VI_1",reason="auth",vrid="51"} 4`,
		`lbd_vrrp_drops_total{iface="eth0",instance="VI_1",reason="ttl",vrid="51"} 0`,
		`lbd_vrrp_socket_drops_total{family="ipv4",iface="eth0",reason="vrid"} 10`,
		`lbd_vrrp_socket_drops_total{family="ipv6",iface="eth0",reason="ttl"} 2`,
		`lbd_vrrp_transitions_total{instance="VI_1",state="MASTER"} 1`,
		"# TYPE lbd_ipvs_service_connections_total counter",
		`lbd_ipvs_service_connections_total{` + svc + `} 12`,
		`lbd_ipvs_service_connections_total{address="",fwmark="5",port="",protocol="",service="FWM 5"} 4`,
		`lbd_ipvs_service_incoming_packets_total{` + svc + `} 100`,
		`lbd_ipvs_service_outgoing_packets_total{` + svc + `} 90`,
		`lbd_ipvs_service_incoming_bytes_total{` + svc + `} 5000`,
		`lbd_ipvs_service_outgoing_bytes_total{` + svc + `} 4000`,
		"# TYPE lbd_ipvs_backend_active_connections gauge",
		`lbd_ipvs_backend_active_connections{` + dst + `} 2`,
		`lbd_ipvs_backend_inactive_connections{` + dst + `} 5`,
		`lbd_ipvs_backend_weight{` + dst + `} 3`,
		`lbd_ipvs_backend_connections_total{` + dst + `} 7`,
		`lbd_ipvs_up 1`,
		`lbd_check_up{` + chk + `} 1`,
		`lbd_check_duration_seconds{` + chk + `} 0.0015`,
		`lbd_check_attempts_total{check="http#0",result="ok",server="198.51.100.1:80",service="TCP 192.0.2.10:80"} 9`,
		`lbd_check_attempts_total{check="http#0",result="fail",server="198.51.100.1:80",service="TCP 192.0.2.10:80"} 1`,
		`lbd_checks_total{result="ok"} 9`,
		`lbd_checks_total{result="fail"} 1`,
		`lbd_reconciler_writes_total 5`,
		`lbd_reconciler_repairs_total 2`,
		"# TYPE lbd_reloads_total counter",
		`lbd_reloads_total{result="applied"} 3`,
		`lbd_reloads_total{result="failed"} 0`,
		`lbd_reloads_total{result="invalid"} 0`,
		`lbd_reloads_total{result="refused"} 1`,
		// The standard collectors are registered too.
		"# TYPE go_goroutines gauge",
		"# TYPE process_start_time_seconds gauge",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", got)
	}
	// Every scraped lbd metric is in docs/metrics.md, and the standard
	// collectors' families are mentioned there.
	doc := readDoc(t)
	for _, line := range strings.Split(got, "\n") {
		name, ok := strings.CutPrefix(line, "# TYPE ")
		if !ok {
			continue
		}
		name = strings.Fields(name)[0]
		want := "`" + name + "`"
		if prefix, _, _ := strings.Cut(name, "_"); prefix != "lbd" {
			want = "`" + prefix + "_*`"
		}
		if !strings.Contains(doc, want) {
			t.Errorf("docs/metrics.md does not document %s (looked for %s)", name, want)
		}
	}
}

func TestScrapeEdges(t *testing.T) {
	for _, tc := range []struct {
		name      string
		src       Sources
		want, not []string
	}{
		{
			name: "nil sources leave their metrics out",
			src:  Sources{},
			not:  []string{"lbd_"},
			want: []string{"# TYPE go_goroutines gauge"},
		},
		{
			name: "IPVS unreadable",
			src:  Sources{IPVS: func() (table.Table, error) { return table.Table{}, io.ErrUnexpectedEOF }},
			want: []string{"lbd_ipvs_up 0"},
			not:  []string{"lbd_ipvs_service_"},
		},
		{
			name: "VRRP only: no IPVS series at all",
			src: Sources{IPVS: func() (table.Table, error) { return table.Table{}, ErrNoIPVS },
				Reconciler: func() (uint64, uint64) { return 0, 0 }},
			want: []string{"lbd_reconciler_writes_total 0"},
			not:  []string{"lbd_ipvs_"},
		},
		{
			name: "label values are escaped",
			src: Sources{Checks: func() []Check {
				return []Check{{Service: "s", Server: "a\"b\\c\nd", Check: "x"}}
			}},
			want: []string{`lbd_check_up{check="x",server="a\"b\\c\nd",service="s"} 0`},
		},
		{
			name: "a bad sample is left out, the rest served",
			src: Sources{
				Checks: func() []Check {
					return []Check{{Service: "s", Server: "\xff", Check: "x"}, {Service: "s", Server: "ok", Check: "x", Up: true}}
				},
				Reconciler: func() (uint64, uint64) { return 1, 0 },
			},
			want: []string{`lbd_check_up{check="x",server="ok",service="s"} 1`, "lbd_reconciler_writes_total 1"},
			not:  []string{`server="\xff"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := scrape(t, tc.src)
			for _, w := range tc.want {
				if !strings.Contains(got, w+"\n") {
					t.Errorf("scrape lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("scrape has %q", n)
				}
			}
			if t.Failed() {
				t.Logf("scrape:\n%s", got)
			}
		})
	}
}

// TestReadAtScrape: values come from the sources at each scrape, and the
// sources are read only then.
func TestReadAtScrape(t *testing.T) {
	var calls, writes atomic.Uint64
	src := Sources{Reconciler: func() (uint64, uint64) { calls.Add(1); return writes.Load(), 0 }}
	srv := httptest.NewServer(Handler(src))
	defer srv.Close()
	get := func() string {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	time.Sleep(50 * time.Millisecond)
	if n := calls.Load(); n != 0 {
		t.Fatalf("sources read %d times before any scrape", n)
	}
	for i, w := range []uint64{3, 8} {
		writes.Store(w)
		want := "lbd_reconciler_writes_total " + strconv.FormatUint(w, 10) + "\n"
		if got := get(); !strings.Contains(got, want) {
			t.Errorf("scrape %d lacks %q", i, want)
		}
		if n := calls.Load(); n != uint64(i+1) {
			t.Errorf("after %d scrapes the source was read %d times", i+1, n)
		}
	}
}

// TestCollectorConsistent: the pedantic registry checks that every
// collected metric matches a described one, with no duplicates.
func TestCollectorConsistent(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(NewCollector(sampleSources())); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != 31 {
		t.Errorf("gathered %d families, want 31 (every described one)", len(fams))
	}
	// Registries are independent: two handlers in one process register
	// the same collectors without clashing (no global registry).
	for range 2 {
		if _, err := NewRegistry(sampleSources()).Gather(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestScrapeAlerts: the split-brain counter per instance and the
// notifier's counters are scraped (and documented: TestScrape's rule).
func TestScrapeAlerts(t *testing.T) {
	src := sampleSources()
	vrrpStats := src.VRRP
	src.VRRP = func() vrrp.Stats {
		s := vrrpStats()
		s.Instances[0].SplitBrains = 2
		return s
	}
	src.Notify = func() alert.Counters {
		return alert.Counters{FIFOLines: 7, FIFODropped: 1, MailSent: 3, MailFailed: 2, MailDropped: 1}
	}
	got, _ := scrape(t, src)
	for _, want := range []string{
		`lbd_vrrp_split_brains_total{iface="eth0",instance="VI_1",vrid="51"} 2`,
		`lbd_notify_fifo_lines_total 7`, `lbd_notify_fifo_dropped_total 1`,
		`lbd_notify_mails_total{result="sent"} 3`, `lbd_notify_mails_total{result="failed"} 2`, `lbd_notify_mails_total{result="dropped"} 1`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	doc := readDoc(t)
	for _, name := range []string{"lbd_vrrp_split_brains_total", "lbd_notify_fifo_lines_total", "lbd_notify_fifo_dropped_total", "lbd_notify_mails_total"} {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/metrics.md does not document %s", name)
		}
	}
}

// TestScrapeBFD: an instance's BFD sessions are scraped per peer (up,
// failures) with its takeovers by BFD, and documented.
func TestScrapeBFD(t *testing.T) {
	src := sampleSources()
	vrrpStats := src.VRRP
	src.VRRP = func() vrrp.Stats {
		s := vrrpStats()
		s.Instances[0].BFD = []vrrp.PeerSession{
			{Peer: netip.MustParseAddr("10.0.0.1"), State: "Up", Failures: 2},
			{Peer: netip.MustParseAddr("10.0.0.3"), State: "Down"},
		}
		s.Instances[0].BFDTakeovers = 1
		return s
	}
	src.BFDDrops = func() map[string]uint64 { return map[string]uint64{"ttl": 3} }
	got, _ := scrape(t, src)
	l := `iface="eth0",instance="VI_1"`
	for _, want := range []string{
		`lbd_vrrp_bfd_session_up{` + l + `,peer="10.0.0.1",vrid="51"} 1`,
		`lbd_vrrp_bfd_session_up{` + l + `,peer="10.0.0.3",vrid="51"} 0`,
		`lbd_vrrp_bfd_session_failures_total{` + l + `,peer="10.0.0.1",vrid="51"} 2`,
		`lbd_vrrp_bfd_takeovers_total{` + l + `,vrid="51"} 1`,
		`lbd_bfd_drops_total{reason="ttl"} 3`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	doc := readDoc(t)
	for _, name := range []string{"lbd_vrrp_bfd_session_up", "lbd_vrrp_bfd_session_failures_total", "lbd_vrrp_bfd_takeovers_total", "lbd_bfd_drops_total"} {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/metrics.md does not document %s", name)
		}
	}
}

func TestScrapeDiscovery(t *testing.T) {
	since := time.Unix(1_800_000_000, 0)
	src := Sources{Discovery: func() []Discovery {
		return []Discovery{{Service: "TCP 192.0.2.10:80", Path: "/sgroup", Static: 1, Members: 3, Leaving: 2, Stale: true, StaleSince: since,
			Held: true, Events: map[string]uint64{"applied": 4, "stale": 1}}}
	}}
	got, _ := scrape(t, src)
	l := `path="/sgroup",service="TCP 192.0.2.10:80"`
	for _, want := range []string{
		`lbd_discovery_members{path="/sgroup",service="TCP 192.0.2.10:80",source="static"} 1`,
		`lbd_discovery_members{path="/sgroup",service="TCP 192.0.2.10:80",source="zookeeper"} 3`,
		`lbd_discovery_members{path="/sgroup",service="TCP 192.0.2.10:80",source="leaving"} 2`,
		`lbd_discovery_session_up{` + l + `} 0`,
		`lbd_discovery_stale{` + l + `} 1`,
		`lbd_discovery_stale_since_seconds{` + l + `} 1.8e+09`,
		`lbd_discovery_held{` + l + `} 1`,
		`lbd_discovery_events_total{event="applied",` + l + `} 4`,
		`lbd_discovery_events_total{event="confirmed",` + l + `} 0`,
		`lbd_discovery_events_total{event="stale",` + l + `} 1`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	checkDocumented(t, got, "lbd_discovery")
}

// checkDocumented: every family of the scrape got whose name starts with
// prefix is in docs/metrics.md; on any failure of the test so far the
// scrape is logged.
func checkDocumented(t *testing.T, got, prefix string) {
	t.Helper()
	doc := readDoc(t)
	for _, line := range strings.Split(got, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "+prefix); ok {
			name = prefix + strings.Fields(name)[0]
			if !strings.Contains(doc, "`"+name+"`") {
				t.Errorf("docs/metrics.md does not document %s", name)
			}
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", got)
	}
}

func TestScrapeBGP(t *testing.T) {
	src := Sources{BGP: func() *BGP {
		return &BGP{Peers: []BGPPeer{{Address: "10.0.0.1", State: "established", Since: time.Now().Add(-time.Minute)}, {Address: "10.0.0.2", State: "active"}},
			Prefixes:    []BGPPrefix{{Prefix: "192.0.2.10/32", Announced: true}, {Prefix: "192.0.2.11/32", Reason: "quorum lost"}},
			Withdrawals: map[string]uint64{"quorum lost": 2}}
	}}
	got, _ := scrape(t, src)
	for _, want := range []string{
		`lbd_bgp_peer_up{peer="10.0.0.1"} 1`,
		`lbd_bgp_peer_up{peer="10.0.0.2"} 0`,
		`lbd_bgp_peer_state{peer="10.0.0.2",state="active"} 1`,
		`lbd_bgp_peer_state{peer="10.0.0.2",state="established"} 0`,
		`lbd_bgp_peer_uptime_seconds{peer="10.0.0.2"} 0`,
		`lbd_bgp_prefix_announced{prefix="192.0.2.10/32",reason=""} 1`,
		`lbd_bgp_prefix_announced{prefix="192.0.2.11/32",reason="quorum lost"} 0`,
		`lbd_bgp_withdrawals_total{reason="quorum lost"} 2`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if !strings.Contains(got, `lbd_bgp_peer_uptime_seconds{peer="10.0.0.1"} 6`) {
		t.Errorf("uptime of the established peer is not about 60s")
	}
	checkDocumented(t, got, "lbd_bgp")
}

func TestScrapeBuildInfo(t *testing.T) {
	src := Sources{Build: func() buildinfo.Info {
		return buildinfo.Info{Version: "v1.2.0", Revision: "abc123", Dirty: true, GoVersion: "go1.26.8"}
	}}
	got, _ := scrape(t, src)
	want := `lbd_build_info{goversion="go1.26.8",revision="abc123+dirty",version="v1.2.0"} 1`
	if !strings.Contains(got, want+"\n") {
		t.Errorf("scrape lacks %q:\n%s", want, got)
	}
	if !strings.Contains(readDoc(t), "`lbd_build_info`") {
		t.Error("docs/metrics.md does not document lbd_build_info")
	}
	if got, _ := scrape(t, Sources{}); strings.Contains(got, "lbd_build_info") {
		t.Error("lbd_build_info without a Build source")
	}
}
