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
	"flag"
	"fmt"
	"os"

	"github.com/lvsd/lb/cmd/internal/cli"
	"github.com/lvsd/lb/internal/config"
)

// defaultConfigPath is where lbd looks for its configuration without -c.
const defaultConfigPath = "/etc/lbd/lbd.yaml"

// commands lists lbd's subcommands, in the order "lbd help" shows them.
func commands() []cli.Command {
	load := func(path string) error {
		d, err := config.LoadDirector(path)
		if err == nil {
			for _, w := range d.Warnings { // valid, but worth changing (bgp: consistency across directors)
				fmt.Fprintln(os.Stderr, "warning: "+w.Error())
			}
		}
		return err
	}
	return []cli.Command{
		cli.CheckCommand("lbd", "a director configuration", defaultConfigPath, load, os.Stdout, os.Stderr),
		{Name: "run", Summary: "run the director daemon (SIGHUP reloads)", Run: runRun,
			Flags: func() *flag.FlagSet { fs, _, _, _, _ := runFlags(); return fs }},
		planCommand(), // plan.go
	}
}

// summary is what lbd is, in one line (its man page's NAME).
const summary = "load-balancer director: IPVS, VRRP and health checks"

func main() { cli.MainProgram(cli.Program{Name: "lbd", Summary: summary, Commands: commands()}) }
