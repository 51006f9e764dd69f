// Command lbctl is the CLI of lbd: "lbctl status" prints the IPVS table
// exactly like "ipvsadm -L" (with -n like "ipvsadm -ln"), plus, with
// --health, the VRRP state, each real server's configured, desired and
// kernel weight, and each health check's state, last result and reason.
// It asks lbd over its control socket and, when lbd is not running, reads
// the kernel directly for the table views. "lbctl reload" and
// "lbctl resync" ask lbd to reload its configuration or repair the table.
//
// It runs on cmd/internal/cli, the command-line frame lbd and lbrs use too,
// and imports director/control (the API), director/table (the printer) and
// director/kernel (the direct read), nothing of the daemon itself; and
// internal/kaconf for "lbctl import-keepalived" (import.go).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lvsd/lb/cmd/internal/cli"
	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/director/kernel"
	"github.com/lvsd/lb/director/table"
)

// main has no signal handling: SIGINT ends lbctl at once, as it always has.
func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, systemEnv()))
}

// env is what lbctl needs from the outside world.
type env struct {
	// status asks lbd at the socket path.
	status func(ctx context.Context, socket string) (control.Status, error)
	reload func(ctx context.Context, socket string, req control.ReloadRequest) (control.ReloadResult, error)
	resync func(ctx context.Context, socket string) (control.ApplyResult, error)
	// confirm releases a held discovery update of a service.
	confirm func(ctx context.Context, socket, service string) (control.ReloadResult, error)
	// events reads lbd's event history (events.go).
	events func(ctx context.Context, socket string, since uint64, follow bool, fn func(events.Event) error) error
	// kernel reads the kernel directly.
	kernel func() (kernelView, error)
	// conns reads /proc/net/ip_vs_conn.
	conns func() ([]table.Conn, error)
	// resolver names addresses and ports without -n.
	resolver func() table.Resolver
	// now is the clock for "Ns ago"; nil: time.Now.
	now func() time.Time
	// override sets a real server's override (drain.go); drainDirector
	// drains the director; sleep waits between two reads of drain --wait.
	override      func(ctx context.Context, socket string, req control.OverrideRequest) (control.OverrideResult, error)
	drainDirector func(ctx context.Context, socket string, req control.DirectorDrainRequest) (control.DirectorDrain, error)
	sleep         func(ctx context.Context, d time.Duration) error
}

// kernelView is what lbctl shows from a direct kernel read.
type kernelView struct {
	ipvs control.IPVS
}

func systemEnv() env {
	return env{
		status: func(ctx context.Context, s string) (control.Status, error) { return control.NewClient(s).Status(ctx) },
		reload: func(ctx context.Context, s string, req control.ReloadRequest) (control.ReloadResult, error) {
			return control.NewClient(s).Reload(ctx, req)
		},
		resync: func(ctx context.Context, s string) (control.ApplyResult, error) {
			return control.NewClient(s).Resync(ctx)
		},
		confirm: func(ctx context.Context, s, service string) (control.ReloadResult, error) {
			return control.NewClient(s).ConfirmDiscovery(ctx, service)
		},
		override: func(ctx context.Context, s string, req control.OverrideRequest) (control.OverrideResult, error) {
			return control.NewClient(s).SetOverride(ctx, req)
		},
		drainDirector: func(ctx context.Context, s string, req control.DirectorDrainRequest) (control.DirectorDrain, error) {
			return control.NewClient(s).SetDirectorDrain(ctx, req)
		},
		sleep:  sleepCtx,
		kernel: readKernel,
		events: systemEvents,
		conns:  func() ([]table.Conn, error) { return kernel.ReadConns("") },
		resolver: func() table.Resolver {
			return table.NewSystemResolver()
		},
	}
}

func readKernel() (kernelView, error) {
	h, err := kernel.Open()
	if err != nil {
		return kernelView{}, err
	}
	defer h.Close()
	var v kernelView
	if v.ipvs.Info, err = h.Info(); err != nil {
		return v, err
	}
	if v.ipvs.Table, err = table.Read(h); err != nil {
		return v, err
	}
	if v.ipvs.Timeouts, err = h.Timeouts(); err != nil {
		return v, err
	}
	if v.ipvs.Daemons, err = h.Daemons(); err != nil {
		return v, err
	}
	return v, nil
}

