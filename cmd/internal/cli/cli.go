// Package cli is the small command-line frame that lbd, lbrs and lbctl
// share: a table of subcommands (with aliases), optional global flags before
// the command name, exit statuses carried as errors, strict flag parsing and
// the "check" subcommand that validates a configuration file.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"

	"github.com/lvsd/lb/internal/buildinfo"
	"github.com/lvsd/lb/internal/config"
)

// Command is one subcommand.
type Command struct {
	Name    string
	Aliases []string // other names that run it ("lbctl ls" for status)
	Summary string   // one line for "PROG help"
	Run     func(ctx context.Context, args []string) error
	// Flags, if set, returns a flag set with the command's flags defined
	// as Run defines them: for the man page and the shell completion
	// (Program.Spec), never parsed.
	Flags func() *flag.FlagSet
	// Args are the words the command takes first ("confirm"), for the
	// completion.
	Args []string
}

// ExitCode is an error carrying only an exit status: the command has
// already told the user what went wrong.
type ExitCode int

func (e ExitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// ExitStatus returns nil for 0 and ExitCode(code) otherwise: the error of a
// command that reports its outcome as an exit status.
func ExitStatus(code int) error {
	if code == 0 {
		return nil
	}
	return ExitCode(code)
}

// Program is a command made of subcommands.
type Program struct {
	Name string
	// Summary is what the program is, in one line (its man page's NAME).
	Summary  string
	Commands []Command
	// Flags, if set, are global flags, parsed before the command name
	// ("lbctl -s SOCKET status"). Run sends their messages to stderr and
	// makes any parse error, -h included, a usage error: the usage on
	// stderr, exit status 2.
	Flags *flag.FlagSet
	// Usage, if set, writes the usage text in place of the list of
	// Commands and their Summary.
	Usage func(w io.Writer)
	// Build, if set, replaces buildinfo.Read for "PROG version" (tests).
	Build func() buildinfo.Info
}

// isVersion reports whether arg asks for the version: the "version"
// command, or --version (-version) in the command's place.
func isVersion(arg string) bool {
	return arg == "version" || arg == "--version" || arg == "-version"
}

// version prints "PROG VERSION (revision R, date D, goX)" on w.
func (p Program) version(w io.Writer) int {
	read := p.Build
	if read == nil {
		read = buildinfo.Read
	}
	fmt.Fprintln(w, read().Line(p.Name))
	return 0
}

// Main runs the subcommand named by os.Args[1] with a context cancelled by
// SIGINT or SIGTERM, and exits with its status.
func Main(prog string, cmds []Command) {
	MainProgram(Program{Name: prog, Commands: cmds})
}

// MainProgram is Main for a Program (with a Summary, global flags...).
func MainProgram(p Program) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := p.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Dispatch runs the subcommand named by args[0] of the program prog made of
// cmds, without global flags; see [Program.Run].
func Dispatch(ctx context.Context, prog string, cmds []Command, args []string, stdout, stderr io.Writer) int {
	return Program{Name: prog, Commands: cmds}.Run(ctx, args, stdout, stderr)
}

// Run parses the global flags, runs the subcommand named by the first
// argument left and returns the exit status: 0 success, 1 failure, 2 usage
// error, or the command's own ExitCode. "help", -h, -help and --help in
// the command's place print the usage on stdout; "version", --version and
// -version print the version (before the global flags too).
func (p Program) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && isVersion(args[0]) {
		return p.version(stdout)
	}
	if len(args) == 1 && args[0] == SpecArg {
		return p.printSpec(stdout, stderr)
	}
	if p.Flags != nil {
		p.Flags.SetOutput(stderr)
		p.Flags.Usage = func() { p.usage(stderr) }
		if err := p.Flags.Parse(args); err != nil {
			return 2
		}
		args = p.Flags.Args()
	}
	if len(args) == 0 {
		p.usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		p.usage(stdout)
		return 0
	}
	if isVersion(args[0]) {
		return p.version(stdout)
	}
	c, ok := p.command(args[0])
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n", p.Name, args[0])
		p.usage(stderr)
		return 2
	}
	err := c.Run(ctx, args[1:])
	var code ExitCode
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &code):
		return int(code)
	}
	fmt.Fprintf(stderr, "%s %s: %v\n", p.Name, c.Name, err)
	return 1
}

// command finds the command called name, by its name or an alias.
func (p Program) command(name string) (Command, bool) {
	for _, c := range p.Commands {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c, true
		}
	}
	return Command{}, false
}

func (p Program) usage(w io.Writer) {
	if p.Usage != nil {
		p.Usage(w)
		return
	}
	fmt.Fprintf(w, "Usage: %s COMMAND [flags]\n\nCommands:\n", p.Name)
	for _, c := range p.Commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "version", "print the version, VCS revision and date, and Go version")
	fmt.Fprintf(w, "\nRun \"%s COMMAND -h\" for a command's flags.\n", p.Name)
}

// ParseFlags parses args with fs and refuses extra arguments; usage errors
// become exit status 2 (fs has already printed them).
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return ExitCode(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return ExitCode(2)
	}
	return nil
}

// ExitInterrupted is the exit status of a command stopped by SIGINT or
// SIGTERM (128 + SIGINT, the shell's convention).
const ExitInterrupted = 130

// ErrInterrupted is what Interruptible returns when ctx ends first.
var ErrInterrupted = errors.New("interrupted")

// Interruptible runs work and returns its error, or ErrInterrupted as soon
// as ctx is done (SIGINT, SIGTERM): work that cannot be cancelled (reading
// a file, parsing it) is left to finish in the background while the
// command exits.
func Interruptible(ctx context.Context, work func() error) error {
	done := make(chan error, 1)
	go func() { done <- work() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ErrInterrupted
	}
}

// CheckCommand is the "check" subcommand: it loads the file given with -c
// (default defaultPath) through load and prints every problem on stderr, one
// per line (FILE:LINE: PATH: message), exiting 1; or "FILE: OK" and 0.
// SIGINT and SIGTERM (ctx) stop it at once, with ExitInterrupted.
func CheckCommand(prog, what, defaultPath string, load func(path string) error, stdout, stderr io.Writer) Command {
	flags := func() (*flag.FlagSet, *string) {
		fs := flag.NewFlagSet(prog+" check", flag.ContinueOnError)
		fs.SetOutput(stderr)
		file := fs.String("c", defaultPath, "configuration `file` to validate")
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "Usage: %s check [-c FILE]\n\nValidate %s and exit.\n\n", prog, what)
			fs.PrintDefaults()
		}
		return fs, file
	}
	run := func(ctx context.Context, args []string) error {
		fs, file := flags()
		if err := ParseFlags(fs, args); err != nil {
			return err
		}
		err := Interruptible(ctx, func() error { return load(*file) })
		if errors.Is(err, ErrInterrupted) {
			fmt.Fprintf(stderr, "%s check: %v\n", prog, err)
			return ExitCode(ExitInterrupted)
		}
		if PrintConfigErrors(stderr, err) {
			return ExitCode(1)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: OK\n", *file)
		return nil
	}
	return Command{Name: "check", Summary: "validate a configuration file and exit", Run: run,
		Flags: func() *flag.FlagSet { fs, _ := flags(); return fs }}
}

// PrintConfigErrors prints each file:line error of a configuration that did
// not validate, one per line, and reports whether err was such an error.
func PrintConfigErrors(w io.Writer, err error) bool {
	var errs config.Errors
	if !errors.As(err, &errs) {
		return false
	}
	for _, e := range errs {
		fmt.Fprintln(w, e.Error())
	}
	return true
}
