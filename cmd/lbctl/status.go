package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel"
	"github.com/lvsd/lb/director/table"
)

// statusFlags are the options of status and save.
type statusFlags struct {
	save   bool   // the save command
	socket string // -s after the command, else the global -s

	numeric, stats, rate, thresholds, persistent, tunInfo, exact, nosort bool
	conns, timeout, daemon, health, json, kernelOnly                     bool
}

// status runs "lbctl status" (and "lbctl save" when save is set): the
// table views of ipvsadm, from lbd or else from the kernel, then with
// --health what only lbd knows.
func status(ctx context.Context, args []string, socket string, stdout, stderr io.Writer, e env, save bool) int {
	f, code := parseStatusFlags(args, socket, save, stderr)
	if code != 0 {
		return code
	}
	format := f.format()
	var res table.Resolver
	if !f.numeric {
		res = e.resolver()
	}

	if f.conns && !f.json && !f.health {
		// Connections come from /proc of this host: no need for lbd.
		conns, err := e.conns()
		if err != nil {
			fmt.Fprintf(stderr, "lbctl: %v\n", err)
			return 1
		}
		return writeOut(stderr, table.WriteConns(stdout, conns, format, res))
	}

	st, running, code := fetch(ctx, f.socket, f.kernelOnly, stderr, e)
	if code != 0 {
		return code
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return writeOut(stderr, enc.Encode(st))
	}
	if running && st.IPVS.VRRPOnly {
		return statusVRRPOnly(stdout, stderr, st, f, e)
	}
	if err := writeView(stdout, st, f, format, res, e); err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	if f.health {
		if !running {
			fmt.Fprintln(stderr, "lbctl: no health or VRRP state: lbd is not running")
			return 0
		}
		now := time.Now
		if e.now != nil {
			now = e.now
		}
		return writeOut(stderr, writeHealth(stdout, st, now()))
	}
	return 0
}

// noTable is what lbctl says instead of an ipvsadm view when lbd runs
// VRRP only.
const noTable = "No IPVS table: lbd runs VRRP only (no virtual_servers and no sync daemon in its configuration)."

// statusVRRPOnly answers status and save when lbd runs VRRP only: the
// table's views say plainly that there is no table (the list view on
// stdout, followed by the VRRP instances, or with --health by everything
// lbd knows; the other views on stderr, with nothing on stdout).
func statusVRRPOnly(stdout, stderr io.Writer, st control.Status, f statusFlags, e env) int {
	if f.save || f.conns || f.timeout || f.daemon {
		fmt.Fprintf(stderr, "lbctl: %s\n", noTable)
		return 0
	}
	fmt.Fprintln(stdout, noTable)
	if !f.health {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		writeVRRP(tw, st.VRRP)
		return writeOut(stderr, tw.Flush())
	}
	now := time.Now
	if e.now != nil {
		now = e.now
	}
	return writeOut(stderr, writeHealth(stdout, st, now()))
}

// parseStatusFlags reads the options of status (save: of save, which has
// fewer); socket is the global -s, which -s after the command overrides.
// A usage error is reported and gives exit status 2.
func parseStatusFlags(args []string, socket string, save bool, stderr io.Writer) (statusFlags, int) {
	fs, f := statusFlagSet(socket, save, stderr)
	if err := fs.Parse(args); err != nil {
		return *f, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbctl: unexpected argument %q\n", fs.Arg(0))
		return *f, 2
	}
	return f.check(stderr)
}