const usage = `usage: lbctl [-s SOCKET] COMMAND [options]

commands:
  status   print the IPVS table like "ipvsadm -L" (-n: like "ipvsadm -ln")
             -n                 numeric addresses and ports
             --stats --rate --thresholds --persistent-conn --tun-info --exact --nosort
                                the same views as ipvsadm
             -c                 connections (/proc/net/ip_vs_conn)
             --timeout          IPVS timeouts
             --daemon           sync daemons
             --health           after the table: VRRP, each real server's weights
                                and each health check's state and last result
             --json             lbd's full status as JSON
             --kernel           do not ask lbd: read the kernel only
  save     print the table like "ipvsadm -S" (-n numeric, --kernel)
  reload   ask lbd to reload its configuration
             --force            apply it even if the removal guard refuses it (it
                                would remove every managed IPVS service or VRRP
                                instance, or more than removal_guard.max_percent)
             --dry-run          print what it would do and change nothing: the IPVS
                                writes in ipvsadm syntax, VRRP instances started,
                                restarted, stopped or kept, checks added or removed,
                                a summary line; exit 0 no change, 1 changes, 3 error
                                or refused by the removal guard (--json: as JSON)
  resync   ask lbd to repair the IPVS table now
  events   lbd's events, oldest first: VRRP and check transitions (with the reason),
           IPVS writes per apply, reloads, discovery changes
             --json             one JSON object per line, with its seq
             --since N          only the events after seq N (resume)
             --follow, -f       go on with each new event until interrupted
  discovery confirm SERVICE
           apply the discovery update lbd holds for SERVICE ("TCP 192.0.2.10:80"):
           one that removes more than discovery.max_removal_share of the pool
  drain SERVICE REALSERVER [--wait] [--timeout D] [--remove]
           give the real server weight 0 (no new connection; lbd keeps it across
           reloads and restarts); --wait: until its active and inactive
           connections and persistence templates are 0 (progress printed; exit 1
           after --timeout, default 10m); --remove: then take it out (maintenance).
           SERVICE as status shows it ("TCP 192.0.2.10:80" or tcp:192.0.2.10:80),
           REALSERVER ADDRESS[:PORT]
  undrain SERVICE REALSERVER
           lift a drain or a maintenance (with slow_start its weight ramps back)
  maintenance SERVICE REALSERVER [--off]
           take the real server out of the table whatever its checks say
  drain-director [--undo]
           give up this director's traffic gracefully, kept across reloads and
           restarts: VRRP: the peer takes over first (a priority 0 advert; the
           addresses are kept until its first advert), then this director stays
           BACKUP (priority 1); BGP: every route withdrawn (it keeps serving what
           still reaches it). Exit 1 if an instance is still MASTER (no peer took
           over). --undo (or undrain-director): back in the election, routes
           announced again
  genhash URL [--virtualhost H] [--connect-ip IP] [--verify]
           print the status, headers and MD5SUM of URL (keepalived --genhash)
  import-keepalived [-o FILE] [--strict] KEEPALIVED.CONF
           convert a keepalived configuration into lbd.yaml
  version  print the version, VCS revision and date, and Go version (also --version)
`

// run runs the lbctl command line on the shared frame: the global -s
// SOCKET, then a command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, e env) int {
	return program(stdout, stderr, e).Run(ctx, args, stdout, stderr)
}

// program is lbctl on the shared frame.
func program(stdout, stderr io.Writer, e env) cli.Program {
	global := flag.NewFlagSet("lbctl", flag.ContinueOnError)
	socket := global.String("s", control.DefaultSocket, "control `socket` of lbd")
	return cli.Program{
		Name:     "lbctl",
		Summary:  "control lbd: the IPVS table like ipvsadm, health, reload, import from keepalived",
		Flags:    global,
		Usage:    func(w io.Writer) { fmt.Fprint(w, usage) },
		Commands: commands(socket, stdout, stderr, e),
	}
}

