// Package manpage generates the documentation the Debian packages ship from
// the one source each has, so that it cannot drift: the man pages lbd(8),
// lbrs(8) and lbctl(8) and lbctl's bash completion from the commands' own
// description (Program, which cmd/internal/cli builds from its command
// table and flag sets, and which each command prints with the hidden
// argument "__spec"), and lbd.yaml(5) and lbrs.yaml(5) from the
// configuration reference, docs/config.md. The output is roff (man(7)
// macros) and a bash script. Generate writes them all (cmd/genman, and
// deploy/cmd/mkdeb for the packages); the rest is pure.
package manpage

import (
	"flag"
	"sort"
	"strings"
)

// Program describes a command made of subcommands.
type Program struct {
	Name    string `json:"name"`
	Summary string `json:"summary"` // one line: "the load-balancer director"
	// Usage is the program's own usage text ("PROG help").
	Usage    string    `json:"usage"`
	Globals  []Flag    `json:"globals,omitempty"` // flags before the command name
	Commands []Command `json:"commands"`
}

// Command is one subcommand.
type Command struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	Summary string   `json:"summary,omitempty"`
	Flags   []Flag   `json:"flags,omitempty"`
	// Args are the words the command takes after its name (lbctl discovery: confirm).
	Args []string `json:"args,omitempty"`
}

// Flag is one flag of a command.
type Flag struct {
	Name    string `json:"name"`
	Arg     string `json:"arg,omitempty"` // the value's name ("FILE"); "" for a boolean flag
	Usage   string `json:"usage"`
	Default string `json:"default,omitempty"`
}

// FlagsOf lists the flags of fs, sorted by name.
func FlagsOf(fs *flag.FlagSet) []Flag {
	if fs == nil {
		return nil
	}
	var out []Flag
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			arg = ""
		} else {
			arg = strings.ToUpper(arg)
		}
		def := f.DefValue
		if arg == "" && def == "false" {
			def = ""
		}
		out = append(out, Flag{Name: f.Name, Arg: arg, Usage: usage, Default: def})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
