package vrrplab

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lvsd/lb/internal/netnslab"
)

// lbd itself as a VRRP speaker: `lbd run` with a VRRP-only lbd.yaml (no
// virtual_servers, so no IPVS: these namespaces' kernel may have none).
// Its transitions come from its JSON log ("vrrp transition").

// BuildLbd compiles cmd/lbd (static: CGO_ENABLED=0) into dir and returns its path.
func BuildLbd(dir string) (string, error) {
	return netnslab.GoBuild(dir, "github.com/lvsd/lb/cmd/lbd", "CGO_ENABLED=0")
}

// LbdConf renders a VRRP-only lbd.yaml with the instances as KeepalivedConf
// renders them for keepalived (the same timers, priorities, addresses and
// labels), keeping its control socket and state under dir/name.
func LbdConf(dir, name string, insts ...KAInstance) string {
	var b strings.Builder
	home := filepath.Join(dir, name+".lbd")
	fmt.Fprintf(&b, "global:\n  router_id: %s\n  control_socket: %s/lbd.sock\n  state_dir: %s\n  metrics_address: \"\"\n  log_format: json\n",
		name, home, home)
	b.WriteString("vrrp:\n  instances:\n")
	for _, in := range insts {
		iface := in.Interface
		if iface == "" {
			iface = "eth0"
		}
		state := in.State
		if state == "" {
			state = "BACKUP"
		}
		version := in.Version
		if version == 0 {
			version = 2
		}
		fmt.Fprintf(&b, "    %s:\n      state: %s\n      interface: %s\n      virtual_router_id: %d\n      version: %d\n      priority: %d\n      advert_interval: %s\n",
			in.Name, state, iface, in.VRID, version, in.Priority, in.Advert)
		if in.NoPreempt {
			b.WriteString("      nopreempt: true\n")
		}
		if in.VMAC {
			fmt.Fprintf(&b, "      vmac: {enabled: true, xmit_base: %t}\n", in.VMACXmitBase)
		}
		if in.BFDInterval > 0 {
			fmt.Fprintf(&b, "      bfd: {interval: %s, multiplier: 3}\n", in.BFDInterval)
		}
		if in.AuthPass != "" {
			fmt.Fprintf(&b, "      authentication: {type: PASS, password: %q}\n", in.AuthPass)
		}
		if in.UnicastSrc.IsValid() {
			fmt.Fprintf(&b, "      source_address: %s\n", in.UnicastSrc)
		}
		if len(in.UnicastPeers) > 0 {
			b.WriteString("      unicast_peers:\n")
			for _, p := range in.UnicastPeers {
				fmt.Fprintf(&b, "        - %s\n", p)
			}
		}
		b.WriteString("      virtual_ipaddresses:\n")
		for i, v := range in.VIPs {
			fmt.Fprintf(&b, "        - address: %s\n", v)
			if in.Label && v.Addr().Is4() {
				fmt.Fprintf(&b, "          label: \"%s:%d\"\n", iface, i)
			}
		}
	}
	return b.String()
}

// StartLbd runs `lbd run` (Lab.Lbd) with the lbd.yaml conf on host h.
func (l *Lab) StartLbd(h *Host, name, conf string) (*Proc, error) {
	if l.Lbd == "" {
		return nil, fmt.Errorf("starting %s: no lbd binary (Lab.Lbd)", name)
	}
	path, err := l.writeFile(name+".yaml", conf)
	if err != nil {
		return nil, err
	}
	p := newProc(name, false)
	p.lbd = true
	return p, p.start(h, l.Wrap, l.Lbd, "run", "-c", path, "--log-format", "json", "--log-level", "info")
}

// lbdTransition is the part of lbd's JSON log line of a transition that
// the lab reads.
type lbdTransition struct {
	Msg      string `json:"msg"`
	Instance string `json:"instance"`
	To       string `json:"to"`
}
