package vrrplab

import (
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/vrrp"
)

// LbdConf renders what KeepalivedConf renders, as a VRRP-only lbd.yaml
// that lbd accepts: the same timers, priority, authentication and VIPs.
func TestLbdConf(t *testing.T) {
	vip := netip.MustParsePrefix("10.88.0.100/32")
	for _, in := range []KAInstance{
		{Name: "VI_1", VRID: 51, Version: 2, Priority: 200, Advert: time.Second, AuthPass: "1111", VIPs: []netip.Prefix{vip}, Label: true},
		{Name: "VI_1", VRID: 51, Version: 3, Priority: 100, Advert: 100 * time.Millisecond, VIPs: []netip.Prefix{vip}, NoPreempt: true},
	} {
		y := LbdConf("/tmp/lab", "a-1", in)
		d, err := config.ParseDirector("lbd.yaml", []byte(y))
		if err != nil {
			t.Fatalf("%v\n%s", err, y)
		}
		if len(d.VirtualServers) != 0 || d.IPVS.SyncDaemon != nil || len(d.VRRP.Instances) != 1 {
			t.Fatalf("not one VRRP-only instance:\n%s", y)
		}
		got := d.VRRP.Instances[0]
		if got.VRID != in.VRID || got.Version != in.Version || got.Priority != in.Priority || got.AdvertInterval != in.Advert ||
			got.NoPreempt != in.NoPreempt || got.InitialState != vrrp.StartBackup || len(got.VIPs) != 1 || got.VIPs[0].Prefix != vip ||
			(in.AuthPass != "") != (got.Authentication != nil) || in.Label != (got.VIPs[0].Label == "eth0:0") {
			t.Errorf("instance %+v from\n%s", got, y)
		}
		if d.Global.ControlSocket != "/tmp/lab/a-1.lbd/lbd.sock" || d.Global.StateDir != "/tmp/lab/a-1.lbd" {
			t.Errorf("global %+v", d.Global)
		}
	}
}