// commands lists lbctl's commands (the usage text describes them); socket
// is the global -s, read when a command runs. Each reports its own errors
// and ends with an exit status.
func commands(socket *string, stdout, stderr io.Writer, e env) []cli.Command {
	type runFunc = func(ctx context.Context, args []string) int
	cmd := func(name string, aliases []string, run runFunc) cli.Command {
		return cli.Command{Name: name, Aliases: aliases, Run: func(ctx context.Context, args []string) error {
			return cli.ExitStatus(run(ctx, args))
		}}
	}
	return describe([]cli.Command{
		cmd("status", []string{"list", "ls"}, func(ctx context.Context, args []string) int {
			return status(ctx, args, *socket, stdout, stderr, e, false)
		}),
		cmd("save", nil, func(ctx context.Context, args []string) int {
			return status(ctx, args, *socket, stdout, stderr, e, true)
		}),
		cmd("reload", nil, func(ctx context.Context, args []string) int {
			if isDryRun(args) {
				return reloadDryRun(ctx, args, *socket, stdout, stderr, e) // plan.go
			}
			var req control.ReloadRequest
			return action(ctx, "reload", args, *socket, stdout, stderr, reloadFlags(&req), func(ctx context.Context, s string) (any, error) {
				return e.reload(ctx, s, req)
			})
		}),
		cmd("resync", nil, func(ctx context.Context, args []string) int {
			return action(ctx, "resync", args, *socket, stdout, stderr, nil, func(ctx context.Context, s string) (any, error) {
				return e.resync(ctx, s)
			})
		}),
		cmd("events", nil, func(ctx context.Context, args []string) int {
			return eventsCmd(ctx, args, *socket, stdout, stderr, e)
		}),
		cmd("discovery", nil, func(ctx context.Context, args []string) int {
			return discoveryCmd(ctx, args, *socket, stdout, stderr, e)
		}),
		cmd("drain", nil, func(ctx context.Context, args []string) int {
			return overrideCmd(ctx, "drain", args, *socket, stdout, stderr, e)
		}),
		cmd("undrain", nil, func(ctx context.Context, args []string) int {
			return overrideCmd(ctx, "undrain", args, *socket, stdout, stderr, e)
		}),
		cmd("maintenance", nil, func(ctx context.Context, args []string) int {
			return overrideCmd(ctx, "maintenance", args, *socket, stdout, stderr, e)
		}),
		cmd("drain-director", nil, func(ctx context.Context, args []string) int {
			return drainDirectorCmd(ctx, "drain-director", true, args, *socket, stdout, stderr, e)
		}),
		cmd("undrain-director", nil, func(ctx context.Context, args []string) int { // drain-director --undo
			return drainDirectorCmd(ctx, "undrain-director", false, args, *socket, stdout, stderr, e)
		}),
		cmd("genhash", nil, func(ctx context.Context, args []string) int {
			return genhash(ctx, args, stdout, stderr)
		}),
		cmd("import-keepalived", nil, func(ctx context.Context, args []string) int {
			return importKeepalived(ctx, args, stdout, stderr)
		}),
	}, *socket, stderr)
}

// describe adds to each command its summary and flag set (for the man
// page and the completion, cmd/internal/cli's Spec), defined by the same
// functions the commands run.
func describe(cmds []cli.Command, socket string, stderr io.Writer) []cli.Command {
	info := map[string]struct {
		summary string
		args    []string
		flags   func() *flag.FlagSet
	}{
		"status": {"print the IPVS table like ipvsadm -L (-n: -ln); --health, --json: lbd's state", nil,
			func() *flag.FlagSet { fs, _ := statusFlagSet(socket, false, stderr); return fs }},
		"save": {"print the table like ipvsadm -S", nil,
			func() *flag.FlagSet { fs, _ := statusFlagSet(socket, true, stderr); return fs }},
		"reload": {"ask lbd to reload its configuration", nil,
			func() *flag.FlagSet {
				fs, _ := actionFlags("reload", &socket, stderr, reloadFlags(new(control.ReloadRequest)))
				return fs
			}},
		"resync": {"ask lbd to repair the IPVS table now", nil,
			func() *flag.FlagSet { fs, _ := actionFlags("resync", &socket, stderr, nil); return fs }},
		"events": {"print lbd's events, oldest first (VRRP and check transitions, IPVS applies, reloads, discovery)", nil,
			func() *flag.FlagSet { return newEventsFlags(&socket, stderr).fs }},
		"discovery": {"confirm SERVICE: apply the discovery update lbd holds for SERVICE", []string{"confirm"},
			func() *flag.FlagSet { fs, _ := discoveryFlags(&socket, stderr); return fs }},
		"drain": {"SERVICE REALSERVER: weight 0 at once (--wait: until no connection is left; --remove: then out)", nil,
			overrideFlagSet("drain", socket, stderr)},
		"undrain": {"SERVICE REALSERVER: lift a drain or a maintenance (slow_start ramps the weight back)", nil,
			overrideFlagSet("undrain", socket, stderr)},
		"maintenance": {"SERVICE REALSERVER: out of the table whatever its checks (--off lifts it)", nil,
			overrideFlagSet("maintenance", socket, stderr)},
		"drain-director": {"give up VRRP mastership gracefully and withdraw the BGP routes; --undo takes them back", nil,
			func() *flag.FlagSet {
				fs, _, _ := drainDirectorFlags("drain-director", true, &socket, stderr)
				return fs
			}},
		"undrain-director": {"drain-director --undo: back in the VRRP election, BGP routes announced again", nil,
			func() *flag.FlagSet {
				fs, _, _ := drainDirectorFlags("undrain-director", false, &socket, stderr)
				return fs
			}},
		"genhash": {"print the status, headers and MD5SUM of URL (keepalived --genhash)", nil,
			func() *flag.FlagSet { fs, _, _, _, _ := genhashFlags(stderr); return fs }},
		"import-keepalived": {"convert a keepalived configuration into lbd.yaml", nil,
			func() *flag.FlagSet { fs, _, _, _ := importFlags(stderr, "HOST"); return fs }},
	}
	for i, c := range cmds {
		in := info[c.Name]
		cmds[i].Summary, cmds[i].Args, cmds[i].Flags = in.summary, in.args, in.flags
	}
	return cmds
}

