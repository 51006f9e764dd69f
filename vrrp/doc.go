// Package vrrp implements the Virtual Router Redundancy Protocol as keepalived
// runs it: VRRPv2 (RFC 3768, whole-second adverts, PASS authentication) and
// VRRPv3 (RFC 5798, centisecond adverts, pseudo-header checksum) over IPv4,
// and VRRPv3 over IPv6.
//
// The package is layered so that the protocol logic can be tested without a
// network:
//
//   - config.go, set.go: an instance's options, keepalived's defaults
//     (SetDefaults) and every rule (Validate, with field-addressed
//     FieldErrors): the one place that knows them. lbd.yaml's vrrp section
//     decodes straight into Set (the `yaml` tags are its keys).
//   - packet.go: the advertisement codec (fuzzed).
//   - check.go: the receive checks, in keepalived's order, each failure a
//     counted DropReason.
//   - fsm.go: the state machine as a pure step function
//     (Machine, Event, now) -> (Machine, []Action): no sockets, no clocks.
//   - sync.go, track.go, trackproc.go, trackfile.go: sync groups and
//     tracking (scripts, interfaces, processes with their quorum and
//     delays, files and their numbers) as pure decisions.
//   - router.go, router_track.go: the runner that owns the instances, turns
//     events (packets, timers, tracking, address removals) into Step calls
//     and executes the actions through small seams: Transport, Addresses,
//     Links, Announcer, Runner, Processes and Files (env.go). The Linux
//     implementations of those seams live in the *_linux.go files (raw IP
//     protocol 112 via golang.org/x/net, addresses and links via
//     vishvananda/netlink, gratuitous ARP via mdlayher/arp, the process
//     table via /proc and the netlink process events connector, files via
//     inotify, an instance's vmac as a netlink macvlan with its sysctls:
//     VMACs, config_vmac.go, router_vmac.go).
//
// A director builds a Router with New(Options), runs it with Run(ctx),
// follows state changes with Options.OnStateChange and reads counters
// with Stats.
package vrrp
