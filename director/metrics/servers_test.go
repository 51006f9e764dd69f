package metrics

import (
	"strings"
	"testing"
)

// Each real server has one series per state, 1 for its own; the director's
// drain is a gauge; both are documented.
func TestScrapeOperator(t *testing.T) {
	src := Sources{Operator: func() Operator {
		return Operator{DirectorDrained: true, Servers: []ServerState{
			{Service: "TCP 192.0.2.10:80", Server: "10.0.0.1:80", State: "draining"},
			{Service: "TCP 192.0.2.10:80", Server: "10.0.0.2:80", State: "slow-starting"},
		}}
	}}
	got, _ := scrape(t, src)
	for _, want := range []string{
		`lbd_real_server_state{server="10.0.0.1:80",service="TCP 192.0.2.10:80",state="draining"} 1`,
		`lbd_real_server_state{server="10.0.0.1:80",service="TCP 192.0.2.10:80",state="up"} 0`,
		`lbd_real_server_state{server="10.0.0.2:80",service="TCP 192.0.2.10:80",state="slow-starting"} 1`,
		`lbd_real_server_state{server="10.0.0.2:80",service="TCP 192.0.2.10:80",state="maintenance"} 0`,
		`lbd_director_drained 1`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("scrape lacks %q", want)
		}
	}
	doc := readDoc(t)
	for _, name := range []string{"lbd_real_server_state", "lbd_director_drained"} {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/metrics.md does not document %s", name)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", got)
	}
}