// overrideFlagSet is the flag set of drain, undrain or maintenance, for
// describe.
func overrideFlagSet(name, socket string, stderr io.Writer) func() *flag.FlagSet {
	return func() *flag.FlagSet { return overrideFlags(name, &socket, stderr, new(drainOpts), new(bool)) }
}

// reloadFlags adds lbctl reload's own flags (--dry-run is handled by
// reloadDryRun, plan.go).
func reloadFlags(req *control.ReloadRequest) func(fs *flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.BoolVar(&req.Force, "force", false, "apply even what the removal guard refuses")
		fs.Bool("dry-run", false, "print what a reload would do (IPVS writes as ipvsadm rules, VRRP, checks); change nothing")
	}
}

// action runs reload or resync: flags (if set) adds the command's own
// flags, do asks lbd, and the result is printed (--json: as JSON) even
// when lbd also reports an error.
func action(ctx context.Context, name string, args []string, socket string, stdout, stderr io.Writer,
	flags func(fs *flag.FlagSet), do func(ctx context.Context, socket string) (any, error)) int {
	fs, asJSON := actionFlags(name, &socket, stderr, flags)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbctl %s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	res, err := do(ctx, socket)
	if *asJSON && res != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else if res != nil {
		printAction(stdout, res, err == nil)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %s: %v\n", name, err)
		return 1
	}
	return 0
}

// printAction prints what a reload or resync did; ok says lbd reported no
// error (a refused or invalid reload is "not reloaded").
func printAction(w io.Writer, res any, ok bool) {
	var ar *control.ApplyResult
	switch r := res.(type) {
	case control.ReloadResult:
		switch {
		case r.ConfigFile == "":
		case ok:
			fmt.Fprintf(w, "reloaded %s\n", r.ConfigFile)
		case r.Apply == nil:
			fmt.Fprintf(w, "not reloaded %s\n", r.ConfigFile)
		default:
			fmt.Fprintf(w, "reloaded %s, with errors\n", r.ConfigFile)
		}
		for _, c := range r.Changes {
			fmt.Fprintf(w, "  %s\n", c)
		}
		ar = r.Apply
	case control.ApplyResult:
		ar = &r
	}
	if ar == nil {
		return
	}
	fmt.Fprintf(w, "%s: %d writes in %s\n", ar.Kind, ar.Writes, ar.Took.Round(time.Microsecond))
	for _, op := range ar.Ops {
		fmt.Fprintf(w, "  ipvsadm %s\n", op)
	}
	omitted(w, ar.OpsOmitted, "")
	for _, op := range ar.Failed {
		fmt.Fprintf(w, "  FAILED ipvsadm %s\n", op)
	}
	omitted(w, ar.FailedOmitted, "FAILED ")
	for _, op := range ar.Pending {
		fmt.Fprintf(w, "  PENDING ipvsadm %s\n", op)
	}
	omitted(w, ar.PendingOmitted, "PENDING ")
}

// omitted says how many lines of a list lbd left out.
func omitted(w io.Writer, n int, what string) {
	if n > 0 {
		fmt.Fprintf(w, "  %s... and %d more not kept\n", what, n)
	}
}

// actionFlags defines the flags of reload or resync (also for their man
// page): -s (sets *socket), --json and the command's own (flags).
func actionFlags(name string, socket *string, stderr io.Writer, flags func(fs *flag.FlagSet)) (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet("lbctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(socket, "s", *socket, "control `socket` of lbd")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if flags != nil {
		flags(fs)
	}
	return fs, asJSON
}
