package daemon

import (
	"fmt"
	"reflect"

	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/config"
)

// Plan is what moving from one configuration to another changes, computed
// from the two alone (pure). At start the old configuration is the empty
// one: everything is new.
type Plan struct {
	// VRRP components: those to stop (removed or changed, by name), to
	// start (new or changed) and kept running untouched.
	StopComponents  []string
	StartComponents []Component
	KeepComponents  []string
	// Checks are the check subscriptions of the new configuration;
	// AddChecks and RemoveChecks what differs, the others keep their state.
	Checks       []CheckSub
	AddChecks    []*CheckSub // into Checks (at start, all 10,000 of 1,000 x 10: no second copy)
	RemoveChecks []healthcheck.ID
	KeepChecks   int
	// Services added, removed or changed (informational: the Manager's
	// diff decides the writes).
	Services []string
	// Settings says the ipvs section (timeouts, sysctls, sync daemon) changed.
	Settings bool
	// Restart lists global settings a reload cannot change.
	Restart []string
	// Changes describes the plan, one line per change.
	Changes []string
}

// PlanApply computes what moving from old to new changes (at start, old is
// the empty configuration).
func PlanApply(old, new *config.Director) Plan {
	var p Plan
	p.planVRRP(old, new)
	p.planChecks(old, new)
	p.planServices(old, new)
	if !reflect.DeepEqual(old.IPVS, new.IPVS) {
		p.Settings = true
		p.Changes = append(p.Changes, "ipvs: settings changed")
	}
	p.Restart = restartNeeded(old.Global, new.Global)
	for _, r := range p.Restart {
		p.Changes = append(p.Changes, "needs a restart to take effect: "+r)
	}
	return p
}

func (p *Plan) planVRRP(old, new *config.Director) {
	oldComps := map[string]Component{}
	for _, c := range Components(&old.VRRP) {
		oldComps[c.Name] = c
	}
	newNames := map[string]bool{}
	for _, c := range Components(&new.VRRP) {
		newNames[c.Name] = true
		oc, ok := oldComps[c.Name]
		switch {
		case ok && reflect.DeepEqual(oc.Set, c.Set):
			p.KeepComponents = append(p.KeepComponents, c.Name)
		case ok:
			p.StopComponents = append(p.StopComponents, c.Name)
			p.StartComponents = append(p.StartComponents, c)
			p.Changes = append(p.Changes, "vrrp: restart "+c.Name+" (changed)")
		default:
			p.StartComponents = append(p.StartComponents, c)
			p.Changes = append(p.Changes, "vrrp: start "+c.Name)
		}
	}
	for _, c := range Components(&old.VRRP) {
		if !newNames[c.Name] {
			p.StopComponents = append(p.StopComponents, c.Name)
			p.Changes = append(p.Changes, "vrrp: stop "+c.Name)
		}
	}
}

func (p *Plan) planChecks(old, new *config.Director) {
	oldSubs := Checks(old.VirtualServers)
	oldIDs := map[healthcheck.ID]bool{}
	for _, s := range oldSubs {
		oldIDs[s.ID] = true
	}
	p.Checks = Checks(new.VirtualServers)
	newIDs := map[healthcheck.ID]bool{}
	for i := range p.Checks {
		s := &p.Checks[i]
		newIDs[s.ID] = true
		if oldIDs[s.ID] {
			p.KeepChecks++
			continue
		}
		p.AddChecks = append(p.AddChecks, s)
		p.Changes = append(p.Changes, fmt.Sprintf("check: add %s %s %s", s.Server.Service, serverString(s.Server), s.Name))
	}
	for _, s := range oldSubs {
		if !newIDs[s.ID] {
			p.RemoveChecks = append(p.RemoveChecks, s.ID)
			p.Changes = append(p.Changes, fmt.Sprintf("check: remove %s %s %s", s.Server.Service, serverString(s.Server), s.Name))
		}
	}
}

func (p *Plan) planServices(old, new *config.Director) {
	oldVS := map[table.ServiceKey]*config.VirtualServer{}
	for i := range old.VirtualServers {
		oldVS[ServiceKeyOf(&old.VirtualServers[i])] = &old.VirtualServers[i]
	}
	seen := map[table.ServiceKey]bool{}
	for i := range new.VirtualServers {
		vs := &new.VirtualServers[i]
		k := ServiceKeyOf(vs)
		seen[k] = true
		ov, ok := oldVS[k]
		switch {
		case !ok:
			p.Services = append(p.Services, "add "+k.String())
		case !reflect.DeepEqual(ov, vs):
			p.Services = append(p.Services, "change "+k.String())
		}
	}
	for i := range old.VirtualServers {
		if k := ServiceKeyOf(&old.VirtualServers[i]); !seen[k] {
			p.Services = append(p.Services, "remove "+k.String())
		}
	}
	for _, s := range p.Services {
		p.Changes = append(p.Changes, "ipvs: "+s)
	}
}

// restartNeeded lists the global settings that differ and that only a
// restart applies.
func restartNeeded(og, ng config.Global) []string {
	var out []string
	if og.ControlSocket != ng.ControlSocket || og.ControlGroup != ng.ControlGroup {
		out = append(out, "global.control_socket/control_group")
	}
	if og.ControlLimits() != ng.ControlLimits() {
		out = append(out, "global.control_max_connections/control_*_timeout")
	}
	if og.MetricsAddress != ng.MetricsAddress {
		out = append(out, "global.metrics_address")
	}
	if og.StateDir != ng.StateDir || og.PurgeUnmanaged != ng.PurgeUnmanaged {
		out = append(out, "global.state_dir/purge_unmanaged")
	}
	if og.ResyncInterval != ng.ResyncInterval || og.LogFormat != ng.LogFormat {
		out = append(out, "global.resync_interval/log_format")
	}
	return out
}
