package config

// RemovalGuard is the removal_guard section of lbd.yaml: how much of what
// lbd manages one start or reload may remove. A configuration that would
// remove every managed IPVS service (or every running VRRP instance), or
// more than MaxPercent of them, is refused unless AllowRemoveAll is set or
// the operator forces it ("lbctl reload --force", "lbd run --force"): an
// emptied or truncated file must not wipe the table. The daemon decides
// (director/daemon/guard.go); this file holds the keys and their rules.
type RemovalGuard struct {
	// MaxPercent is the largest share, in percent (0-100), of the managed
	// services, and of the running VRRP instances, that one start or reload
	// may remove; default DefaultRemovalMaxPercent.
	MaxPercent int `yaml:"max_percent"`
	// AllowRemoveAll says the file may remove anything, everything
	// included, and may configure no service and no VRRP instance at all.
	AllowRemoveAll bool `yaml:"allow_remove_all"`
}

// DefaultRemovalMaxPercent is removal_guard.max_percent's default: a
// change that removes more than half of what lbd manages is far more
// often a truncated file than a decision, and a decision costs one
// --force.
const DefaultRemovalMaxPercent = 50

const guardPath = "removal_guard"

// guardDefaults fills in removal_guard.max_percent.
func (r *report) guardDefaults(d *Director) {
	if !r.has(guardPath + ".max_percent") {
		d.RemovalGuard.MaxPercent = DefaultRemovalMaxPercent
	}
}

// validateGuard checks the removal_guard keys.
func (r *report) validateGuard(d *Director) {
	r.intRange(guardPath+".max_percent", d.RemovalGuard.MaxPercent, 0, 100)
}

// parseDirectorFile is ParseDirector for lbd.yaml as lbd reads it
// (LoadDirector: lbd check, run and reload): a valid file that configures
// nothing (no virtual server, no VRRP instance) is refused too unless it
// says so, since an empty file is almost always an emptied or truncated
// one. Contents that do not come from the file lbd runs (the importer's
// output) go through ParseDirector alone.
func parseDirectorFile(name string, data []byte) (*Director, error) {
	d, err := ParseDirector(name, data)
	if err != nil {
		return nil, err
	}
	if d.RemovalGuard.AllowRemoveAll || len(d.VirtualServers) > 0 || len(d.VRRP.Instances) > 0 {
		return d, nil
	}
	return nil, Errors{{File: name, Msg: "no virtual_servers and no vrrp instances: the file is empty or truncated? " +
		"(set " + guardPath + ".allow_remove_all: true if a director that manages nothing is intended)"}}
}
