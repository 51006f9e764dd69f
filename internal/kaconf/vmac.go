package kaconf

import (
	"strings"

	"github.com/lvsd/lb/vrrp"
)

// useVMAC maps "use_vmac [NAME] [MAC]": the instance's macvlan, named
// NAME (keepalived's vrrp.VRID by default). A word with a colon is a MAC
// address (interface names have none); lbd always uses the RFC's.
func (m *mapper) useVMAC(b *instanceBuild, c *Node) {
	if !m.leaf(c, 0, 2) {
		return
	}
	b.in.VMAC.Enabled = true
	for _, w := range c.Args {
		if strings.Contains(w, ":") {
			m.unmappedWord(c, w, "a vmac MAC address of one's own is not supported: lbd uses 00:00:5e:00:01:VRID (00:00:5e:00:02:VRID for IPv6)")
			continue
		}
		if b.in.VMAC.Name != "" {
			m.unmappedWord(c, w, "extra argument %q ignored: the vmac is already named %s", w, b.in.VMAC.Name)
			continue
		}
		b.in.VMAC.Name = w
	}
}

// completeVMAC applies keepalived's rules once the instance is read:
// vmac_xmit_base means nothing without use_vmac, unicast peers need it
// (keepalived sets it), and a label naming the base interface cannot
// follow an address onto the vmac.
func (m *mapper) completeVMAC(b *instanceBuild) {
	in := &b.in
	if !in.VMAC.Enabled {
		if b.xmitBase != nil {
			m.unmapped(b.xmitBase, "vmac_xmit_base without use_vmac has no effect")
			in.VMAC.XmitBase = false
		}
		return
	}
	if len(in.UnicastPeers) > 0 {
		in.VMAC.XmitBase = true // as keepalived: unicast with use_vmac requires vmac_xmit_base
	}
	for i := range in.VIPs {
		v := &in.VIPs[i]
		if v.Device == in.Interface && v.Label != "" {
			m.unmappedWord(b.vipNodes[i], "label", "label %q dropped: with use_vmac the address goes on the vmac, and lbd's labels name the device they are on", v.Label)
			v.Label = ""
		}
	}
}

// addVMAC writes an instance's vmac block.
func addVMAC(n ynode, in *vrrp.Config) {
	v := in.VMAC
	if !v.Enabled {
		return
	}
	vn := newMap()
	vn.add("enabled", boolean(true))
	if v.Name != "" && v.Name != vrrp.DefaultVMACName(in.VRID) {
		vn.add("name", str(v.Name))
	}
	if v.XmitBase {
		vn.add("xmit_base", boolean(true))
	}
	n.add("vmac", vn.Node)
}
