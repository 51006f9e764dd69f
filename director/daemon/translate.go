package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/vrrp"
)

// VRRPConfig translates one configured instance into the vrrp runtime type.
func VRRPConfig(in *config.VRRPInstance) vrrp.Config {
	c := vrrp.Config{
		Name:           in.Name,
		Interface:      in.Interface,
		VRID:           uint8(in.VirtualRouterID),
		Version:        in.Version,
		Priority:       uint8(in.Priority),
		AdvertInterval: in.AdvertInterval,
		NoPreempt:      in.NoPreempt,
		PreemptDelay:   in.PreemptDelay,
		SourceAddr:     in.SourceAddress,
		UnicastPeers:   slices.Clone(in.UnicastPeers),
		Notify:         vrrpNotify(in.Notify),
		GARP: vrrp.GARPConfig{
			MasterDelay:         in.GARP.MasterDelay,
			MasterRepeat:        in.GARP.MasterRepeat,
			MasterRefresh:       in.GARP.MasterRefresh,
			MasterRefreshRepeat: in.GARP.MasterRefreshRepeat,
			Interval:            in.GARP.Interval,
		},
		InitialState: vrrp.StateBackup,
	}
	if in.State == config.Master {
		c.InitialState = vrrp.StateMaster
	}
	if in.Authentication != nil {
		c.AuthPass = in.Authentication.Password
	}
	for _, v := range in.VirtualIPAddresses {
		c.VIPs = append(c.VIPs, vrrp.VIP{Prefix: v.Address, Device: v.Device, Label: v.Label})
	}
	for _, t := range in.TrackInterfaces {
		c.TrackInterfaces = append(c.TrackInterfaces, vrrp.TrackInterface{Name: t.Name, Weight: t.Weight})
	}
	for _, t := range in.TrackScripts {
		// The loader fills in the script's weight when the instance gives
		// none, so the weight here is always the effective one.
		c.TrackScripts = append(c.TrackScripts, vrrp.TrackScript{Name: t.Name, Weight: t.Weight, OverrideWeight: true})
	}
	return c
}

// VRRPScript translates a tracked script.
func VRRPScript(s *config.VRRPScript) vrrp.ScriptConfig {
	return vrrp.ScriptConfig{
		Name:     s.Name,
		Command:  slices.Clone([]string(s.Command)),
		Interval: s.Interval,
		Timeout:  s.Timeout,
		Rise:     s.Rise,
		Fall:     s.Fall,
		Weight:   s.Weight,
	}
}

// VRRPSyncGroup translates a sync group.
func VRRPSyncGroup(g *config.SyncGroup) vrrp.SyncGroupConfig {
	return vrrp.SyncGroupConfig{Name: g.Name, Instances: slices.Clone(g.Instances), Notify: vrrpNotify(g.Notify)}
}

func vrrpNotify(n config.Notify) vrrp.Notify {
	return vrrp.Notify{
		Master: slices.Clone([]string(n.Master)),
		Backup: slices.Clone([]string(n.Backup)),
		Fault:  slices.Clone([]string(n.Fault)),
		Stop:   slices.Clone([]string(n.Stop)),
		Any:    slices.Clone([]string(n.Any)),
	}
}

// Component is a set of VRRP instances that must run in one vrrp.Router:
// an instance together with everything it shares a sync group with, and
// the scripts they track. Components are independent of each other, so a
// reload restarts only those whose configuration changed.
type Component struct {
	// Name identifies the component: its instance names, sorted, joined by ",".
	Name    string
	Options ComponentConfig
}

// ComponentConfig is the translated configuration of a component, the
// part of vrrp.Options a reload compares.
type ComponentConfig struct {
	Instances  []vrrp.Config
	Scripts    []vrrp.ScriptConfig
	SyncGroups []vrrp.SyncGroupConfig
}

