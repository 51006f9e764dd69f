package config

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lb/realserver"
)

// Defaults of lbrs.yaml.
const (
	DefaultAgentStateFile = "/var/lib/lbrs/state.json"
	DefaultArpIgnore      = 1
	DefaultArpAnnounce    = 2
)

// Agent is lbrs.yaml, the real-server agent. After LoadAgent/ParseAgent
// every default is filled in.
type Agent struct {
	Mode           AgentMode     `yaml:"mode"`         // dr (default) or tun
	VIPs           []netip.Addr  `yaml:"vips"`         // required, bare addresses (/32, /128)
	Interface      string        `yaml:"interface"`    // default lo (dr), tunl0 (tun)
	Interface6     string        `yaml:"-"`            // device for IPv6 VIPs: Interface in dr mode, ip6tnl0 in tun mode
	LabelPrefix    string        `yaml:"label_prefix"` // dr: default "<interface>:"; tun: "" (no labels)
	Sysctls        AgentSysctls  `yaml:"sysctls"`
	StateFile      string        `yaml:"state_file"`      // default /var/lib/lbrs/state.json
	ResyncInterval time.Duration `yaml:"resync_interval"` // default 30s, >= 1s
	LogFormat      LogFormat     `yaml:"log_format"`      // default text
	LogLevel       LogLevel      `yaml:"log_level"`       // default info
}

// AgentSysctls are the per-interface sysctls the agent sets (on Interface and
// on "all") and restores on stop.
type AgentSysctls struct {
	ArpIgnore   int  `yaml:"arp_ignore"`   // 0-8, default 1
	ArpAnnounce int  `yaml:"arp_announce"` // 0-2, default 2
	RPFilter    *int `yaml:"rp_filter"`    // tun only, 0-2, default 0 in tun mode; nil = untouched
}

// Label returns the address label of the i-th IPv4 VIP (counting IPv4 VIPs
// only, from 0), e.g. "lo:0"; "" when the agent uses no labels.
func (a *Agent) Label(i int) string {
	if a.LabelPrefix == "" {
		return ""
	}
	return a.LabelPrefix + strconv.Itoa(i)
}

// InterfaceFor returns the device a VIP goes on.
func (a *Agent) InterfaceFor(vip netip.Addr) string {
	if FamilyOf(vip) == IPv6 {
		return a.Interface6
	}
	return a.Interface
}

func (r *report) agentDefaults(a *Agent) {
	if a.Mode == "" {
		a.Mode = ModeDR
	}
	if !r.has("interface") {
		a.Interface = "lo"
		if a.Mode == ModeTUN {
			a.Interface = "tunl0"
		}
	}
	a.Interface6 = a.Interface
	if a.Mode == ModeTUN {
		a.Interface6 = "ip6tnl0"
	}
	if a.Mode == ModeDR && !r.has("label_prefix") {
		a.LabelPrefix = a.Interface + ":"
	}
	if !r.has("sysctls.arp_ignore") {
		a.Sysctls.ArpIgnore = DefaultArpIgnore
	}
	if !r.has("sysctls.arp_announce") {
		a.Sysctls.ArpAnnounce = DefaultArpAnnounce
	}
	if a.Mode == ModeTUN && a.Sysctls.RPFilter == nil {
		zero := 0
		a.Sysctls.RPFilter = &zero
	}
	if a.StateFile == "" {
		a.StateFile = DefaultAgentStateFile
	}
	if !r.has("resync_interval") {
		a.ResyncInterval = DefaultResyncInterval
	}
	if a.LogFormat == "" {
		a.LogFormat = "text"
	}
	if a.LogLevel == "" {
		a.LogLevel = "info"
	}
}

func (r *report) validateAgent(a *Agent) {
	switch {
	case !r.has("vips"):
		r.missing("", "vips")
	case len(a.VIPs) == 0 && r.ok("vips"):
		r.errf("vips", "at least one VIP required")
	}
	seen := map[netip.Addr]bool{}
	n4 := 0
	for i, v := range a.VIPs {
		p := itemPath("vips", i)
		switch {
		case !v.IsValid():
			continue
		case !realserver.UsableVIP(v):
			r.errf(p, "%s cannot be a virtual address", v)
		case seen[v]:
			r.errf(p, "duplicate VIP %s", v)
		}
		seen[v] = true
		if v.Is4() {
			n4++
		}
	}
	if r.has("interface") && r.ok("interface") {
		switch why := realserver.DeviceNameProblem(a.Interface); {
		case a.Interface == "":
			r.errf("interface", "must not be empty")
		case why != "":
			r.errf("interface", "%q is not a network device name: %s", a.Interface, why)
		}
	}
	if a.LabelPrefix != "" {
		switch {
		case a.Mode != ModeDR:
			r.errf("label_prefix", "labels are used in dr mode only")
		case !strings.HasPrefix(a.LabelPrefix, a.Interface+":"):
			r.errf("label_prefix", "label prefix %q must start with the interface name and a colon (%s:)", a.LabelPrefix, a.Interface)
		case n4 > 0 && len(a.Label(n4-1)) > 15:
			r.errf("label_prefix", "label %q would be longer than 15 bytes", a.Label(n4-1))
		}
	}
	r.intRange("sysctls.arp_ignore", a.Sysctls.ArpIgnore, 0, 8)
	r.intRange("sysctls.arp_announce", a.Sysctls.ArpAnnounce, 0, 2)
	if rp := a.Sysctls.RPFilter; rp != nil {
		if a.Mode != ModeTUN && r.ok("mode") {
			r.errf("sysctls.rp_filter", "rp_filter is set in tun mode only")
		} else {
			r.intRange("sysctls.rp_filter", *rp, 0, 2)
		}
	}
	r.absPath("state_file", a.StateFile)
	if a.ResyncInterval < time.Second {
		r.errf("resync_interval", "must be at least 1s, got %s", a.ResyncInterval)
	}
}
