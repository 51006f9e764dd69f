package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/vrrp"
)

// setRoutes is a routing table and rule list in a set.
type setRoutes struct {
	mu   sync.Mutex
	have map[string]bool
}

func (s *setRoutes) set(k string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.have[k] = true
	} else {
		delete(s.have, k)
	}
	return nil
}
func (s *setRoutes) AddRoute(r vrrp.Route) error    { return s.set("route "+r.String(), true) }
func (s *setRoutes) RemoveRoute(r vrrp.Route) error { return s.set("route "+r.String(), false) }
func (s *setRoutes) AddRule(r vrrp.Rule) error      { return s.set("rule "+r.String(), true) }
func (s *setRoutes) RemoveRule(r vrrp.Rule) error   { return s.set("rule "+r.String(), false) }
func (s *setRoutes) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.have {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// The static entries (vrrp.static_*) are set at start, follow a reload
// (what went is removed, what stays is kept) and are removed at stop.
func TestStaticEntriesFollowTheConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lbd.yaml")
	static := `  static_ipaddresses: [{address: 198.51.100.7/24, device: eth1}]
  static_routes: [{to: 10.9.0.0/16, via: 198.51.100.1, table: 10}]
  static_rules: [{from: 198.51.100.0/24, table: 10, priority: 100}]
`
	write := func(extra string) {
		if err := os.WriteFile(path, []byte(vrrpOnlyYAML(dir, false)+extra), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(static)
	addrs := &mapAddrs{have: map[netip.Addr]bool{}}
	routes := &setRoutes{have: map[string]bool{}}
	quiet := quietVRRPEnv(addrs)
	opts := Options{LogOutput: &syncBuf{}, Notify: func(string) {}, VRRPEnv: func(l *slog.Logger) (vrrp.Env, error) {
		env, err := quiet(l)
		env.Routes = routes
		return env, err
	}}
	d, err := New(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	staticAddr := vrrp.VIP{Prefix: netip.MustParsePrefix("198.51.100.7/24")}
	route, rule := "route 10.9.0.0/16 via 198.51.100.1 table 10", "rule from 198.51.100.0/24 table 10"
	waitFor(t, "the static entries", func() bool {
		has, _ := addrs.Has(staticAddr)
		return has && slices.Equal(routes.list(), []string{route, rule})
	})

	write(`  static_ipaddresses: [{address: 198.51.100.7/24, device: eth1}]
  static_rules: [{from: 198.51.100.0/24, table: 10, priority: 100}]
`)
	if _, err := d.Reload(context.Background(), control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	if has, _ := addrs.Has(staticAddr); !has || !slices.Equal(routes.list(), []string{rule}) {
		t.Fatalf("after the reload: address %v, routes and rules %v; want the address and the rule", has, routes.list())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
	if has, _ := addrs.Has(staticAddr); has || len(routes.list()) != 0 {
		t.Fatalf("after stop: address %v, routes and rules %v; want none", has, routes.list())
	}
}
