// Command lbrs is the real-server agent of the load balancer: it puts the
// virtual addresses of lbrs.yaml on lo (direct routing) or on the tunnel
// device (IP tunnelling), sets arp_ignore/arp_announce so the real server
// answers for the VIP without claiming it on the wire, and restores
// everything when it stops.
//
// Usage:
//
//	lbrs COMMAND [flags]
//
// Run "lbrs help" for the list of commands.
package main

import (
	"os"

	"github.com/lvsd/lb/cmd/internal/cli"
	"github.com/lvsd/lb/internal/config"
)

// defaultConfigPath is where lbrs looks for its configuration without -c.
const defaultConfigPath = "/etc/lbrs/lbrs.yaml"

// commands lists lbrs's subcommands, in the order "lbrs help" shows them.
func commands() []cli.Command {
	load := func(path string) error { _, err := config.LoadAgent(path); return err }
	return append([]cli.Command{
		cli.CheckCommand("lbrs", "an agent configuration", defaultConfigPath, load, os.Stdout, os.Stderr),
	}, agentCommands()...) // run, apply, restore, status: agent.go
}

// summary is what lbrs is, in one line (its man page's NAME).
const summary = "load-balancer real-server agent: VIPs on lo or the tunnel, ARP sysctls"

func main() { cli.MainProgram(cli.Program{Name: "lbrs", Summary: summary, Commands: commands()}) }
