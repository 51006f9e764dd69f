package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
)

// The operators' commands (issue 17): lbctl drain, undrain and
// maintenance set a real server's override in lbd (saved in its
// state_dir); drain --wait then follows the server's connections in the
// kernel's table until none is left.

// drainOpts are the options of drain.
type drainOpts struct {
	wait, remove, asJSON bool
	timeout, interval    time.Duration
}

// splitArgs separates flags from positional arguments wherever they are
// ("lbctl drain TCP 10.0.0.100:80 10.0.0.11 --wait"); valued lists the
// flags that take a value.
func splitArgs(args []string, valued map[string]bool) (flags, pos []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(pos, args[i+1:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if valued[name] && !strings.Contains(name, "=") && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, pos
}

// serviceAndServer reads SERVICE REALSERVER: the service in one argument
// ("tcp:10.0.0.100:80", "TCP 10.0.0.100:80" quoted) or two (TCP
// 10.0.0.100:80, as status prints it).
func serviceAndServer(pos []string) (service, server string, err error) {
	switch len(pos) {
	case 2:
		return pos[0], pos[1], nil
	case 3:
		return pos[0] + " " + pos[1], pos[2], nil
	}
	return "", "", errors.New("want SERVICE REALSERVER")
}

// overrideCmd runs drain (state "drain"), undrain ("none") and
// maintenance ("maintenance", or "none" with --off).
func overrideCmd(ctx context.Context, name string, args []string, socket string, stdout, stderr io.Writer, e env) int {
	var o drainOpts
	off := false
	fs := overrideFlags(name, &socket, stderr, &o, &off)
	flags, pos := splitArgs(args, map[string]bool{"s": true, "timeout": true, "interval": true})
	if err := fs.Parse(flags); err != nil {
		return 2
	}
	service, server, err := serviceAndServer(pos)
	if err != nil {
		fmt.Fprintf(stderr, "usage: lbctl %s SERVICE REALSERVER   (SERVICE as status shows it: \"TCP 192.0.2.10:80\" or tcp:192.0.2.10:80; REALSERVER ADDRESS[:PORT])\n", name)
		return 2
	}
	state := map[string]string{"drain": "drain", "undrain": "none", "maintenance": "maintenance"}[name]
	if off {
		state = "none"
	}
	res, err := e.override(ctx, socket, control.OverrideRequest{Service: service, Server: server, State: state})
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %s: %v\n", name, err)
		return 1
	}
	printOverride(stdout, res, o.asJSON)
	if !o.wait && !o.remove {
		return 0
	}
	if err := waitDrained(ctx, e, socket, res, o, stdout); err != nil {
		fmt.Fprintf(stderr, "lbctl: drain --wait: %v\n", err)
		return 1
	}
	if !o.remove {
		return 0
	}
	res, err = e.override(ctx, socket, control.OverrideRequest{Service: service, Server: server, State: "maintenance"})
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: drain --remove: %v\n", err)
		return 1
	}
	printOverride(stdout, res, o.asJSON)
	return 0
}

// overrideFlags defines the flags of drain, undrain and maintenance (also
// for their man pages) into o and off; -s sets *socket.
func overrideFlags(name string, socket *string, stderr io.Writer, o *drainOpts, off *bool) *flag.FlagSet {
	fs := flag.NewFlagSet("lbctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(socket, "s", *socket, "control `socket` of lbd")
	fs.BoolVar(&o.asJSON, "json", false, "print lbd's answer as JSON")
	switch name {
	case "drain":
		fs.BoolVar(&o.wait, "wait", false, "wait until the server has no connection left (active, inactive, persistence templates)")
		fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "with --wait: give up (exit 1) after this `duration`")
		fs.BoolVar(&o.remove, "remove", false, "after the wait, take the server out of the table (maintenance); implies --wait")
		fs.DurationVar(&o.interval, "interval", time.Second, "with --wait: how often to read the connections (`duration`)")
	case "maintenance":
		fs.BoolVar(off, "off", false, "lift the maintenance (like undrain)")
	}
	return fs
}

func printOverride(w io.Writer, res control.OverrideResult, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(res)
		return
	}
	state := res.State
	if state == "" || state == "none" {
		state = "no override (its checks decide)"
	}
	what := "now"
	if !res.Changed {
		what = "already"
	}
	writes := 0
	if res.Apply != nil {
		writes = res.Apply.Writes
	}
	fmt.Fprintf(w, "%s %s: %s %s (%d IPVS writes)\n", res.Service, hostPort(res.Address, res.Port), what, state, writes)
}

