package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// drainCmd runs "lbctl drain-director [--undo]": withdraw every BGP route
// of this director, or announce them again, and print the BGP state.
func drainCmd(ctx context.Context, args []string, socket string, stdout, stderr io.Writer, e env) int {
	fs, undo, asJSON := drainFlags(&socket, stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: lbctl drain-director [--undo] [--json]")
		return 2
	}
	st, err := e.drain(ctx, socket, !*undo)
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: drain-director: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(st)
		return 0
	}
	if *undo {
		fmt.Fprintln(stdout, "drain undone: the routes are announced again while this director is ready")
	} else {
		fmt.Fprintln(stdout, "draining: every route withdrawn (lbctl drain-director --undo to announce again)")
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	writeBGP(tw, st, time.Now())
	return exitOf(tw.Flush())
}

func exitOf(err error) int {
	if err != nil {
		return 1
	}
	return 0
}

// drainFlags defines the flags of "lbctl drain-director" (also for its man
// page); -s sets *socket.
func drainFlags(socket *string, stderr io.Writer) (fs *flag.FlagSet, undo, asJSON *bool) {
	fs = flag.NewFlagSet("lbctl drain-director", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(socket, "s", *socket, "control `socket` of lbd")
	undo = fs.Bool("undo", false, "announce the routes again")
	asJSON = fs.Bool("json", false, "print the BGP state as JSON")
	return fs, undo, asJSON
}
