package vrrplab

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// KAInstance is a keepalived vrrp_instance.
type KAInstance struct {
	Name         string
	Interface    string // default eth0
	VRID         int
	Version      int // 2 or 3
	Priority     int
	Advert       time.Duration
	AuthPass     string
	NoPreempt    bool
	State        string // MASTER or BACKUP (default)
	VIPs         []netip.Prefix
	Label        bool // label the IPv4 VIPs IFACE:N
	UnicastSrc   netip.Addr
	UnicastPeers []netip.Addr
	VMAC         bool // use_vmac (default name vrrp.VRID)
	VMACXmitBase bool // vmac_xmit_base
	// BFDInterval, when set, gives lbd's instance a bfd section (interval,
	// multiplier 3): lbd only, keepalived.conf leaves it out.
	BFDInterval time.Duration
}

// KeepalivedConf renders a VRRP-only keepalived.conf.
func KeepalivedConf(routerID string, insts ...KAInstance) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id %s\n  enable_script_security\n  script_user root\n}\n", routerID)
	for _, in := range insts {
		iface := in.Interface
		if iface == "" {
			iface = "eth0"
		}
		state := in.State
		if state == "" {
			state = "BACKUP"
		}
		fmt.Fprintf(&b, "vrrp_instance %s {\n", in.Name)
		fmt.Fprintf(&b, "  state %s\n  interface %s\n  virtual_router_id %d\n  priority %d\n", state, iface, in.VRID, in.Priority)
		if in.Version == 3 {
			b.WriteString("  version 3\n")
		}
		fmt.Fprintf(&b, "  advert_int %s\n", strconv.FormatFloat(in.Advert.Seconds(), 'f', -1, 64))
		if in.NoPreempt {
			b.WriteString("  nopreempt\n")
		}
		if in.VMAC {
			b.WriteString("  use_vmac\n")
		}
		if in.VMACXmitBase {
			b.WriteString("  vmac_xmit_base\n")
		}
		if in.AuthPass != "" {
			fmt.Fprintf(&b, "  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", in.AuthPass)
		}
		if in.UnicastSrc.IsValid() {
			fmt.Fprintf(&b, "  unicast_src_ip %s\n", in.UnicastSrc)
		}
		if len(in.UnicastPeers) > 0 {
			b.WriteString("  unicast_peer {\n")
			for _, p := range in.UnicastPeers {
				fmt.Fprintf(&b, "    %s\n", p)
			}
			b.WriteString("  }\n")
		}
		b.WriteString("  virtual_ipaddress {\n")
		for i, v := range in.VIPs {
			fmt.Fprintf(&b, "    %s dev %s", v, iface)
			if in.Label && v.Addr().Is4() {
				fmt.Fprintf(&b, " label %s:%d", iface, i)
			}
			b.WriteString("\n")
		}
		b.WriteString("  }\n}\n")
	}
	return b.String()
}
