package vrrp

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVMACDefaults(t *testing.T) {
	tests := []struct {
		name       string
		vmac       VMACConfig
		vips       []VIP
		wantName   string
		wantDevs   []string
		wantAdvert string
	}{
		{"off", VMACConfig{}, []VIP{vip("10.0.0.1/32")}, "", []string{"eth0"}, "eth0"},
		{"default name", VMACConfig{Enabled: true}, []VIP{vip("10.0.0.1/32")}, "vrrp.51", []string{"vrrp.51"}, "vrrp.51"},
		{"excluded addresses of the family", VMACConfig{Enabled: true}, []VIP{vip("10.0.0.1/32")}, "vrrp.51", []string{"vrrp.51", "vrrp.51", "eth0", "eth1"}, "vrrp.51"},
		{"own name, xmit_base", VMACConfig{Enabled: true, Name: "vm51", XmitBase: true},
			[]VIP{vip("10.0.0.1/32"), {Prefix: netip.MustParsePrefix("10.0.0.2/32"), Device: "eth0"}, {Prefix: netip.MustParsePrefix("10.0.0.3/32"), Device: "eth1"}},
			"vm51", []string{"vm51", "vm51", "eth1"}, "eth0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: tt.vips, VMAC: tt.vmac}
			if strings.HasPrefix(tt.name, "excluded") {
				c.ExcludedVIPs = []VIP{vip("10.0.0.9/32"), vip("2001:db8::9/128"), {Prefix: netip.MustParsePrefix("10.0.0.8/32"), Device: "eth1"}}
			}
			c.SetDefaults(nil)
			var devs []string
			for _, v := range append(c.VIPs, c.ExcludedVIPs...) {
				devs = append(devs, v.Device)
			}
			if c.VMAC.Name != tt.wantName || !slices.Equal(devs, tt.wantDevs) || c.advertDevice() != tt.wantAdvert {
				t.Fatalf("vmac %q, VIP devices %q, adverts on %q; want %q, %q, %q", c.VMAC.Name, devs, c.advertDevice(), tt.wantName, tt.wantDevs, tt.wantAdvert)
			}
		})
	}
}

func TestVirtualMAC(t *testing.T) {
	if got := VirtualMAC(51, false).String(); got != "00:00:5e:00:01:33" {
		t.Errorf("IPv4: %s", got)
	}
	if got := VirtualMAC(255, true).String(); got != "00:00:5e:00:02:ff" {
		t.Errorf("IPv6: %s", got)
	}
}

