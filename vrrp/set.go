package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Set is a whole VRRP configuration: instances, the scripts they track and
// sync groups (lbd.yaml's vrrp section). The lists keep the file's order.
type Set struct {
	Instances  []Config          `yaml:"instances,named"`
	Scripts    []ScriptConfig    `yaml:"scripts,named"`
	SyncGroups []SyncGroupConfig `yaml:"sync_groups,named"`
	// Tracked processes and files (config_track.go).
	TrackProcesses []ProcessConfig `yaml:"track_processes,named"`
	TrackFiles     []FileConfig    `yaml:"track_files,named"`
	// Static entries, held whatever the instances' states (static.go).
	StaticAddresses []VIP   `yaml:"static_ipaddresses"`
	StaticRoutes    []Route `yaml:"static_routes"`
	StaticRules     []Rule  `yaml:"static_rules"`
}

// Paths of a Set's objects, as FieldError.Field and Given use them.
func instancePath(name string) string  { return "instances" + named(name) }
func scriptPath(name string) string    { return "scripts" + named(name) }
func syncGroupPath(name string) string { return "sync_groups" + named(name) }
func processPath(name string) string   { return "track_processes" + named(name) }
func filePath(name string) string      { return "track_files" + named(name) }

// SetDefaults fills keepalived's defaults into every instance and script
// (given: what the file wrote, by path within the Set; nil: the non-zero
// fields).
func (s *Set) SetDefaults(given Given) {
	for i := range s.Scripts {
		sc := &s.Scripts[i]
		sc.SetDefaults(given.under(scriptPath(sc.Name)))
	}
	for i := range s.Instances {
		in := &s.Instances[i]
		in.SetDefaults(given.under(instancePath(in.Name)))
	}
	for i := range s.TrackProcesses {
		tp := &s.TrackProcesses[i]
		tp.SetDefaults(given.under(processPath(tp.Name)))
	}
	for i := range s.TrackFiles {
		tf := &s.TrackFiles[i]
		tf.SetDefaults(given.under(filePath(tf.Name)))
	}
}

// Validate checks the Set after SetDefaults: every instance, script and
// group, and what they share (names, virtual routers, addresses, group
// membership). It returns FieldErrors, or nil.
func (s *Set) Validate(given Given) error {
	var errs FieldErrors
	f := fields{errs: &errs}
	s.validateNames(f)
	routers := map[routerKey]string{} // -> path of the first instance
	vips := map[netip.Addr]string{}   // -> path of the first address
	vmacs := map[string]string{}      // -> path of the first vmac
	for i := range s.Instances {
		in := &s.Instances[i]
		p := instancePath(in.Name)
		in.validate(given.under(p), f.at(p), func(name string) bool { return s.Script(name) != nil })
		in.validateTrackRefs(given.under(p), f.at(p), func(name string) bool { return s.TrackProcess(name) != nil },
			func(name string) bool { return s.TrackFile(name) != nil })
		for j, v := range in.VIPs {
			if !v.Prefix.IsValid() {
				continue
			}
			vp := join(p, "virtual_ipaddresses"+item(j))
			if first, dup := vips[v.Prefix.Addr()]; dup {
				f.duplicate(vp, first, "duplicate virtual IP address %s", v.Prefix.Addr())
			} else {
				vips[v.Prefix.Addr()] = vp
			}
		}
		for j, v := range in.ExcludedVIPs {
			if !v.Prefix.IsValid() {
				continue
			}
			vp := join(p, "virtual_ipaddresses_excluded"+item(j))
			if first, dup := vips[v.Prefix.Addr()]; dup && !strings.HasPrefix(first, p+".") {
				f.duplicate(vp, first, "virtual IP address %s is another instance's", v.Prefix.Addr())
			} else if !dup {
				vips[v.Prefix.Addr()] = vp
			}
		}
		checkVMACName(f, in, p, vmacs)
		if in.Interface == "" || in.VRID == 0 {
			continue
		}
		k := routerKey{in.Interface, in.VRID, in.Family()}
		if first, dup := routers[k]; dup {
			f.duplicate(join(p, "virtual_router_id"), first, "duplicate virtual router %s VRID %d %s", k.iface, k.vrid, k.family)
		} else {
			routers[k] = p
		}
	}
	for i := range s.Scripts {
		sc := &s.Scripts[i]
		p := scriptPath(sc.Name)
		sc.validate(given.under(p), f.at(p))
	}
	for i := range s.TrackProcesses {
		tp := &s.TrackProcesses[i]
		p := processPath(tp.Name)
		tp.validate(given.under(p), f.at(p))
	}
	for i := range s.TrackFiles {
		tf := &s.TrackFiles[i]
		p := filePath(tf.Name)
		tf.validate(given.under(p), f.at(p))
	}
	s.validateGroups(given, f)
	s.validateStatic(given, f)
	return errs.err()
}

