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
	// Register, when set, registers the node in a ZooKeeper registry
	// once its VIPs are in place (the seed's AppServer).
	Register *AgentRegister `yaml:"register"`
}

// Defaults of lbrs.yaml's register section.
const (
	DefaultRegisterSessionTimeout = 5 * time.Second
	DefaultRegisterPrefix         = "sub"
	DefaultRegisterDrainTimeout   = 30 * time.Second
	DefaultRegisterDrainQuiet     = 2 * time.Second
)

// AgentRegister is lbrs.yaml's register section: where and how the node
// publishes itself.
type AgentRegister struct {
	ZooKeeper      []string      `yaml:"zookeeper"`       // required: the ensemble, host:port each
	SessionTimeout time.Duration `yaml:"session_timeout"` // default 5s
	Path           string        `yaml:"path"`            // required: the base path, absolute
	Name           string        `yaml:"name"`            // "" = EPHEMERAL_SEQUENTIAL Prefix+seq; else a stable ephemeral name
	Prefix         string        `yaml:"prefix"`          // default "sub" (the seed's)
	Format         string        `yaml:"format"`          // seed (default) or json
	Address        netip.Addr    `yaml:"address"`         // required: the address published
	Port           int           `yaml:"port"`            // required
	Weight         int           `yaml:"weight"`          // json only; default 1
	DrainTimeout   time.Duration `yaml:"drain_timeout"`   // default 30s: bound of the graceful-stop drain
	DrainQuiet     time.Duration `yaml:"drain_quiet"`     // default 2s: the drain ends after this long with no new connection (and none left)
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
	if a.Register != nil {
		r.registerDefaults(a.Register)
	}
}

func (r *report) registerDefaults(g *AgentRegister) {
	if !r.has("register.session_timeout") {
		g.SessionTimeout = DefaultRegisterSessionTimeout
	}
	if !r.has("register.prefix") {
		g.Prefix = DefaultRegisterPrefix
	}
	if g.Format == "" {
		g.Format = "seed"
	}
	if !r.has("register.weight") {
		g.Weight = 1
	}
	if !r.has("register.drain_timeout") {
		g.DrainTimeout = DefaultRegisterDrainTimeout
	}
	if !r.has("register.drain_quiet") {
		g.DrainQuiet = DefaultRegisterDrainQuiet
	}
}

// validateRegister checks the register section. ZooKeeper's own rules for
// a path: absolute, no empty, "." or ".." component, no trailing slash.
func (r *report) validateRegister(g *AgentRegister) {
	const p = "register"
	if len(g.ZooKeeper) == 0 {
		if !r.has(p + ".zookeeper") {
			r.missing(p, "zookeeper")
		} else {
			r.errf(p+".zookeeper", "at least one ensemble address required")
		}
	}
	for i, s := range g.ZooKeeper {
		if why := hostPortProblem(s); why != "" {
			r.errf(itemPath(p+".zookeeper", i), "%q is not host:port: %s", s, why)
		}
	}
	if g.SessionTimeout < time.Second || g.SessionTimeout > time.Minute {
		r.errf(p+".session_timeout", "must be between 1s and 1m, got %s", g.SessionTimeout)
	}
	switch {
	case !r.has(p + ".path"):
		r.missing(p, "path")
	default:
		if why := znodePathProblem(g.Path); why != "" {
			r.errf(p+".path", "%q is not a ZooKeeper path: %s", g.Path, why)
		}
	}
	r.validateRegisterName(g)
	if g.Format != "seed" && g.Format != "json" {
		r.errf(p+".format", "unknown format %q (want one of seed, json)", g.Format)
	}
	switch {
	case !r.has(p + ".address"):
		r.missing(p, "address")
	case g.Address.IsValid() && (g.Address.IsUnspecified() || g.Address.IsMulticast()):
		r.errf(p+".address", "%s cannot be a real server's address", g.Address)
	}
	if !r.has(p + ".port") {
		r.missing(p, "port")
	} else {
		r.intRange(p+".port", g.Port, 1, 65535)
	}
	if g.Format == "seed" && r.has(p+".weight") {
		r.errf(p+".weight", "weight is published in format json only (the seed's data is host:port)")
	} else {
		r.intRange(p+".weight", g.Weight, 0, 65535)
	}
}

func (r *report) validateRegisterName(g *AgentRegister) {
	const p = "register"
	if g.Name != "" {
		if why := znodeNameProblem(g.Name); why != "" {
			r.errf(p+".name", "%q is not a znode name: %s", g.Name, why)
		}
		if r.has(p + ".prefix") {
			r.errf(p+".prefix", "prefix names sequential nodes only; name is set")
		}
		return
	}
	if g.Prefix != "" {
		if why := znodeNameProblem(g.Prefix); why != "" {
			r.errf(p+".prefix", "%q is not a znode name: %s", g.Prefix, why)
		}
	}
}

// znodePathProblem says why s is not an absolute ZooKeeper path ("" when
// it is one).
func znodePathProblem(s string) string {
	switch {
	case !strings.HasPrefix(s, "/"):
		return "must be absolute"
	case s == "/":
		return "the root holds no members"
	case strings.HasSuffix(s, "/"):
		return "must not end with /"
	}
	for _, c := range strings.Split(s[1:], "/") {
		if why := znodeNameProblem(c); why != "" {
			return why
		}
	}
	return ""
}

// znodeNameProblem says why s is not one znode name ("" when it is one).
func znodeNameProblem(s string) string {
	switch {
	case s == "":
		return "empty name"
	case s == "." || s == "..":
		return ". and .. are not names"
	case strings.Contains(s, "/"):
		return "contains /"
	case strings.ContainsFunc(s, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		return "contains a control character"
	}
	return ""
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
	if a.Register != nil {
		r.validateRegister(a.Register)
	}
}
