package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/lvsd/lb/cmd/internal/cli"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/daemon"
	"github.com/lvsd/lb/internal/config"
)

// planCommand is "lbd plan -c FILE": what lbd would do with FILE, writing
// nothing. When an lbd answers on the file's control socket (or -s) and
// runs FILE, the plan is that lbd's dry run of a reload (its state: the
// configuration in force, the check states, the kernel's table); when none
// runs, it is a start of FILE against the kernel's table (every check new).
// The first line says which. Exit status: 0 nothing would change, 1
// changes, 2 usage, 3 an error or a refusal by the removal guard.
func planCommand() cli.Command {
	return cli.Command{Name: "plan", Summary: "print what lbd would do with a configuration (IPVS writes, VRRP, checks); change nothing",
		Run: func(ctx context.Context, args []string) error {
			return cli.ExitStatus(runPlan(ctx, args, os.Stdout, os.Stderr))
		},
		Flags: func() *flag.FlagSet { return newPlanFlags().fs }}
}

// planFlags are lbd plan's flags: one definition for the command and its
// man page.
type planFlags struct {
	fs     *flag.FlagSet
	file   *string
	socket *string
	asJSON *bool
}

func newPlanFlags() planFlags {
	fs := flag.NewFlagSet("lbd plan", flag.ContinueOnError)
	return planFlags{fs: fs,
		file:   fs.String("c", defaultConfigPath, "configuration file"),
		socket: fs.String("s", "", "control socket of a running lbd (default: the file's global.control_socket)"),
		asJSON: fs.Bool("json", false, "print the plan as JSON"),
	}
}

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	pf := newPlanFlags()
	fs, file, socket, asJSON := pf.fs, pf.file, pf.socket, pf.asJSON
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			fmt.Fprintf(stderr, "lbd plan: unexpected argument %q\n", fs.Arg(0))
		}
		return 2
	}
	cfg, err := config.LoadDirector(*file)
	if err != nil {
		if !cli.PrintConfigErrors(stderr, err) {
			fmt.Fprintf(stderr, "lbd plan: %v\n", err)
		}
		return control.PlanError
	}
	if *socket == "" {
		*socket = cfg.Global.ControlSocket
	}
	pl, err := plan(ctx, *file, control.NewClient(*socket))
	if err != nil && pl.Against == "" {
		fmt.Fprintf(stderr, "lbd plan: %v\n", err)
		return control.PlanError
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(pl)
	} else {
		pl.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbd plan: %v\n", err)
		return control.PlanError
	}
	return pl.ExitStatus()
}

// plan asks the lbd at c for its dry run when it runs file, or plans a
// start of file against the kernel when no lbd answers.
func plan(ctx context.Context, file string, c *control.Client) (control.Plan, error) {
	st, err := c.Status(ctx)
	switch {
	case errors.Is(err, control.ErrNotRunning):
		return daemon.PlanStart(file, daemon.Options{LogLevel: "warn", LogOutput: os.Stderr})
	case err != nil:
		return control.Plan{}, fmt.Errorf("asking lbd at %s: %w", c.Path(), err)
	}
	if !sameFile(st.Daemon.ConfigFile, file) {
		return control.Plan{}, fmt.Errorf("the lbd at %s runs %s, not %s: a plan against it is of the file it would reload "+
			"(lbctl reload --dry-run); stop it, or give its file", c.Path(), st.Daemon.ConfigFile, file)
	}
	res, err := c.Reload(ctx, control.ReloadRequest{DryRun: true})
	if res.Plan == nil {
		if err == nil {
			err = errors.New("lbd answered without a plan (an lbd older than this one?)")
		}
		return control.Plan{}, err
	}
	return *res.Plan, err
}

// sameFile reports whether a and b name the same file.
func sameFile(a, b string) bool {
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	if errA != nil || errB != nil {
		pa, _ := filepath.Abs(a)
		pb, _ := filepath.Abs(b)
		return pa == pb
	}
	return os.SameFile(ia, ib)
}
