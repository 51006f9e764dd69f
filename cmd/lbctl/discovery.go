package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
)

// discoveryCmd runs "lbctl discovery confirm SERVICE": release the held
// discovery update of SERVICE (as status shows it: "TCP 192.0.2.10:80",
// one argument or two) and apply it.
func discoveryCmd(ctx context.Context, args []string, socket string, stdout, stderr io.Writer, e env) int {
	fs, asJSON := discoveryFlags(&socket, stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 2 || fs.Arg(0) != "confirm" {
		fmt.Fprintln(stderr, `usage: lbctl discovery confirm SERVICE   (SERVICE as status shows it: "TCP 192.0.2.10:80")`)
		return 2
	}
	service := strings.Join(fs.Args()[1:], " ")
	res, err := e.confirm(ctx, socket, service)
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	case err == nil:
		fmt.Fprintf(stdout, "confirmed the held discovery update of %s\n", service)
		printAction(stdout, res, true)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: discovery confirm: %v\n", err)
		return 1
	}
	return 0
}

// discoveryFlags defines the flags of "lbctl discovery" (also for its man
// page); -s sets *socket.
func discoveryFlags(socket *string, stderr io.Writer) (*flag.FlagSet, *bool) {
	fs := flag.NewFlagSet("lbctl discovery", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(socket, "s", *socket, "control `socket` of lbd")
	return fs, fs.Bool("json", false, "print the result as JSON")
}
