package realserver

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// prefixCmp compares netip values by value (they have unexported fields).
func prefixCmp() cmp.Option {
	return cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }
func intp(v int) *int           { return &v }

func drSpec(vips ...string) Spec {
	s := Spec{Mode: ModeDR, ARPIgnore: 1, ARPAnnounce: 2, StateFile: "/nonexistent/state.json"}
	for _, v := range vips {
		s.VIPs = append(s.VIPs, ip(v))
	}
	return s
}

// actionStrings renders a plan compactly for comparison.
func actionStrings(acts []Action) []string {
	var out []string
	for _, a := range acts {
		switch a.Kind {
		case ActWriteSysctl:
			out = append(out, "sysctl "+a.Key+"="+a.Value)
		case ActAddAddr:
			out = append(out, "add "+describeAddr(a.Addr)+" on "+a.Link)
		case ActDelAddr:
			out = append(out, "del "+a.Addr.Prefix.String()+" on "+a.Link)
		default:
			out = append(out, a.Kind.String()+" "+a.Link)
		}
	}
	return out
}

func TestDesired(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		links   []string
		sysctls []string
		addrs   []string
	}{
		{
			name:  "dr two v4 one v6",
			spec:  drSpec("192.168.56.90", "2001:db8::90", "192.168.56.91"),
			links: []string{"lo"},
			sysctls: []string{
				"net/ipv4/conf/lo/arp_ignore=1", "net/ipv4/conf/all/arp_ignore=1",
				"net/ipv4/conf/lo/arp_announce=2", "net/ipv4/conf/all/arp_announce=2",
			},
			addrs: []string{"192.168.56.90/32 label lo:0 on lo", "2001:db8::90/128 on lo", "192.168.56.91/32 label lo:1 on lo"},
		},
		{
			name:  "dr ipv6 only touches no arp sysctl",
			spec:  drSpec("2001:db8::90"),
			links: []string{"lo"},
			addrs: []string{"2001:db8::90/128 on lo"},
		},
		{
			name: "dr custom values and rp_filter",
			spec: func() Spec {
				s := drSpec("10.0.0.1")
				s.ARPIgnore, s.ARPAnnounce, s.RPFilter, s.LabelPrefix = 2, 1, intp(2), "lo:vip"
				return s
			}(),
			links: []string{"lo"},
			sysctls: []string{
				"net/ipv4/conf/lo/arp_ignore=2", "net/ipv4/conf/all/arp_ignore=2",
				"net/ipv4/conf/lo/arp_announce=1", "net/ipv4/conf/all/arp_announce=1",
				"net/ipv4/conf/lo/rp_filter=2", "net/ipv4/conf/all/rp_filter=2",
			},
			addrs: []string{"10.0.0.1/32 label lo:vip0 on lo"},
		},
		{
			name: "dr without labels (label_prefix: \"\")",
			spec: func() Spec {
				s := drSpec("10.0.0.1")
				s.NoLabels = true
				return s
			}(),
			links: []string{"lo"},
			sysctls: []string{
				"net/ipv4/conf/lo/arp_ignore=1", "net/ipv4/conf/all/arp_ignore=1",
				"net/ipv4/conf/lo/arp_announce=2", "net/ipv4/conf/all/arp_announce=2",
			},
			addrs: []string{"10.0.0.1/32 label lo on lo"},
		},
		{
			name: "tun v4 and v6",
			spec: func() Spec {
				s := drSpec("10.0.0.1", "2001:db8::1")
				s.Mode = ModeTUN
				return s
			}(),
			links: []string{"tunl0 (tunnel)", "ip6tnl0 (tunnel6)"},
			sysctls: []string{
				"net/ipv4/conf/tunl0/arp_ignore=1", "net/ipv4/conf/all/arp_ignore=1",
				"net/ipv4/conf/tunl0/arp_announce=2", "net/ipv4/conf/all/arp_announce=2",
				"net/ipv4/conf/tunl0/rp_filter=0", "net/ipv4/conf/all/rp_filter=0",
			},
			addrs: []string{"10.0.0.1/32 label tunl0 on tunl0", "2001:db8::1/128 on ip6tnl0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.spec.normalized().desired()
			var links, sysctls, addrs []string
			for _, l := range d.Links {
				s := l.Name
				if l.Tunnel && l.IPv6 {
					s += " (tunnel6)"
				} else if l.Tunnel {
					s += " (tunnel)"
				}
				links = append(links, s)
			}
			for _, s := range d.Sysctls {
				sysctls = append(sysctls, s.Key+"="+s.Value)
			}
			for _, a := range d.Addrs {
				addrs = append(addrs, describeAddr(a)+" on "+a.Link)
			}
			if diff := cmp.Diff(tt.links, links); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.sysctls, sysctls); diff != "" {
				t.Errorf("sysctls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.addrs, addrs); diff != "" {
				t.Errorf("addrs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Spec)
		wantErr string // "" = valid
	}{
		{"ok", func(*Spec) {}, ""},
		{"no vips", func(s *Spec) { s.VIPs = nil }, "no VIPs"},
		{"duplicate", func(s *Spec) { s.VIPs = append(s.VIPs, s.VIPs[0]) }, "listed twice"},
		{"4in6 duplicate", func(s *Spec) { s.VIPs = append(s.VIPs, ip("::ffff:192.168.56.90")) }, "listed twice"},
		{"loopback", func(s *Spec) { s.VIPs = []netip.Addr{ip("127.0.0.2")} }, "not usable"},
		{"multicast", func(s *Spec) { s.VIPs = []netip.Addr{ip("224.0.0.18")} }, "not usable"},
		{"zero", func(s *Spec) { s.VIPs = []netip.Addr{{}} }, "invalid"},
		{"bad mode", func(s *Spec) { s.Mode = 0 }, "want dr or tun"},
		{"arp_ignore range", func(s *Spec) { s.ARPIgnore = 9 }, "arp_ignore 9"},
		{"arp_announce range", func(s *Spec) { s.ARPAnnounce = 3 }, "arp_announce 3"},
		{"rp_filter range", func(s *Spec) { s.RPFilter = intp(-1) }, "rp_filter -1"},
		{"label too long", func(s *Spec) { s.LabelPrefix = "lo:abcdefghijkl" }, "15 bytes"},
		{"label prefix not device", func(s *Spec) { s.LabelPrefix = "eth0:" }, "must start with the interface"},
		{"no state file", func(s *Spec) { s.StateFile = "" }, "state file"},
		{"bad interface", func(s *Spec) { s.Interface = "../etc" }, "not a valid device"},
		{"tun on lo", func(s *Spec) { s.Mode, s.Interface = ModeTUN, "lo" }, "tunnel device"},
		{"tun ok", func(s *Spec) { s.Mode = ModeTUN }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := drSpec("192.168.56.90")
			tt.mod(&s)
			err := s.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"dr": ModeDR, "DR": ModeDR, "gate": ModeDR, "tun": ModeTUN, "ipip": ModeTUN, "Tunnel": ModeTUN} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMode("nat"); err == nil {
		t.Error("ParseMode(nat): want error (NAT needs nothing on the real server)")
	}
}

// obsDR is a typical fresh node: lo up, sysctls at kernel defaults.
func obsDR() observed {
	return observed{
		Links: map[string]LinkInfo{"lo": {Name: "lo", Up: true}},
		Addrs: map[string][]Address{"lo": {{Link: "lo", Prefix: pfx("127.0.0.1/8"), Label: "lo", HostScope: true}}},
		Sysctls: map[string]string{
			"net/ipv4/conf/lo/arp_ignore": "0", "net/ipv4/conf/all/arp_ignore": "0",
			"net/ipv4/conf/lo/arp_announce": "0", "net/ipv4/conf/all/arp_announce": "0",
			"net/ipv4/conf/all/rp_filter": "1", "net/ipv4/conf/lo/rp_filter": "0",
		},
	}
}

func withAddr(o observed, a Address) observed {
	o = cloneObs(o)
	o.Addrs[a.Link] = append(o.Addrs[a.Link], a)
	return o
}

func withSysctls(o observed, kv ...string) observed {
	o = cloneObs(o)
	for i := 0; i+1 < len(kv); i += 2 {
		o.Sysctls[kv[i]] = kv[i+1]
	}
	return o
}

func TestPlan(t *testing.T) {
	applied := withSysctls(withAddr(obsDR(), Address{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo:0"}),
		"net/ipv4/conf/lo/arp_ignore", "1", "net/ipv4/conf/all/arp_ignore", "1",
		"net/ipv4/conf/lo/arp_announce", "2", "net/ipv4/conf/all/arp_announce", "2")
	ownState := State{Version: 1,
		Sysctls: map[string]string{
			"net/ipv4/conf/lo/arp_ignore": "0", "net/ipv4/conf/all/arp_ignore": "0",
			"net/ipv4/conf/lo/arp_announce": "0", "net/ipv4/conf/all/arp_announce": "0",
		},
		Addresses: []AddrRecord{{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo:0"}},
	}
	tests := []struct {
		name      string
		spec      Spec
		obs       observed
		st        State
		want      []string
		wantState State
	}{
		{
			name: "fresh node: sysctls first, then the VIP; originals recorded",
			spec: drSpec("192.168.56.90"),
			obs:  obsDR(),
			want: []string{
				"sysctl net/ipv4/conf/lo/arp_ignore=1", "sysctl net/ipv4/conf/all/arp_ignore=1",
				"sysctl net/ipv4/conf/lo/arp_announce=2", "sysctl net/ipv4/conf/all/arp_announce=2",
				"add 192.168.56.90/32 label lo:0 on lo",
			},
			wantState: ownState,
		},
		{
			name:      "already applied: nothing to do",
			spec:      drSpec("192.168.56.90"),
			obs:       applied,
			st:        ownState,
			wantState: ownState,
		},
		{
			name: "restart after crash: current values are ours, originals kept",
			spec: drSpec("192.168.56.90"),
			obs: withSysctls(obsDR(), "net/ipv4/conf/lo/arp_ignore", "1", "net/ipv4/conf/all/arp_ignore", "1",
				"net/ipv4/conf/lo/arp_announce", "2", "net/ipv4/conf/all/arp_announce", "2"),
			st:        ownState,
			want:      []string{"add 192.168.56.90/32 label lo:0 on lo"},
			wantState: ownState,
		},
		{
			name: "some already right: originals recorded for all, only differing written",
			spec: drSpec("192.168.56.90"),
			obs:  withSysctls(obsDR(), "net/ipv4/conf/all/arp_ignore", "1", "net/ipv4/conf/all/arp_announce", "2"),
			want: []string{
				"sysctl net/ipv4/conf/lo/arp_ignore=1", "sysctl net/ipv4/conf/lo/arp_announce=2",
				"add 192.168.56.90/32 label lo:0 on lo",
			},
			wantState: State{Version: 1,
				Sysctls: map[string]string{
					"net/ipv4/conf/lo/arp_ignore": "0", "net/ipv4/conf/all/arp_ignore": "1",
					"net/ipv4/conf/lo/arp_announce": "0", "net/ipv4/conf/all/arp_announce": "2",
				},
				Addresses: ownState.Addresses,
			},
		},
		{
			name: "VIP already there before: left, recorded pre-existing",
			spec: drSpec("192.168.56.90"),
			obs:  withAddr(obsDR(), Address{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo"}),
			want: []string{
				"sysctl net/ipv4/conf/lo/arp_ignore=1", "sysctl net/ipv4/conf/all/arp_ignore=1",
				"sysctl net/ipv4/conf/lo/arp_announce=2", "sysctl net/ipv4/conf/all/arp_announce=2",
			},
			wantState: State{Version: 1, Sysctls: ownState.Sysctls,
				Addresses: []AddrRecord{{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo:0", Preexisting: true}}},
		},
		{
			name: "our VIP re-added by hand without label: replaced",
			spec: drSpec("192.168.56.90"),
			obs: withAddr(withSysctls(obsDR(), "net/ipv4/conf/lo/arp_ignore", "1", "net/ipv4/conf/all/arp_ignore", "1",
				"net/ipv4/conf/lo/arp_announce", "2", "net/ipv4/conf/all/arp_announce", "2"),
				Address{Link: "lo", Prefix: pfx("192.168.56.90/24"), Label: "lo"}),
			st:        ownState,
			want:      []string{"del 192.168.56.90/24 on lo", "add 192.168.56.90/32 label lo:0 on lo"},
			wantState: ownState,
		},
		{
			name: "VIP dropped from config: ours removed, state forgets it",
			spec: drSpec("192.168.56.91"),
			obs:  applied,
			st:   ownState,
			want: []string{"del 192.168.56.90/32 on lo", "add 192.168.56.91/32 label lo:0 on lo"},
			wantState: State{Version: 1, Sysctls: ownState.Sysctls,
				Addresses: []AddrRecord{{Link: "lo", Prefix: pfx("192.168.56.91/32"), Label: "lo:0"}}},
		},
		{
			name: "only IPv6 left: ARP sysctls restored to originals",
			spec: drSpec("2001:db8::90"),
			obs:  withAddr(applied, Address{Link: "lo", Prefix: pfx("2001:db8::90/128")}),
			st:   ownState,
			want: []string{
				"del 192.168.56.90/32 on lo",
				"sysctl net/ipv4/conf/all/arp_announce=0", "sysctl net/ipv4/conf/all/arp_ignore=0",
				"sysctl net/ipv4/conf/lo/arp_announce=0", "sysctl net/ipv4/conf/lo/arp_ignore=0",
			},
			wantState: State{Version: 1,
				Addresses: []AddrRecord{{Link: "lo", Prefix: pfx("2001:db8::90/128"), Preexisting: true}}},
		},
		{
			name: "label order changed: relabelled",
			spec: drSpec("192.168.56.91", "192.168.56.90"),
			obs:  withAddr(applied, Address{Link: "lo", Prefix: pfx("192.168.56.91/32"), Label: "lo:1"}),
			st: State{Version: 1, Sysctls: ownState.Sysctls, Addresses: []AddrRecord{
				{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo:0"},
				{Link: "lo", Prefix: pfx("192.168.56.91/32"), Label: "lo:1"},
			}},
			want: []string{
				"del 192.168.56.91/32 on lo", "add 192.168.56.91/32 label lo:0 on lo",
				"del 192.168.56.90/32 on lo", "add 192.168.56.90/32 label lo:1 on lo",
			},
			wantState: State{Version: 1, Sysctls: ownState.Sysctls, Addresses: []AddrRecord{
				{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo:1"},
				{Link: "lo", Prefix: pfx("192.168.56.91/32"), Label: "lo:0"},
			}},
		},
		{
			name: "stale link from a former tun spec: set back down",
			spec: drSpec("192.168.56.90"),
			obs: func() observed {
				o := cloneObs(applied)
				o.Links = map[string]LinkInfo{"lo": {Name: "lo", Up: true}, "tunl0": {Name: "tunl0", Up: true}}
				return o
			}(),
			st: State{Version: 1, Sysctls: ownState.Sysctls, Addresses: ownState.Addresses,
				Links: map[string]LinkRecord{"tunl0": {WasUp: false}}},
			want:      []string{"link-down tunl0"},
			wantState: ownState,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.st.Version == 0 {
				tt.st.Version = 1
			}
			d := tt.spec.normalized().desired()
			acts, next, err := plan(d, cloneObs(tt.obs), tt.st)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if diff := cmp.Diff(tt.want, actionStrings(acts)); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantState.canonical(), next.canonical(), prefixCmp()); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
		})
	}
}

func cloneObs(o observed) observed {
	c := observed{Links: map[string]LinkInfo{}, Addrs: map[string][]Address{}, Sysctls: map[string]string{}}
	for k, v := range o.Links {
		c.Links[k] = v
	}
	for k, v := range o.Addrs {
		c.Addrs[k] = append([]Address(nil), v...)
	}
	for k, v := range o.Sysctls {
		c.Sysctls[k] = v
	}
	return c
}

func TestPlanUnreadableSysctl(t *testing.T) {
	o := obsDR()
	delete(o.Sysctls, "net/ipv4/conf/all/arp_ignore")
	_, _, err := plan(drSpec("10.0.0.1").normalized().desired(), o, State{Version: 1})
	if err == nil || !strings.Contains(err.Error(), "net.ipv4.conf.all.arp_ignore") {
		t.Fatalf("plan = %v, want error naming the unreadable sysctl", err)
	}
}

func TestPlanLinks(t *testing.T) {
	tun := drSpec("10.0.0.1")
	tun.Mode = ModeTUN
	tests := []struct {
		name      string
		spec      Spec
		links     map[string]LinkInfo
		st        State
		want      []string
		wantLinks map[string]LinkRecord
		wantErr   string
	}{
		{name: "lo up: recorded as was up", spec: drSpec("10.0.0.1"), links: map[string]LinkInfo{"lo": {Up: true}},
			wantLinks: map[string]LinkRecord{"lo": {WasUp: true}}},
		{name: "lo down: brought up", spec: drSpec("10.0.0.1"), links: map[string]LinkInfo{"lo": {}},
			want: []string{"link-up lo"}, wantLinks: map[string]LinkRecord{"lo": {WasUp: false}}},
		{name: "lo missing: error", spec: drSpec("10.0.0.1"), links: map[string]LinkInfo{}, wantErr: "device lo does not exist"},
		{name: "tunl0 missing: ensure", spec: tun, links: map[string]LinkInfo{}, want: []string{"ensure-tunnel tunl0"}},
		{name: "tunl0 down after restart: up again, original kept", spec: tun, links: map[string]LinkInfo{"tunl0": {}},
			st:   State{Links: map[string]LinkRecord{"tunl0": {WasUp: false, Created: true}}},
			want: []string{"link-up tunl0"}, wantLinks: map[string]LinkRecord{"tunl0": {WasUp: false, Created: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acts, next, err := planLinks(tt.spec.normalized().desired(), observed{Links: tt.links}, tt.st)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("planLinks error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, actionStrings(acts)); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLinks, next.Links); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanRestore(t *testing.T) {
	st := State{Version: 1,
		Sysctls: map[string]string{"net/ipv4/conf/lo/arp_ignore": "0", "net/ipv4/conf/all/arp_ignore": "1", "net/ipv4/conf/tunl0/rp_filter": "1"},
		Addresses: []AddrRecord{
			{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo:0"},
			{Link: "lo", Prefix: pfx("192.168.56.91/32"), Label: "lo:1", Preexisting: true},
			{Link: "lo", Prefix: pfx("192.168.56.92/32"), Label: "lo:2"},
		},
		Links: map[string]LinkRecord{"lo": {WasUp: true}, "tunl0": {Created: true}, "dummy0": {WasUp: false}},
	}
	o := obsDR()
	o.Links["dummy0"] = LinkInfo{Name: "dummy0", Up: true}
	o.Sysctls["net/ipv4/conf/lo/arp_ignore"] = "1"
	o.Sysctls["net/ipv4/conf/all/arp_ignore"] = "1"
	o = withAddr(o, Address{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo:0"})
	o = withAddr(o, Address{Link: "lo", Prefix: pfx("192.168.56.91/32"), Label: "lo:1"})
	// .92 is already gone; tunl0 is gone (and its sysctl with it); all.arp_ignore was 1 before.
	acts, rest := planRestore(st, o)
	want := []string{"del 192.168.56.90/32 on lo", "sysctl net/ipv4/conf/lo/arp_ignore=0", "link-down dummy0"}
	if diff := cmp.Diff(want, actionStrings(acts)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	for _, a := range acts {
		rest.forget(a)
	}
	if !rest.Empty() {
		t.Errorf("after forgetting every action the state should be empty, got %+v", rest)
	}
}

func TestConflicts(t *testing.T) {
	all := []Address{
		{Link: "lo", Prefix: pfx("127.0.0.1/8"), Label: "lo", HostScope: true},
		{Link: "eth0", Prefix: pfx("192.168.56.200/24"), Label: "eth0"},
		{Link: "eth0", Prefix: pfx("192.168.56.201/24"), Label: "eth0", Secondary: true},
		{Link: "eth0", Prefix: pfx("fe80::1/64"), HostScope: true},
		{Link: "eth1", Prefix: pfx("2001:db8::200/64")},
		{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo:0"},
	}
	tests := []struct {
		vip          string
		refused      string
		warned       bool
		wantNoIssues bool
	}{
		{vip: "192.168.56.200", refused: "refusing VIP 192.168.56.200: it is this node's own primary address on eth0"},
		{vip: "2001:db8::200", refused: "own primary address on eth1"},
		{vip: "192.168.56.201", warned: true},
		{vip: "192.168.56.90", wantNoIssues: true}, // already on lo: ours or pre-existing, fine
		{vip: "192.168.56.99", wantNoIssues: true},
	}
	for _, tt := range tests {
		t.Run(tt.vip, func(t *testing.T) {
			s := drSpec(tt.vip).normalized()
			refused, warns := conflicts(s, all)
			switch {
			case tt.refused != "":
				if len(refused) != 1 || !strings.Contains(refused[0].Error(), tt.refused) || !strings.Contains(refused[0].Error(), "director's virtual") {
					t.Errorf("refused = %v, want one explaining %q", refused, tt.refused)
				}
			case tt.warned:
				if len(refused) != 0 || len(warns) != 1 || !strings.Contains(warns[0], "secondary address on eth0") {
					t.Errorf("refused=%v warns=%v, want one warning", refused, warns)
				}
			case tt.wantNoIssues:
				if len(refused)+len(warns) != 0 {
					t.Errorf("refused=%v warns=%v, want none", refused, warns)
				}
			}
		})
	}
}