// statusFlagSet defines the flags of status or save (also for their man
// page); socket is the default of -s.
func statusFlagSet(socket string, save bool, stderr io.Writer) (*flag.FlagSet, *statusFlags) {
	fs := flag.NewFlagSet("lbctl status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	f := &statusFlags{save: save}
	fs.StringVar(&f.socket, "s", socket, "control `socket` of lbd")
	fs.BoolVar(&f.numeric, "n", false, "numeric output")
	if !save {
		fs.BoolVar(&f.stats, "stats", false, "statistics")
		fs.BoolVar(&f.rate, "rate", false, "rates")
		fs.BoolVar(&f.thresholds, "thresholds", false, "thresholds")
		fs.BoolVar(&f.persistent, "persistent-conn", false, "persistent connections")
		fs.BoolVar(&f.tunInfo, "tun-info", false, "tunnel information")
		fs.BoolVar(&f.exact, "exact", false, "exact numbers")
		fs.BoolVar(&f.nosort, "nosort", false, "kernel order")
		fs.BoolVar(&f.conns, "c", false, "connections")
		fs.BoolVar(&f.timeout, "timeout", false, "timeouts")
		fs.BoolVar(&f.daemon, "daemon", false, "sync daemons")
		fs.BoolVar(&f.health, "health", false, "VRRP and real-server health after the table")
		fs.BoolVar(&f.json, "json", false, "JSON")
	}
	fs.BoolVar(&f.kernelOnly, "kernel", false, "read the kernel only")
	return fs, f
}

// check applies ipvsadm's rule on the options that go together.
func (f statusFlags) check(stderr io.Writer) (statusFlags, int) {
	// ipvsadm's own rule for the list command.
	if (f.conns || f.timeout || f.daemon) && (f.stats || f.rate || f.thresholds) ||
		(f.timeout || f.daemon) && f.persistent {
		fmt.Fprintln(stderr, "lbctl: options conflicts in the list command")
		return f, 2
	}
	return f, 0
}

// format is the table format the options ask for.
func (f statusFlags) format() table.Format {
	format := table.Format(0)
	for _, b := range []struct {
		on bool
		f  table.Format
	}{{f.numeric, table.FormatNumeric}, {f.stats, table.FormatStats}, {f.rate, table.FormatRate},
		{f.thresholds, table.FormatThresholds}, {f.persistent, table.FormatPersistentConn},
		{f.tunInfo, table.FormatTunInfo}, {f.exact, table.FormatExact}, {f.nosort, table.FormatNoSort}} {
		if b.on {
			format |= b.f
		}
	}
	return format
}

// writeView prints the one view the options select: the save format, the
// connections, the timeouts, the sync daemons, or the table.
func writeView(w io.Writer, st control.Status, f statusFlags, format table.Format, res table.Resolver, e env) error {
	switch {
	case f.save:
		return table.WriteSave(w, st.IPVS.Table, format, res)
	case f.conns:
		conns, err := e.conns()
		if err != nil {
			return err
		}
		return table.WriteConns(w, conns, format, res)
	case f.timeout:
		return table.WriteTimeouts(w, st.IPVS.Timeouts)
	case f.daemon:
		return table.WriteDaemons(w, st.IPVS.Daemons)
	}
	return table.WriteList(w, st.IPVS.Info, st.IPVS.Table, format, res)
}

// fetch gets the status from lbd, or the kernel's table when lbd is not
// there (saying so on stderr). running reports whether lbd answered.
func fetch(ctx context.Context, socket string, kernelOnly bool, stderr io.Writer, e env) (st control.Status, running bool, code int) {
	if !kernelOnly {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := e.status(cctx, socket)
		cancel()
		if err == nil {
			if st.IPVS.Error != "" {
				fmt.Fprintf(stderr, "lbctl: lbd could not read the IPVS table: %s\n", st.IPVS.Error)
				if len(st.IPVS.Table.Services) == 0 && st.IPVS.Info == (table.Info{}) {
					return st, true, 1
				}
			}
			return st, true, 0
		}
		if errors.Is(err, control.ErrNotRunning) {
			fmt.Fprintf(stderr, "lbctl: %v: showing the kernel table only\n", err)
		} else {
			fmt.Fprintf(stderr, "lbctl: cannot ask lbd (%v): showing the kernel table only\n", err)
		}
	}
	kv, err := e.kernel()
	if err != nil {
		if kernel.IsUnavailable(err) {
			fmt.Fprintf(stderr, "lbctl: cannot read the IPVS table: IPVS is not available in this kernel (%v)\n", err)
		} else {
			fmt.Fprintf(stderr, "lbctl: cannot read the IPVS table: %v\n", err)
		}
		return control.Status{}, false, 1
	}
	return control.Status{IPVS: kv.ipvs}, false, 0
}

func writeOut(stderr io.Writer, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	return 0
}