func TestVMACValidate(t *testing.T) {
	good := func(name string, vrid int) Config {
		return Config{Name: name, Interface: "eth0", VRID: vrid, VIPs: []VIP{vip("10.0.0." + name[3:] + "/32")}}
	}
	tests := []struct {
		name string
		mod  func(s *Set)
		want []string
	}{
		{"valid", func(s *Set) { s.Instances[0].VMAC = VMACConfig{Enabled: true} }, nil},
		{"options without enabled", func(s *Set) { s.Instances[0].VMAC = VMACConfig{Name: "v", XmitBase: true} },
			[]string{"instances[VI_1].vmac: name and xmit_base need enabled: true"}},
		{"bad names", func(s *Set) {
			s.Instances[0].VMAC = VMACConfig{Enabled: true, Name: "a-very-long-vmac-name"}
			s.Instances[1].VMAC = VMACConfig{Enabled: true, Name: "eth0"}
		}, []string{
			`instances[VI_1].vmac.name: interface name "a-very-long-vmac-name" is longer than 15 bytes`,
			`instances[VI_2].vmac.name: must differ from the instance's interface "eth0"`,
		}},
		{"unicast needs xmit_base", func(s *Set) {
			s.Instances[0].VMAC = VMACConfig{Enabled: true}
			s.Instances[0].UnicastPeers = []netip.Addr{netip.MustParseAddr("10.0.0.9")}
		}, []string{"instances[VI_1].vmac.xmit_base: unicast_peers with a vmac need xmit_base: true (as keepalived)"}},
		{"same name twice", func(s *Set) {
			s.Instances[0].VMAC = VMACConfig{Enabled: true, Name: "vm"}
			s.Instances[1].VMAC = VMACConfig{Enabled: true, Name: "vm"}
		}, []string{"instances[VI_2].vmac.name: duplicate vmac vm (give each instance its own vmac.name) (first at instances[VI_1].vmac.name)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Set{Instances: []Config{good("VI_1", 51), good("VI_2", 52)}}
			tt.mod(&s)
			s.SetDefaults(nil)
			var got []string
			if err := s.Validate(nil); err != nil {
				for _, e := range err.(FieldErrors) {
					got = append(got, e.Error())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// fakeVMACs records macvlan calls, with the VIPs held at each.
type fakeVMACs struct {
	mu    sync.Mutex
	addrs *fakeAddrs
	log   []string
}

func (f *fakeVMACs) record(op string, s VMACSpec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, op+" "+s.Name+" on "+s.Parent+" "+s.MAC.String())
	if f.addrs.has("192.168.56.90/32") {
		f.log = append(f.log, "VIP held")
	}
}

func (f *fakeVMACs) Create(s VMACSpec) error { f.record("create", s); return nil }
func (f *fakeVMACs) Remove(s VMACSpec) error { f.record("remove", s); return nil }

func (f *fakeVMACs) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// devAddrs records the device of each VIP added.
type devAddrs struct {
	*fakeAddrs
	mu   sync.Mutex
	devs []string
}

func (a *devAddrs) Add(v VIP) error {
	a.mu.Lock()
	a.devs = append(a.devs, v.Device)
	a.mu.Unlock()
	return a.fakeAddrs.Add(v)
}

func TestRouterVMAC(t *testing.T) {
	for _, xmitBase := range []bool{false, true} {
		t.Run(map[bool]string{false: "adverts on the vmac", true: "xmit_base"}[xmitBase], func(t *testing.T) {
			lan := newFakeLAN()
			h := newFakeHost(lan, "10.0.0.1")
			vm := &fakeVMACs{addrs: h.addrs}
			addrs := &devAddrs{fakeAddrs: h.addrs}
			var mu sync.Mutex
			var listened []TransportConfig
			env := h.env(lan)
			listen := env.Listen
			env.Listen = func(c TransportConfig) (Transport, error) {
				mu.Lock()
				listened = append(listened, c)
				mu.Unlock()
				return listen(c)
			}
			env.Addresses, env.VMACs = addrs, vm
			c := fastConfig("VI_1", 200)
			c.VIPs[0].Label = ""
			c.VMAC = VMACConfig{Enabled: true, XmitBase: xmitBase}
			r, err := New(Options{Instances: []Config{c}, Env: env, Logger: quietLog()})
			if err != nil {
				t.Fatal(err)
			}
			run := &running{r: r, host: h, done: make(chan error, 1)}
			ctx, cancel := context.WithCancel(context.Background())
			run.cancel = cancel
			go func() { run.done <- r.Run(ctx) }()
			waitState(t, run, "VI_1", StateMaster)
			run.stop(t)

			wantDev := "vrrp.51"
			if xmitBase {
				wantDev = "eth0"
			}
			mu.Lock()
			defer mu.Unlock()
			if len(listened) != 1 || listened[0].Interface != wantDev || listened[0].SourceInterface != "eth0" {
				t.Errorf("listened on %+v; want %s with eth0's source", listened, wantDev)
			}
			addrs.mu.Lock()
			defer addrs.mu.Unlock()
			if len(addrs.devs) == 0 || addrs.devs[0] != "vrrp.51" {
				t.Errorf("VIP added on %q; want vrrp.51", addrs.devs)
			}
			want := []string{"create vrrp.51 on eth0 00:00:5e:00:01:33", "remove vrrp.51 on eth0 00:00:5e:00:01:33"}
			if diff := cmp.Diff(want, vm.calls()); diff != "" {
				t.Errorf("vmac calls (-want +got):\n%s", diff)
			}
		})
	}
}
