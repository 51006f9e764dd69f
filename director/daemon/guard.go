package daemon

import (
	"fmt"
	"strings"

	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/config"
)

// The removal guard: a start or reload may not empty by accident what lbd
// manages. A configuration that would remove every managed IPVS service or
// every running VRRP instance, or more than removal_guard.max_percent of
// them, is refused (nothing is written, nothing stopped) unless the file
// sets removal_guard.allow_remove_all or the operator forces it (lbctl
// reload --force, lbd run --force).
//
// What lbd manages: the IPVS services the kernel holds that lbd put there
// (the reconciler's managed set: at start the state directory's
// ipvs-managed.json, on reload the services in force), or every service
// with global.purge_unmanaged, which removes them all; and the VRRP
// instances of the configuration in force (none at start).

// Removal is what one apply would remove of one kind of thing lbd manages.
type Removal struct {
	// What names the things, plural: "IPVS services", "VRRP instances".
	What string
	// Managed is how many lbd manages now.
	Managed int
	// Removed names those that would go (ipvsadm's "TCP 10.0.0.1:80",
	// instance names), in order.
	Removed []string
}

// RemovalRefused is the error of an apply the guard refuses.
type RemovalRefused struct {
	// Over are the kinds refused (all, or more than MaxPercent, would go).
	Over       []Removal
	MaxPercent int
	// Hint says how to go ahead anyway ("lbctl reload --force").
	Hint string
}

// maxNamed bounds the names a refusal lists per kind; the rest is counted.
const maxNamed = 10

func (e *RemovalRefused) Error() string {
	var b strings.Builder
	b.WriteString("removal guard: the configuration would remove ")
	for i, r := range e.Over {
		if i > 0 {
			b.WriteString("; and ")
		}
		fmt.Fprintf(&b, "%d of the %d %s lbd manages (", len(r.Removed), r.Managed, r.What)
		if len(r.Removed) == r.Managed {
			b.WriteString("all of them")
		} else {
			fmt.Fprintf(&b, "%d%%, more than removal_guard.max_percent %d%%", percent(len(r.Removed), r.Managed), e.MaxPercent)
		}
		b.WriteString("): ")
		b.WriteString(namesBounded(r.Removed, maxNamed))
	}
	b.WriteString(". Nothing was changed. An emptied or truncated file? If the removal is intended: ")
	if e.Hint != "" {
		b.WriteString(e.Hint + ", or ")
	}
	b.WriteString("removal_guard.allow_remove_all: true in the file")
	return b.String()
}

// percent is 100*n/of, rounded up (so that "more than 50%" shows as 51%, not 50%).
func percent(n, of int) int {
	if of == 0 {
		return 0
	}
	return (100*n + of - 1) / of
}

// namesBounded lists the first max names, then how many more.
func namesBounded(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}

// GuardRemovals decides whether an apply may remove what rs say, under
// the file's guard g: nil if it may, else a *RemovalRefused naming each
// kind over the limit. A kind is over when something managed would go
// and either all of it would, or more than g.MaxPercent of it. Force or
// g.AllowRemoveAll allow anything. Pure.
func GuardRemovals(g config.RemovalGuard, force bool, hint string, rs ...Removal) error {
	if force || g.AllowRemoveAll {
		return nil
	}
	var over []Removal
	for _, r := range rs {
		n := len(r.Removed)
		if n == 0 || r.Managed == 0 {
			continue
		}
		if n >= r.Managed || n*100 > g.MaxPercent*r.Managed {
			over = append(over, r)
		}
	}
	if len(over) == 0 {
		return nil
	}
	return &RemovalRefused{Over: over, MaxPercent: g.MaxPercent, Hint: hint}
}

// removals is what moving from old to next would remove: the IPVS services
// (from the kernel's list, see director.Reconciler.Removals; none in
// VRRP-only mode, p nil) and the VRRP instances of old that next lacks.
func (d *Daemon) removals(p *ipvsPart, old, next *config.Director) ([]Removal, error) {
	if p == nil {
		return []Removal{{What: "IPVS services"}, removedInstances(old, next)}, nil
	}
	keys := make([]table.ServiceKey, len(next.VirtualServers))
	for i := range next.VirtualServers {
		keys[i] = ServiceKeyOf(&next.VirtualServers[i])
	}
	removed, managed, err := p.rec.Removals(keys)
	if err != nil {
		return nil, fmt.Errorf("reading the IPVS services to check what the configuration removes: %w", err)
	}
	svc := Removal{What: "IPVS services", Managed: managed}
	for _, k := range removed {
		svc.Removed = append(svc.Removed, k.String())
	}
	return []Removal{svc, removedInstances(old, next)}, nil
}

// removedInstances is the VRRP instances of old that next lacks.
func removedInstances(old, next *config.Director) Removal {
	r := Removal{What: "VRRP instances", Managed: len(old.VRRP.Instances)}
	keep := map[string]bool{}
	for _, in := range next.VRRP.Instances {
		keep[in.Name] = true
	}
	for _, in := range old.VRRP.Instances {
		if !keep[in.Name] {
			r.Removed = append(r.Removed, in.Name)
		}
	}
	return r
}

// guard refuses an apply from old to next that the removal guard refuses
// (logged, and returned), and logs one that force lets through.
func (d *Daemon) guard(p *ipvsPart, old, next *config.Director, start, force bool) error {
	rs, err := d.removals(p, old, next)
	if err != nil {
		return err
	}
	on, hint := "reload", "lbctl reload --force"
	if start {
		on, hint = "start", "lbd run --force"
	}
	if GuardRemovals(next.RemovalGuard, false, hint, rs...) == nil {
		return nil
	}
	err = GuardRemovals(next.RemovalGuard, force, hint, rs...)
	if err != nil {
		d.log.Error(on+" refused", "err", err)
		return err
	}
	why := "removal_guard.allow_remove_all"
	if force {
		why = "--force"
	}
	for _, r := range rs {
		if len(r.Removed) > 0 {
			d.log.Warn("removal guard overridden", "on", on, "by", why, "what", r.What, "removed", len(r.Removed),
				"managed", r.Managed, "names", namesBounded(r.Removed, maxNamed))
		}
	}
	return nil
}
