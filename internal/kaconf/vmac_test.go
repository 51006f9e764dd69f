package kaconf

import (
	"slices"
	"strings"
	"testing"

	"github.com/lvsd/lb/vrrp"
)

// TestVMACMapped: use_vmac [NAME] and vmac_xmit_base become the
// instance's vmac block, with keepalived's rules: unicast peers imply
// xmit_base, xmit_base alone does nothing, a MAC of one's own and a label
// of the base interface are reported.
func TestVMACMapped(t *testing.T) {
	for _, tc := range []struct {
		name     string
		conf     string
		want     vrrp.VMACConfig // as lbd loads it (defaults filled)
		unmapped []string
		yamlHas  []string
	}{
		{"default name", instance("use_vmac"), vrrp.VMACConfig{Enabled: true, Name: "vrrp.51"}, nil,
			[]string{"vmac:\n        enabled: true"}},
		{"named, xmit_base", instance("use_vmac vrrp_web\nvmac_xmit_base"), vrrp.VMACConfig{Enabled: true, Name: "vrrp_web", XmitBase: true}, nil,
			[]string{"name: vrrp_web", "xmit_base: true"}},
		{"own MAC", instance("use_vmac vm1 00:00:5e:00:01"), vrrp.VMACConfig{Enabled: true, Name: "vm1"}, []string{"7:00:00:5e:00:01"},
			[]string{"name: vm1"}},
		{"xmit_base alone", instance("vmac_xmit_base"), vrrp.VMACConfig{}, []string{"7:vmac_xmit_base"}, nil},
		{"unicast implies xmit_base", instance("use_vmac\nunicast_peer {\n 10.0.0.2\n}"), vrrp.VMACConfig{Enabled: true, Name: "vrrp.51", XmitBase: true}, nil,
			[]string{"xmit_base: true"}},
		{"label of the base interface", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n use_vmac\n virtual_ipaddress {\n  10.0.0.100 dev eth0 label eth0:1\n }\n}\n",
			vrrp.VMACConfig{Enabled: true, Name: "vrrp.51"}, []string{"6:label"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := convert(t, tc.conf)
			if got := issueKeys(res); !slices.Equal(got, tc.unmapped) {
				t.Errorf("unmapped %v, want %v", res.Unmapped, tc.unmapped)
			}
			in := res.Director.VRRP.Instance("VI_1")
			if in.VMAC != tc.want {
				t.Errorf("vmac %+v, want %+v", in.VMAC, tc.want)
			}
			if tc.want.Enabled && in.VIPs[0].Device != tc.want.Name {
				t.Errorf("VIP on %s, want the vmac %s", in.VIPs[0].Device, tc.want.Name)
			}
			for _, w := range tc.yamlHas {
				if !strings.Contains(string(res.YAML), w) {
					t.Errorf("YAML lacks %q:\n%s", w, res.YAML)
				}
			}
		})
	}
}
