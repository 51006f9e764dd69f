package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: []VIP{{Prefix: netip.MustParsePrefix("10.0.0.1/32")}}}.withDefaults()
	want := Config{
		Name: "VI_1", Interface: "eth0", VRID: 51, Version: 2, Priority: 100, AdvertInterval: time.Second,
		InitialState: StateBackup,
		VIPs:         []VIP{{Prefix: netip.MustParsePrefix("10.0.0.1/32"), Device: "eth0"}},
		GARP:         GARPConfig{MasterRepeat: 5, MasterRefreshRepeat: 1},
	}
	if diff := cmp.Diff(want, c, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if err := c.validate(nil); err != nil {
		t.Fatal(err)
	}
	if g := DefaultGARPConfig(); g.MasterDelay != 5*time.Second || g.MasterRepeat != 5 || g.MasterRefresh != 0 {
		t.Fatalf("keepalived's GARP defaults: %+v", g)
	}
	s := ScriptConfig{Name: "chk", Command: []string{"/bin/true"}}.withDefaults()
	if s.Interval != time.Second || s.Timeout != time.Second || s.Rise != 1 || s.Fall != 1 {
		t.Fatalf("script defaults: %+v", s)
	}
}

func TestNewDoesNotTouchTheSystem(t *testing.T) {
	// New only validates: no socket, no netlink (it works unprivileged).
	r, err := New(Options{Instances: []Config{{Name: "VI_1", Interface: "no-such-if0", VRID: 1,
		VIPs: []VIP{{Prefix: netip.MustParsePrefix("10.0.0.1/32")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Stats()
	if len(s.Instances) != 1 || s.Instances[0].State != StateInit || s.Instances[0].VIPs[0] != netip.MustParsePrefix("10.0.0.1/32") {
		t.Fatalf("stats before Run: %+v", s)
	}
}