// routerKey identifies a virtual router on the wire.
type routerKey struct {
	iface  string
	vrid   int
	family string
}

// validateNames reports empty and repeated names (a file's named mappings
// cannot have either; a program's lists can).
func (s *Set) validateNames(f fields) {
	check := func(kind string, names []string) {
		seen := map[string]bool{}
		for _, n := range names {
			switch {
			case n == "":
				f.add(kind, "a %s without a name", strings.TrimSuffix(kind, "s"))
			case seen[n]:
				f.add(kind+named(n), "defined twice")
			}
			seen[n] = true
		}
	}
	check("instances", s.names())
	var scripts, groups []string
	for _, sc := range s.Scripts {
		scripts = append(scripts, sc.Name)
	}
	for _, g := range s.SyncGroups {
		groups = append(groups, g.Name)
	}
	check("scripts", scripts)
	check("sync_groups", groups)
	var procs, files []string
	for _, p := range s.TrackProcesses {
		procs = append(procs, p.Name)
	}
	for _, t := range s.TrackFiles {
		files = append(files, t.Name)
	}
	check("track_processes", procs)
	check("track_files", files)
}

func (s *Set) validateGroups(given Given, f fields) {
	member := map[string]string{} // instance -> group
	for i := range s.SyncGroups {
		g := &s.SyncGroups[i]
		p := syncGroupPath(g.Name)
		gf := f.at(p)
		switch {
		case !given.has(join(p, "instances"), len(g.Instances) > 0):
			gf.missing("instances")
		case len(g.Instances) == 0:
			gf.add("instances", "at least one instance required")
		}
		for j, name := range g.Instances {
			ip := "instances" + item(j)
			switch other, in := member[name]; {
			case s.Instance(name) == nil:
				gf.add(ip, "unknown VRRP instance %q", name)
			case in && other == g.Name:
				gf.add(ip, "instance %q listed twice", name)
			case in:
				gf.add(ip, "instance %q is already in sync group %q", name, other)
			default:
				member[name] = g.Name
			}
		}
		validateNotify(gf.at("notify"), g.Notify)
	}
}

func (s *Set) names() []string {
	out := make([]string, len(s.Instances))
	for i := range s.Instances {
		out[i] = s.Instances[i].Name
	}
	return out
}

// Instance returns the instance named name, or nil.
func (s *Set) Instance(name string) *Config {
	for i := range s.Instances {
		if s.Instances[i].Name == name {
			return &s.Instances[i]
		}
	}
	return nil
}

// Script returns the script named name, or nil.
func (s *Set) Script(name string) *ScriptConfig {
	for i := range s.Scripts {
		if s.Scripts[i].Name == name {
			return &s.Scripts[i]
		}
	}
	return nil
}

// TrackProcess returns the tracked process named name, or nil.
func (s *Set) TrackProcess(name string) *ProcessConfig {
	for i := range s.TrackProcesses {
		if s.TrackProcesses[i].Name == name {
			return &s.TrackProcesses[i]
		}
	}
	return nil
}

