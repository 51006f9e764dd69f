package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/vrrp"
)

func TestScrape(t *testing.T) {
	svc := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP,
		Address: netip.MustParseAddr("192.0.2.10"), Port: 80}, Scheduler: "rr",
		Stats: table.Stats{Conns: 12, InPkts: 100, OutPkts: 90, InBytes: 5000, OutBytes: 4000},
		Destinations: []table.Destination{{Address: netip.MustParseAddr("198.51.100.1"), Port: 80, Weight: 3,
			ActiveConns: 2, InactConns: 5, Stats: table.Stats{Conns: 7}}}}
	src := Sources{
		VRRP: func() vrrp.Stats {
			return vrrp.Stats{Instances: []vrrp.InstanceStats{{Name: "VI_1", Interface: "eth0", VRID: 51,
				State: vrrp.StateMaster, Priority: 200, BasePriority: 200, AdvertsSent: 42, AdvertsReceived: 3,
				Drops: map[vrrp.DropReason]uint64{vrrp.DropAuth: 4}}},
				Sockets: []vrrp.SocketStats{{Interface: "eth0", Drops: map[vrrp.DropReason]uint64{vrrp.DropVRID: 9}}}}
		},
		Transitions: func() map[string]map[string]uint64 { return map[string]map[string]uint64{"VI_1": {"MASTER": 1}} },
		IPVS:        func() (table.Table, error) { return table.Table{Services: []table.Service{svc}}, nil },
		Checks: func() []Check {
			return []Check{{Service: "TCP 192.0.2.10:80", Server: "198.51.100.1:80", Check: "http#0", Up: true,
				LastDuration: 1500 * time.Microsecond, Checks: 10, Failures: 1}}
		},
		CheckTotals: func() (uint64, uint64) { return 10, 1 },
		Reconciler:  func() (uint64, uint64) { return 5, 2 },
	}
	srv := httptest.NewServer(Handler(src))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	got := string(body)
	sl := `service="TCP 192.0.2.10:80",protocol="TCP",address="192.0.2.10",port="80",fwmark=""`
	for _, want := range []string{
		"# TYPE lbd_vrrp_state gauge",
		`lbd_vrrp_state{instance="VI_1",iface="eth0",vrid="51"} 2`,
		`lbd_vrrp_adverts_sent_total{instance="VI_1",iface="eth0",vrid="51"} 42`,
		`lbd_vrrp_adverts_received_total{instance="VI_1",iface="eth0",vrid="51"} 3`,
		`lbd_vrrp_drops_total{instance="VI_1",iface="eth0",vrid="51",reason="` + vrrp.DropAuth.String() + `"} 4`,
		`lbd_vrrp_socket_drops_total{iface="eth0",family="ipv4",reason="` + vrrp.DropVRID.String() + `"} 9`,
		`lbd_vrrp_transitions_total{instance="VI_1",state="MASTER"} 1`,
		"# TYPE lbd_ipvs_service_connections_total counter",
		`lbd_ipvs_service_connections_total{` + sl + `} 12`,
		`lbd_ipvs_service_incoming_bytes_total{` + sl + `} 5000`,
		`lbd_ipvs_backend_active_connections{` + sl + `,server="198.51.100.1:80"} 2`,
		`lbd_ipvs_backend_inactive_connections{` + sl + `,server="198.51.100.1:80"} 5`,
		`lbd_ipvs_backend_weight{` + sl + `,server="198.51.100.1:80"} 3`,
		`lbd_ipvs_backend_connections_total{` + sl + `,server="198.51.100.1:80"} 7`,
		`lbd_ipvs_up 1`,
		`lbd_check_up{service="TCP 192.0.2.10:80",server="198.51.100.1:80",check="http#0"} 1`,
		`lbd_check_duration_seconds{service="TCP 192.0.2.10:80",server="198.51.100.1:80",check="http#0"} 0.0015`,
		`lbd_check_attempts_total{service="TCP 192.0.2.10:80",server="198.51.100.1:80",check="http#0",result="fail"} 1`,
		`lbd_checks_total{result="ok"} 9`,
		`lbd_checks_total{result="fail"} 1`,
		`lbd_reconciler_writes_total 5`,
		`lbd_reconciler_repairs_total 2`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", got)
	}
	// Every documented metric is in METRICS.md.
	doc := readDoc(t)
	for _, line := range strings.Split(got, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name = strings.Fields(name)[0]
			if !strings.Contains(doc, "`"+name+"`") {
				t.Errorf("METRICS.md does not document %s", name)
			}
		}
	}
}

func TestLabelEscaping(t *testing.T) {
	if got := escapeLabel("a\"b\\c\nd"); got != `a\"b\\c\nd` {
		t.Errorf("escapeLabel = %q", got)
	}
}
