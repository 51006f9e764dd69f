package vrrp

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var cmpNetip = cmp.Options{cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })}

func vip(s string) VIP { return VIP{Prefix: netip.MustParsePrefix(s)} }

func TestSetDefaultsProgrammatic(t *testing.T) {
	c := Config{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: []VIP{vip("10.0.0.1/32")}}
	c.SetDefaults(nil)
	want := Config{
		Name: "VI_1", Interface: "eth0", VRID: 51, Version: 2, Priority: 100, AdvertInterval: time.Second,
		InitialState: StartBackup,
		VIPs:         []VIP{{Prefix: netip.MustParsePrefix("10.0.0.1/32"), Device: "eth0"}},
		// A program's zero master_delay means "no second burst".
		GARP: GARPConfig{MasterRepeat: 5, MasterRefreshRepeat: 1},
	}
	if diff := cmp.Diff(want, c, cmpNetip); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if g := DefaultGARPConfig(); g.MasterDelay != 5*time.Second || g.MasterRepeat != 5 || g.MasterRefresh != 0 {
		t.Fatalf("keepalived's GARP defaults: %+v", g)
	}
	s := ScriptConfig{Name: "chk", Command: []string{"/bin/true"}, Interval: 3 * time.Second}
	s.SetDefaults(nil)
	if s.Interval != 3*time.Second || s.Timeout != 3*time.Second || s.Rise != 1 || s.Fall != 1 {
		t.Fatalf("script defaults: %+v", s)
	}
}

// givenKeys is a Given for a file that wrote exactly keys.
func givenKeys(keys ...string) Given {
	return func(p string) bool { return slices.Contains(keys, p) }
}

func TestSetDefaultsFromAFile(t *testing.T) {
	// Absent keys get keepalived's defaults; given ones keep their value,
	// zero included, so that validation sees it.
	c := Config{Interface: "eth0", VRID: 51, VIPs: []VIP{vip("10.0.0.1/32")}}
	c.SetDefaults(givenKeys("interface", "virtual_router_id", "virtual_ipaddresses", "priority", "garp.master_repeat"))
	if c.Priority != 0 || c.GARP.MasterRepeat != 0 {
		t.Errorf("explicit zeros replaced: priority %d, master_repeat %d", c.Priority, c.GARP.MasterRepeat)
	}
	if c.GARP.MasterDelay != 5*time.Second || c.Version != 2 || c.AdvertInterval != time.Second {
		t.Errorf("absent keys not defaulted: %+v", c)
	}
	c = Config{}
	c.SetDefaults(givenKeys("garp.master_delay"))
	if c.GARP.MasterDelay != 0 {
		t.Errorf("explicit master_delay 0 became %v", c.GARP.MasterDelay)
	}
	s := ScriptConfig{Interval: 2 * time.Second}
	s.SetDefaults(givenKeys("interval", "timeout"))
	if s.Timeout != 0 {
		t.Errorf("explicit timeout 0 became %v", s.Timeout)
	}
}

