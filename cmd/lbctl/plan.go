package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/lvsd/lb/director/control"
)

// isDryRun reports whether reload's args ask for a dry run.
func isDryRun(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		return a == "--dry-run" || a == "-dry-run" || a == "--dry-run=true" || a == "-dry-run=true"
	})
}

// reloadDryRun is "lbctl reload --dry-run": lbd loads its file and says
// what a reload would do, writing nothing. The exit status is the plan's
// (control.Plan.ExitStatus: 0 no change, 1 changes, 2 usage, 3 an error
// or a refusal by the removal guard).
func reloadDryRun(ctx context.Context, args []string, socket string, stdout, stderr io.Writer, e env) int {
	fs := flag.NewFlagSet("lbctl reload --dry-run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&socket, "s", socket, "control socket of lbd")
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	req := control.ReloadRequest{DryRun: true}
	fs.BoolVar(&req.Force, "force", false, "plan as if forced past the removal guard")
	fs.Bool("dry-run", true, "print what a reload would do; change nothing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbctl reload: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	res, err := e.reload(ctx, socket, req)
	if err != nil && res.Plan == nil {
		fmt.Fprintf(stderr, "lbctl: reload --dry-run: %v\n", err)
		return control.PlanError
	}
	if res.Plan == nil {
		fmt.Fprintln(stderr, "lbctl: reload --dry-run: lbd answered without a plan (an lbd older than lbctl?)")
		return control.PlanError
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res.Plan)
	} else {
		res.Plan.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: reload --dry-run: %v\n", err)
		return control.PlanError
	}
	return res.Plan.ExitStatus()
}
