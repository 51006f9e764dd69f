// Command lbd is the load-balancer director: it programs the kernel's IPVS
// table from lbd.yaml, runs VRRP to move the virtual addresses between a
// pair of directors, and health-checks the real servers.
//
// Usage:
//
//	lbd COMMAND [flags]
//
// Run "lbd help" for the list of commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// defaultConfigPath is where lbd looks for its configuration without -c.
const defaultConfigPath = "/etc/lbd/lbd.yaml"

// command is one subcommand.
type command struct {
	name    string
	summary string // one line for "lbd help"
	run     func(ctx context.Context, args []string) error
}

// commands lists lbd's subcommands, in the order "lbd help" shows them.
// To add one, write its run function in its own file (NAME.go) and add a
// line here.
func commands() []command {
	return []command{
		{name: "check", summary: "validate a configuration file and exit", run: runCheck},
		{name: "run", summary: "run the director daemon (SIGHUP reloads)", run: runRun},
	}
}

// exitCode is an error carrying only an exit status: the command has
// already told the user what went wrong.
type exitCode int

func (e exitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, "lbd", commands(), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// dispatch runs the subcommand named by args[0] and returns the exit status:
// 0 success, 1 failure, 2 usage error.
func dispatch(ctx context.Context, prog string, cmds []command, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr, prog, cmds)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout, prog, cmds)
		return 0
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:])
		var code exitCode
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &code):
			return int(code)
		}
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, c.name, err)
		return 1
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n", prog, args[0])
	usage(stderr, prog, cmds)
	return 2
}

// parseFlags parses args with fs and refuses extra arguments; usage errors
// become exit status 2 (fs has already printed them).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitCode(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitCode(2)
	}
	return nil
}

func usage(w io.Writer, prog string, cmds []command) {
	fmt.Fprintf(w, "Usage: %s COMMAND [flags]\n\nCommands:\n", prog)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"%s COMMAND -h\" for a command's flags.\n", prog)
}