func TestValidateMessages(t *testing.T) {
	good := func() Config {
		return Config{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: []VIP{vip("10.0.0.1/32")}}
	}
	w := func(i int) *int { return &i }
	tests := []struct {
		name string
		mod  func(s *Set)
		want []string
	}{
		{"valid", func(s *Set) {}, nil},
		{"ranges", func(s *Set) {
			c := &s.Instances[0]
			c.VRID, c.Priority, c.Version, c.PreemptDelay = 300, 256, 4, 1001*time.Second
			c.TrackInterfaces = []TrackInterface{{Name: "eth1", Weight: 255}}
			c.GARP.MasterRepeat = 256
		}, []string{
			"instances[VI_1].virtual_router_id: must be between 1 and 255, got 300",
			"instances[VI_1].version: must be 2 or 3, got 4",
			"instances[VI_1].priority: must be between 1 and 255, got 256",
			"instances[VI_1].preempt_delay: must be at most 1000s, got 16m41s",
			"instances[VI_1].track_interfaces[0].weight: must be between -254 and 254, got 255",
			"instances[VI_1].garp.master_repeat: must be between 1 and 255, got 256",
		}},
		{"v3 rules", func(s *Set) {
			c := &s.Instances[0]
			c.Version, c.AdvertInterval, c.Authentication = 3, 15*time.Millisecond, PassAuth("123456789")
			c.InitialState, c.NoPreempt = StartMaster, true
		}, []string{
			"instances[VI_1].advert_interval: with VRRP version 3 must be a multiple of 10ms from 10ms to 40.95s, got 15ms",
			"instances[VI_1].nopreempt: nopreempt needs state BACKUP (an instance starting as MASTER takes over anyway)",
			"instances[VI_1].authentication: authentication is not supported with VRRP version 3",
			"instances[VI_1].authentication.password: must be at most 8 characters, got 9",
		}},
		{"addresses", func(s *Set) {
			c := &s.Instances[0]
			c.VIPs = append(c.VIPs, VIP{Prefix: netip.MustParsePrefix("224.0.0.18/32"), Device: "eth0", Label: "eth1:0"},
				VIP{Prefix: netip.MustParsePrefix("2001:db8::1/128"), Device: "eth0", Label: "eth0:1"})
			c.SourceAddr = netip.MustParseAddr("2001:db8::2")
			c.UnicastPeers = []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("2001:db8::3")}
		}, []string{
			"instances[VI_1].virtual_ipaddresses[1].address: 224.0.0.18 cannot be a virtual address",
			`instances[VI_1].virtual_ipaddresses[1].label: label "eth1:0" must be the device name "eth0", a colon and a suffix (e.g. eth0:0)`,
			"instances[VI_1].virtual_ipaddresses[2].address: ipv6 address in an instance whose first address is ipv4",
			"instances[VI_1].virtual_ipaddresses[2].label: labels are IPv4 only",
			"instances[VI_1].source_address: ipv6 source address in an ipv4 instance",
			"instances[VI_1].unicast_peers[1]: duplicate peer 10.0.0.2",
			"instances[VI_1].unicast_peers[2]: ipv6 peer in an ipv4 instance",
		}},
		{"unicast TTL bounds without peers", func(s *Set) {
			c := &s.Instances[0]
			c.UnicastMinTTL, c.UnicastMaxTTL = 256, 64
		}, []string{
			"instances[VI_1].unicast_min_ttl: 256 is not a TTL (0-255)",
			"instances[VI_1].unicast_max_ttl: applies to unicast adverts only: set unicast_peers or remove it",
			"instances[VI_1].unicast_min_ttl: 256 is above unicast_max_ttl 64: every advert would be dropped",
		}},
		{"unicast TTL bounds crossed", func(s *Set) {
			c := &s.Instances[0]
			c.UnicastPeers = []netip.Addr{netip.MustParseAddr("10.0.0.2")}
			c.UnicastMinTTL, c.UnicastMaxTTL = 200, 100
		}, []string{
			"instances[VI_1].unicast_min_ttl: 200 is above unicast_max_ttl 100: every advert would be dropped",
		}},
		{"required", func(s *Set) {
			s.Instances[0] = Config{Name: "VI_1"}
			s.Scripts = []ScriptConfig{{Name: "chk"}}
			s.SyncGroups = []SyncGroupConfig{{Name: "G"}}
		}, []string{
			`instances[VI_1]: missing required field "interface"`,
			`instances[VI_1]: missing required field "virtual_router_id"`,
			`instances[VI_1]: missing required field "virtual_ipaddresses"`,
			`scripts[chk]: missing required field "command"`,
			`sync_groups[G]: missing required field "instances"`,
		}},
		{"references and duplicates", func(s *Set) {
			c := good()
			c.Name, c.TrackScripts = "VI_2", []TrackScript{{Name: "chk"}, {Name: "nope", Weight: w(-300)}}
			s.Instances = append(s.Instances, c)
			s.Scripts = []ScriptConfig{{Name: "chk", Command: []string{"/bin/true"}, Rise: -1, Weight: 255}}
			s.SyncGroups = []SyncGroupConfig{{Name: "G1", Instances: []string{"VI_1", "VI_1"}}, {Name: "G2", Instances: []string{"VI_1", "VI_9"}}}
		}, []string{
			`instances[VI_2].track_scripts[1].name: unknown script "nope" (define it under vrrp.scripts)`,
			`instances[VI_2].track_scripts[1].weight: must be between -254 and 254, got -300`,
			`instances[VI_2].virtual_ipaddresses[0]: duplicate virtual IP address 10.0.0.1 (first at instances[VI_1].virtual_ipaddresses[0])`,
			`instances[VI_2].virtual_router_id: duplicate virtual router eth0 VRID 51 ipv4 (first at instances[VI_1])`,
			"scripts[chk].rise: must be between 1 and 2147483647, got -1",
			"scripts[chk].weight: must be between -254 and 254, got 255",
			`sync_groups[G1].instances[1]: instance "VI_1" listed twice`,
			`sync_groups[G2].instances[0]: instance "VI_1" is already in sync group "G1"`,
			`sync_groups[G2].instances[1]: unknown VRRP instance "VI_9"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Set{Instances: []Config{good()}}
			tt.mod(&s)
			s.SetDefaults(nil)
			err := s.Validate(nil)
			var got []string
			if err != nil {
				for _, e := range err.(FieldErrors) {
					got = append(got, e.Error())
				}
			}
			// Order of discovery is part of the contract (a file loader
			// sorts stably by line).
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStartStateText(t *testing.T) {
	var s StartState
	for in, want := range map[string]StartState{"MASTER": StartMaster, "backup": StartBackup, "Master": StartMaster} {
		if err := s.UnmarshalText([]byte(in)); err != nil || s != want {
			t.Errorf("%q: %q, %v", in, s, err)
		}
	}
	if err := s.UnmarshalText([]byte("FAULT")); err == nil || err.Error() != `unknown state "FAULT" (want one of MASTER, BACKUP)` {
		t.Errorf("FAULT: %v", err)
	}
	// A configuration written as JSON (vrrpd) reads back: the zero state is BACKUP.
	j, err := json.Marshal(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := json.Unmarshal(j, &c); err != nil || c.InitialState != StartBackup {
		t.Errorf("JSON round trip of the zero state: %q, %v", c.InitialState, err)
	}
	var a AuthType
	if err := a.UnmarshalText([]byte("ah")); err == nil || err.Error() != "authentication type AH is not supported (only PASS)" {
		t.Errorf("AH: %v", err)
	}
}

// TestGivenPathsAreKeys proves that every path SetDefaults and Validate ask
// about is a key of the configuration file (a `yaml` tag path), so that a
// loader's answers are about the right field.
func TestGivenPathsAreKeys(t *testing.T) {
	var asked []string
	record := func(p string) bool { asked = append(asked, p); return true }
	w := 1
	s := Set{
		Instances: []Config{{Name: "VI_1", Authentication: PassAuth("x"), VIPs: []VIP{vip("10.0.0.1/32")},
			TrackScripts: []TrackScript{{Name: "chk", Weight: &w}}}},
		Scripts:    []ScriptConfig{{Name: "chk"}},
		SyncGroups: []SyncGroupConfig{{Name: "G"}},
	}
	s.SetDefaults(record)
	_ = s.Validate(record)
	if len(asked) < 15 {
		t.Fatalf("only %d paths asked: %v", len(asked), asked)
	}
	for _, p := range asked {
		if !isKeyPath(reflect.TypeFor[Set](), p) {
			t.Errorf("%q is not a key path of the configuration", p)
		}
	}
}

// isKeyPath reports whether p ("instances[X].garp.master_delay") names a
// field of t through its yaml tags.
func isKeyPath(t reflect.Type, p string) bool {
	for p != "" {
		key, rest, _ := strings.Cut(p, ".")
		idx := ""
		if i := strings.IndexByte(key, '['); i >= 0 {
			key, idx = key[:i], key[i:]
		}
		f, ok := fieldByKey(t, key)
		if !ok {
			return false
		}
		t = f.Type
		for t.Kind() == reflect.Pointer || (idx != "" && t.Kind() == reflect.Slice) {
			if t.Kind() == reflect.Slice {
				idx = ""
			}
			t = t.Elem()
		}
		if idx != "" {
			return false
		}
		p = rest
	}
	return true
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func TestSplit(t *testing.T) {
	mk := func(name string, scripts ...string) Config {
		c := Config{Name: name}
		for _, s := range scripts {
			c.TrackScripts = append(c.TrackScripts, TrackScript{Name: s})
		}
		return c
	}
	s := Set{
		Instances:  []Config{mk("A", "s1"), mk("B"), mk("C", "s2", "s1"), mk("D")},
		Scripts:    []ScriptConfig{{Name: "s1"}, {Name: "s2"}},
		SyncGroups: []SyncGroupConfig{{Name: "G", Instances: []string{"C", "A"}}},
	}
	var got []string
	for _, p := range s.Split() {
		var scripts, groups []string
		for _, sc := range p.Scripts {
			scripts = append(scripts, sc.Name)
		}
		for _, g := range p.SyncGroups {
			groups = append(groups, g.Name)
		}
		got = append(got, p.Name()+" scripts="+strings.Join(scripts, ",")+" groups="+strings.Join(groups, ","))
	}
	want := []string{"A,C scripts=s1,s2 groups=G", "B scripts= groups=", "D scripts= groups="}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNewDoesNotTouchTheSystem(t *testing.T) {
	// New only validates: no socket, no netlink (it works unprivileged).
	c := Config{Name: "VI_1", Interface: "no-such-if0", VRID: 1, VIPs: []VIP{vip("10.0.0.1/32")}}
	r, err := New(Options{Instances: []Config{c}})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Stats()
	if len(s.Instances) != 1 || s.Instances[0].State != StateInit || s.Instances[0].VIPs[0] != netip.MustParsePrefix("10.0.0.1/32") {
		t.Fatalf("stats before Run: %+v", s)
	}
	if c.VIPs[0].Device != "" {
		t.Errorf("New changed the caller's configuration: device %q", c.VIPs[0].Device)
	}
}