// Components splits the VRRP configuration into connected components, in
// the order of their first instance in the file.
func Components(v *config.VRRP) []Component {
	// Union-find over instance names, joined by sync groups.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] == x {
			return x
		}
		parent[x] = find(parent[x])
		return parent[x]
	}
	for _, in := range v.Instances {
		parent[in.Name] = in.Name
	}
	for _, g := range v.SyncGroups {
		for _, n := range g.Instances[1:] {
			if _, ok := parent[n]; !ok {
				continue
			}
			if _, ok := parent[g.Instances[0]]; !ok {
				continue
			}
			parent[find(n)] = find(g.Instances[0])
		}
	}
	var order []string
	members := map[string][]string{}
	for _, in := range v.Instances {
		r := find(in.Name)
		if _, ok := members[r]; !ok {
			order = append(order, r)
		}
		members[r] = append(members[r], in.Name)
	}
	var out []Component
	for _, r := range order {
		names := members[r]
		var cc ComponentConfig
		scripts := map[string]bool{}
		for _, n := range names {
			in := v.Instance(n)
			cc.Instances = append(cc.Instances, VRRPConfig(in))
			for _, t := range in.TrackScripts {
				if scripts[t.Name] {
					continue
				}
				if s := v.Script(t.Name); s != nil {
					scripts[t.Name] = true
					cc.Scripts = append(cc.Scripts, VRRPScript(s))
				}
			}
		}
		for i := range v.SyncGroups {
			g := &v.SyncGroups[i]
			if len(g.Instances) > 0 && slices.Contains(names, g.Instances[0]) {
				cc.SyncGroups = append(cc.SyncGroups, VRRPSyncGroup(g))
			}
		}
		sorted := slices.Clone(names)
		slices.Sort(sorted)
		out = append(out, Component{Name: strings.Join(sorted, ","), Options: cc})
	}
	return out
}

// CheckSpec translates check c of real server rs of vs into the health
// checker's runtime types.
func CheckSpec(vs *config.VirtualServer, rs *config.RealServer, c *config.Check) (healthcheck.Spec, healthcheck.Timing) {
	s := healthcheck.Spec{
		Type:        healthcheck.CheckType(c.Type),
		BindTo:      c.BindTo,
		VirtualHost: c.VirtualHost,
		SNI:         c.SNI,
		TLSVerify:   c.TLSVerify,
		Command:     slices.Clone([]string(c.Command)),
		Dynamic:     c.Dynamic,
	}
	switch c.Type {
	case config.CheckScript:
	case config.CheckDNS:
		s.Target = rs.EffectiveTarget(c)
		s.DNSType = string(c.QueryType)
		s.DNSName = c.QueryName
	default:
		s.Target = rs.EffectiveTarget(c)
	}
	for _, u := range c.URLs {
		hu := healthcheck.URL{Path: u.Path, Digest: u.Digest}
		for _, r := range u.StatusCodes {
			hu.StatusCodes = append(hu.StatusCodes, healthcheck.StatusRange{Min: r.Lo, Max: r.Hi})
		}
		s.URLs = append(s.URLs, hu)
	}
	t := vs.EffectiveCheck(rs, c)
	return s, healthcheck.Timing{
		DelayLoop:        t.DelayLoop,
		ConnectTimeout:   t.ConnectTimeout,
		Retry:            t.Retry,
		DelayBeforeRetry: t.DelayBeforeRetry,
		Warmup:           t.Warmup,
		Alpha:            t.Alpha,
		Rise:             t.Rise,
		Fall:             t.Fall,
	}
}

// CheckSub is one health-check subscription: a check of a real server of
// a service.
type CheckSub struct {
	ID     healthcheck.ID
	Server director.RealServerID
	// Name is the check's label in logs and metrics: "http#0" (type and
	// position among the real server's checks).
	Name string
	// Index is the check's position among the real server's checks.
	Index  int
	Spec   healthcheck.Spec
	Timing healthcheck.Timing
}

// Checks returns every check subscription of the configuration. A
// subscription's ID is derived from the service, the real server and the
// check's content, so an unchanged check keeps its ID (and its state)
// across reloads and a changed one gets a new ID.
func Checks(vss []config.VirtualServer) []CheckSub {
	var out []CheckSub
	for i := range vss {
		vs := &vss[i]
		key := ServiceKeyOf(vs)
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			rid := director.RealServerID{Service: key, Address: rs.Address, Port: rs.Port}
			seen := map[string]int{}
			for k := range vs.RealServers[j].Checks {
				c := &rs.Checks[k]
				spec, timing := CheckSpec(vs, rs, c)
				sum := sha256.Sum256([]byte(healthcheck.Key(spec, timing)))
				h := hex.EncodeToString(sum[:6])
				n := seen[h]
				seen[h]++
				id := fmt.Sprintf("%s|%s|%s|%s", key, rs.AddrPort(), c.Type, h)
				if n > 0 {
					id += fmt.Sprintf("-%d", n)
				}
				out = append(out, CheckSub{
					ID: healthcheck.ID(id), Server: rid, Name: fmt.Sprintf("%s#%d", c.Type, k), Index: k,
					Spec: spec, Timing: timing,
				})
			}
		}
	}
	return out
}

func netipAddrPort(rs director.RealServerID) string {
	return netip.AddrPortFrom(rs.Address, rs.Port).String()
}