// errDrainTimeout: --wait gave up.
var errDrainTimeout = errors.New("timed out")

// waitDrained reads the kernel's counters of the server (through lbd's
// status) every interval until it has no active or inactive connection
// and no persistence template, or is out of the table; it prints each
// change of the counters.
func waitDrained(ctx context.Context, e env, socket string, res control.OverrideResult, o drainOpts, w io.Writer) error {
	now := e.now
	if now == nil {
		now = time.Now
	}
	deadline := now().Add(o.timeout)
	last := ""
	for {
		st, err := e.status(ctx, socket)
		if err != nil {
			return err
		}
		d, found := findDest(st.IPVS.Table, res.Service, res.Address, res.Port)
		if !found {
			fmt.Fprintln(w, "not in the kernel's table: no connection left")
			return nil
		}
		line := fmt.Sprintf("%d active, %d inactive connections, %d persistence templates", d.ActiveConns, d.InactConns, d.PersistConns)
		if line != last {
			fmt.Fprintf(w, "%s %s\n", now().Format("15:04:05"), line)
			last = line
		}
		if d.ActiveConns == 0 && d.InactConns == 0 && d.PersistConns == 0 {
			fmt.Fprintln(w, "drained: no connection left")
			return nil
		}
		if !now().Before(deadline) {
			return fmt.Errorf("%w after %s: %s", errDrainTimeout, o.timeout, line)
		}
		if err := e.sleep(ctx, o.interval); err != nil {
			return err
		}
	}
}

// findDest is the kernel's destination of the service key at addr:port.
func findDest(t table.Table, key table.ServiceKey, addr netip.Addr, port uint16) (table.Destination, bool) {
	svc, ok := t.Find(key)
	if !ok {
		return table.Destination{}, false
	}
	for _, d := range svc.Destinations {
		if d.Key() == (table.DestKey{Address: addr, Port: port}) {
			return d, true
		}
	}
	return table.Destination{}, false
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drainDirectorCmd runs drain-director (drain true; --undo: false) and
// undrain-director: lbd gives up (or takes back) its VRRP mastership and
// withdraws (or announces again) its BGP routes. It exits 1 when, drained,
// an instance is still MASTER: no peer took over, and this director keeps
// the addresses.
func drainDirectorCmd(ctx context.Context, name string, drain bool, args []string, socket string, stdout, stderr io.Writer, e env) int {
	fs, undo, asJSON := drainDirectorFlags(name, drain, &socket, stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbctl %s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	drain = drain && !*undo
	res, err := e.drainDirector(ctx, socket, control.DirectorDrainRequest{Drain: drain})
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %s: %v\n", name, err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		printDirectorDrain(stdout, res, drain)
	}
	if drain {
		for _, in := range res.Instances {
			if in.State == "MASTER" {
				fmt.Fprintf(stderr, "lbctl: %s: %s is still MASTER: no other router took over, this director keeps its addresses\n", name, in.Name)
				return 1
			}
		}
	}
	return 0
}

// drainDirectorFlags defines the flags of drain-director (with --undo)
// and undrain-director (also for their man pages); -s sets *socket.
func drainDirectorFlags(name string, withUndo bool, socket *string, stderr io.Writer) (fs *flag.FlagSet, undo, asJSON *bool) {
	fs = flag.NewFlagSet("lbctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(socket, "s", *socket, "control `socket` of lbd")
	asJSON = fs.Bool("json", false, "print lbd's answer as JSON")
	undo = new(bool)
	if withUndo {
		fs.BoolVar(undo, "undo", false, "undrain: back in the VRRP election, BGP routes announced again")
	}
	return fs, undo, asJSON
}

// printDirectorDrain prints the answer of drain-director: the VRRP
// instances, then the BGP routes.
func printDirectorDrain(w io.Writer, res control.DirectorDrain, drain bool) {
	what := "drained: VRRP BACKUP while another router is master, BGP routes withdrawn"
	if !drain {
		what = "drain undone: back in the VRRP election, BGP routes announced again while ready"
	}
	if !res.Changed {
		what = "already " + what
	}
	fmt.Fprintf(w, "director %s\n", what)
	for _, in := range res.Instances {
		fmt.Fprintf(w, "  %s: %s, priority %d (configured %d)\n", in.Name, in.State, in.EffectivePriority, in.Priority)
	}
	if res.BGP != nil {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		writeBGP(tw, res.BGP, time.Now())
		tw.Flush()
	}
}
