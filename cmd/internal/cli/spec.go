package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/lvsd/lb/internal/manpage"
)

// SpecArg, alone on the command line, prints the program's description
// (Program.Spec) as JSON: what internal/manpage's generator reads to write
// the man page and the completion. It is in no usage text.
const SpecArg = "__spec"

// Spec describes the program from its own table: its usage text, global
// flags, and each command with its aliases, summary and flags. "version"
// and "help" are part of every program.
func (p Program) Spec() manpage.Program {
	var usage bytes.Buffer
	p.usage(&usage)
	out := manpage.Program{Name: p.Name, Summary: p.Summary, Usage: usage.String(), Globals: manpage.FlagsOf(p.Flags)}
	for _, c := range p.Commands {
		var flags []manpage.Flag
		if c.Flags != nil {
			flags = manpage.FlagsOf(c.Flags())
		}
		out.Commands = append(out.Commands, manpage.Command{Name: c.Name, Aliases: c.Aliases, Summary: c.Summary,
			Flags: flags, Args: c.Args})
	}
	out.Commands = append(out.Commands,
		manpage.Command{Name: "version", Summary: "print the version, VCS revision and date, and Go version (also --version)"},
		manpage.Command{Name: "help", Summary: "print the usage"})
	return out
}

func (p Program) printSpec(stdout, stderr io.Writer) int {
	b, err := json.MarshalIndent(p.Spec(), "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}
