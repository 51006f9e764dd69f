package control

import (
	"fmt"
	"io"
	"strings"
)

// Plan is what a reload would do, computed by the daemon's own apply code
// and stopped before the first write: lbctl reload --dry-run (the running
// lbd and its file) and lbd plan -c FILE (the running lbd, or the kernel
// when none runs). See Against.
type Plan struct {
	// Against says what the plan was computed against: "running lbd" (its
	// configuration in force, check states and the kernel's table) or
	// "kernel" (no lbd running: a start of the file on the kernel's table,
	// every check new and counted as up until it reports).
	Against    string `json:"against"`
	ConfigFile string `json:"config_file,omitempty"`
	// Writes are the IPVS writes, in the order the apply makes them.
	Writes []PlanWrite `json:"writes,omitempty"`
	// Settings are the IPVS timeouts and sysctls that would change.
	Settings []string `json:"settings,omitempty"`
	// VRRP components (an instance, or a sync group's instances) by name.
	VRRPStart   []string `json:"vrrp_start,omitempty"`
	VRRPRestart []string `json:"vrrp_restart,omitempty"`
	VRRPStop    []string `json:"vrrp_stop,omitempty"`
	VRRPKeep    []string `json:"vrrp_keep,omitempty"`
	// Checks added and removed ("TCP 192.0.2.10:80 10.0.0.11:80 http#0"),
	// and how many are kept with their state.
	ChecksAdd    []string `json:"checks_add,omitempty"`
	ChecksRemove []string `json:"checks_remove,omitempty"`
	ChecksKeep   int      `json:"checks_keep"`
	// Restart lists changed settings only a restart applies.
	Restart []string `json:"restart,omitempty"`
	// Refused is the removal guard's refusal: the reload would change
	// nothing without --force (the rest of the plan is what it would do
	// with it).
	Refused string `json:"refused,omitempty"`
}

// PlanWrite is one IPVS write: Rule in ipvsadm's save syntax ("-e -t
// 192.0.2.10:80 -r 10.0.0.11:80 -g -w 0") and, for an update, what it
// changes ("weight 1 -> 0").
type PlanWrite struct {
	Rule    string   `json:"rule"`
	Changes []string `json:"changes,omitempty"`
}

// Changed reports whether applying the plan would change anything.
func (p Plan) Changed() bool {
	return len(p.Writes)+len(p.Settings)+len(p.VRRPStart)+len(p.VRRPRestart)+len(p.VRRPStop)+
		len(p.ChecksAdd)+len(p.ChecksRemove) > 0
}

// Summary is the plan's one-line summary.
func (p Plan) Summary() string {
	var add, change, remove int
	for _, w := range p.Writes {
		switch {
		case strings.HasPrefix(w.Rule, "-A ") || strings.HasPrefix(w.Rule, "-a "):
			add++
		case strings.HasPrefix(w.Rule, "-E ") || strings.HasPrefix(w.Rule, "-e "):
			change++
		default:
			remove++
		}
	}
	s := fmt.Sprintf("Plan: %d IPVS writes (%d add, %d change, %d remove), %d settings; "+
		"VRRP: %d start, %d restart, %d stop, %d kept; checks: %d add, %d remove, %d kept",
		len(p.Writes), add, change, remove, len(p.Settings), len(p.VRRPStart), len(p.VRRPRestart),
		len(p.VRRPStop), len(p.VRRPKeep), len(p.ChecksAdd), len(p.ChecksRemove), p.ChecksKeep)
	if !p.Changed() {
		s += ": no changes"
	}
	if p.Refused != "" {
		s += "; REFUSED by the removal guard"
	}
	return s + "."
}

// WriteText prints the plan: the IPVS writes one per line in ipvsadm's
// save syntax (what an update changes after a tab and "#"), then the
// settings, VRRP, checks, the refusal and the summary line.
func (p Plan) WriteText(w io.Writer) {
	fmt.Fprintf(w, "# plan of %s against the %s\n", p.ConfigFile, p.Against)
	for _, wr := range p.Writes {
		if len(wr.Changes) > 0 {
			fmt.Fprintf(w, "%s\t# %s\n", wr.Rule, strings.Join(wr.Changes, ", "))
		} else {
			fmt.Fprintln(w, wr.Rule)
		}
	}
	list := func(what string, names []string) {
		for _, n := range names {
			fmt.Fprintf(w, "%s %s\n", what, n)
		}
	}
	list("ipvs setting:", p.Settings)
	list("vrrp: start", p.VRRPStart)
	list("vrrp: restart", p.VRRPRestart)
	list("vrrp: stop", p.VRRPStop)
	list("vrrp: keep", p.VRRPKeep)
	list("check: add", p.ChecksAdd)
	list("check: remove", p.ChecksRemove)
	list("needs a restart:", p.Restart)
	if p.Refused != "" {
		fmt.Fprintf(w, "REFUSED: %s\n", p.Refused)
	}
	fmt.Fprintln(w, p.Summary())
}

// Plan exit statuses (lbctl reload --dry-run, lbd plan): 0 nothing would
// change, 1 something would, 2 a usage error, 3 an error (the plan could
// not be computed, the file is invalid, or the removal guard refuses it).
const (
	PlanNoChanges = 0
	PlanChanges   = 1
	PlanError     = 3
)

// ExitStatus is the plan's exit status.
func (p Plan) ExitStatus() int {
	switch {
	case p.Refused != "":
		return PlanError
	case p.Changed():
		return PlanChanges
	}
	return PlanNoChanges
}
