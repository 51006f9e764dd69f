package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/config"
)

// The dry run (lbctl reload --dry-run, lbd plan): what apply would do,
// from the code apply runs, stopped before the first write. The removal
// guard's verdict (guard.go), PlanApply's VRRP and check changes, the
// Manager's Preview (the desired table built with the check states a
// SetSpecs would keep) and the Reconciler's Plan (the same read-back and
// Diff as the apply's first round). Nothing is written, started or
// stopped; a configuration that needs IPVS for the first time opens it to
// read the table and closes it again.

// dryRunReload is Reload with req.DryRun: the file is loaded and planned
// against the configuration in force.
func (d *Daemon) dryRunReload(ctx context.Context, req control.ReloadRequest) (control.ReloadResult, error) {
	res := control.ReloadResult{ConfigFile: d.path}
	if d.isStopping() {
		return res, errStopping
	}
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	file, err := config.LoadDirector(d.path)
	if err != nil {
		return res, fmt.Errorf("configuration invalid, a reload would change nothing: %w", &invalidError{err})
	}
	pl, err := d.dryRun(d.merge(file), false, req.Force)
	pl.Against = "running lbd"
	res.Plan = &pl
	return res, err
}

// PlanStart returns what lbd run would do with the file at path on this
// kernel (no lbd running): a start, every check new. opts as for New.
func PlanStart(path string, opts Options) (control.Plan, error) {
	d, err := New(path, opts)
	if err != nil {
		return control.Plan{Against: "kernel", ConfigFile: path}, err
	}
	defer func() {
		if p := d.ipvsNow(); p != nil {
			d.closeIPVS(p)
		}
	}()
	pl, err := d.dryRun(d.loaded, true, false)
	pl.Against = "kernel"
	return pl, err
}

// dryRun is what apply(next) would do now. d.applyMu is held (or the
// daemon does not run).
func (d *Daemon) dryRun(next *config.Director, start, force bool) (control.Plan, error) {
	pl := control.Plan{ConfigFile: d.path}
	old := d.Config()
	p, opened, err := d.ipvsFor(next)
	if err != nil {
		return pl, err
	}
	if opened {
		defer d.closeIPVS(p)
	}
	rs, err := d.removals(p, old, next)
	if err != nil {
		return pl, err
	}
	hint := "lbctl reload --force"
	if start {
		hint = "lbd run --force"
	}
	if err := GuardRemovals(next.RemovalGuard, force, hint, rs...); err != nil {
		pl.Refused = err.Error()
	}
	plan := PlanApply(old, next)
	if start {
		plan.Restart = nil // from nothing: every global setting "changed", none needs a restart
	}
	fillPlan(&pl, plan)
	if p == nil {
		return pl, nil
	}
	specs, err := SpecsFromConfig(next.VirtualServers, plan.Checks, d.trustedServers(p, next, plan.Checks, start))
	if err != nil {
		return pl, fmt.Errorf("translating virtual servers: %w", err)
	}
	holdAnnounced(specs, next)
	if NeedsIPVS(next) {
		if pl.Settings, err = p.rec.PlanSettings(SettingsFromConfig(next.IPVS)); err != nil {
			return pl, fmt.Errorf("reading the IPVS settings: %w", err)
		}
	}
	ops, err := p.rec.Plan(p.mgr.Preview(specs).Table)
	if err != nil {
		return pl, err
	}
	pl.Writes = planWrites(ops)
	return pl, nil
}

// planWrites renders ops as the plan's writes.
func planWrites(ops []table.Op) []control.PlanWrite {
	out := make([]control.PlanWrite, len(ops))
	for i, op := range ops {
		out[i] = control.PlanWrite{Rule: opRule(op), Changes: op.Changes}
	}
	return out
}

// opRule is op in ipvsadm's syntax, without what it changes.
func opRule(op table.Op) string {
	op.Changes = nil
	return op.String()
}

// fillPlan copies the VRRP and check changes of plan into pl.
func fillPlan(pl *control.Plan, plan Plan) {
	stopped := map[string]bool{}
	for _, n := range plan.StopComponents {
		stopped[n] = true
	}
	started := map[string]bool{}
	for _, c := range plan.StartComponents {
		started[c.Name] = true
		if stopped[c.Name] {
			pl.VRRPRestart = append(pl.VRRPRestart, c.Name)
		} else {
			pl.VRRPStart = append(pl.VRRPStart, c.Name)
		}
	}
	for _, n := range plan.StopComponents {
		if !started[n] {
			pl.VRRPStop = append(pl.VRRPStop, n)
		}
	}
	pl.VRRPKeep = plan.KeepComponents
	for _, c := range plan.Changes {
		if s, ok := strings.CutPrefix(c, "check: add "); ok {
			pl.ChecksAdd = append(pl.ChecksAdd, s)
		} else if s, ok := strings.CutPrefix(c, "check: remove "); ok {
			pl.ChecksRemove = append(pl.ChecksRemove, s)
		}
	}
	pl.ChecksKeep = plan.KeepChecks
	pl.Restart = plan.Restart
}

// appliedSummary is the dry run's summary line of what a reload did: the
// same words, so that the log of a reload matches its dry run. Beyond the
// first director.KeptOps writes the add/change/remove split counts only
// the writes listed.
func appliedSummary(plan Plan, ar director.Result) string {
	var pl control.Plan
	fillPlan(&pl, plan)
	pl.Writes = planWrites(ar.Ops)
	return pl.Summary()
}