// TrackFile returns the tracked file named name, or nil.
func (s *Set) TrackFile(name string) *FileConfig {
	for i := range s.TrackFiles {
		if s.TrackFiles[i].Name == name {
			return &s.TrackFiles[i]
		}
	}
	return nil
}

// SyncGroupOf returns the sync group containing the instance, or nil.
func (s *Set) SyncGroupOf(instance string) *SyncGroupConfig {
	for i := range s.SyncGroups {
		if slices.Contains(s.SyncGroups[i].Instances, instance) {
			return &s.SyncGroups[i]
		}
	}
	return nil
}

// Name names a Set by its instances: their names, sorted, joined by ",".
func (s *Set) Name() string {
	names := s.names()
	slices.Sort(names)
	return strings.Join(names, ",")
}

// Split divides a valid Set into its independent parts, in the order of
// their first instance: each part holds an instance together with every
// instance it shares a sync group with, the scripts they track and their
// groups. Parts need no coordination, so each may run in its own Router
// and a reload need restart only the parts that changed.
func (s *Set) Split() []Set {
	root := s.groupRoots()
	var order []string
	parts := map[string]*Set{}
	for _, in := range s.Instances {
		r := root(in.Name)
		if parts[r] == nil {
			parts[r] = &Set{}
			order = append(order, r)
		}
		p := parts[r]
		p.Instances = append(p.Instances, in)
		for _, t := range in.TrackScripts {
			if sc := s.Script(t.Name); sc != nil && p.Script(t.Name) == nil {
				p.Scripts = append(p.Scripts, *sc)
			}
		}
		for _, t := range in.TrackProcesses {
			if tp := s.TrackProcess(t.Name); tp != nil && p.TrackProcess(t.Name) == nil {
				p.TrackProcesses = append(p.TrackProcesses, *tp)
			}
		}
		for _, t := range in.TrackFiles {
			if tf := s.TrackFile(t.Name); tf != nil && p.TrackFile(t.Name) == nil {
				p.TrackFiles = append(p.TrackFiles, *tf)
			}
		}
	}
	for _, g := range s.SyncGroups {
		if len(g.Instances) > 0 && s.Instance(g.Instances[0]) != nil {
			p := parts[root(g.Instances[0])]
			p.SyncGroups = append(p.SyncGroups, g)
		}
	}
	out := make([]Set, len(order))
	for i, r := range order {
		out[i] = *parts[r]
	}
	return out
}

// groupRoots returns a function naming, for each instance, a representative
// of the instances it is connected to through sync groups (union-find).
func (s *Set) groupRoots() func(string) string {
	parent := map[string]string{}
	for _, in := range s.Instances {
		parent[in.Name] = in.Name
	}
	var find func(string) string
	find = func(x string) string {
		if parent[x] == x {
			return x
		}
		parent[x] = find(parent[x])
		return parent[x]
	}
	for _, g := range s.SyncGroups {
		for _, n := range g.Instances {
			_, ok1 := parent[n]
			_, ok2 := parent[g.Instances[0]]
			if ok1 && ok2 {
				parent[find(n)] = find(g.Instances[0])
			}
		}
	}
	return find
}

// checked returns the options' configuration with defaults, validated.
func (o Options) checked() (Set, error) {
	s := Set{Instances: slices.Clone(o.Instances), Scripts: slices.Clone(o.Scripts), SyncGroups: o.SyncGroups,
		TrackProcesses: slices.Clone(o.TrackProcesses), TrackFiles: slices.Clone(o.TrackFiles)}
	for i := range s.Instances {
		s.Instances[i].VIPs = slices.Clone(s.Instances[i].VIPs) // SetDefaults fills devices in
	}
	s.SetDefaults(nil)
	if err := s.Validate(nil); err != nil {
		return Set{}, fmt.Errorf("vrrp: invalid configuration: %w", err)
	}
	if len(s.Instances) == 0 {
		return Set{}, errors.New("vrrp: invalid configuration: no VRRP instance")
	}
	return s, nil
}
