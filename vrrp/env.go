package vrrp

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/lvsd/lb/internal/runas"
)

// The router reaches the system only through these interfaces. LinuxEnv
// returns the real implementations; tests use fakes.

// Transport sends and receives VRRP messages on one interface for one
// address family.
type Transport interface {
	// Recv blocks until a message arrives; it fails once Close was called.
	Recv() (Datagram, error)
	// Send sends msg from src (the instance's source address) to dst (the
	// multicast group or a unicast peer), with TTL 255.
	Send(msg []byte, src, dst netip.Addr) error
	// Primary returns the interface's primary address of the family
	// (IPv6: its link-local address), skipping those in exclude (our VIPs).
	Primary(exclude []netip.Addr) (netip.Addr, error)
	Close() error
}

// TransportConfig says what to open.
type TransportConfig struct {
	Interface string
	IPv6      bool
	Multicast bool // join the VRRP group
	// SourceInterface, if set, is the interface whose addresses Primary
	// reads (a vmac's parent); default Interface.
	SourceInterface string
}

// Addresses adds and removes virtual addresses and reports removals.
type Addresses interface {
	Add(v VIP) error    // idempotent
	Remove(v VIP) error // no error if absent
	Has(v VIP) (bool, error)
	// Watch reports addresses removed from any interface, and a Resync
	// event whenever notifications may have been lost.
	Watch(ctx context.Context) (<-chan AddrEvent, error)
}

// AddrEvent is an address removal (or a request to resync).
type AddrEvent struct {
	Addr   netip.Addr
	Resync bool
}

// Routes adds and removes the routes and policy rules an instance holds
// while MASTER (virtual_routes, virtual_rules).
type Routes interface {
	AddRoute(r Route) error    // idempotent
	RemoveRoute(r Route) error // no error if absent
	AddRule(r Rule) error      // idempotent
	RemoveRule(r Rule) error   // no error if absent
}

// Links reports link state.
type Links interface {
	Up(name string) (bool, error)
	Watch(ctx context.Context) (<-chan LinkEvent, error)
}

// LinkEvent is a link going up or down (or away).
type LinkEvent struct {
	Name string
	Up   bool
}

// Announcer sends gratuitous ARPs (IPv4) or unsolicited neighbour
// advertisements (IPv6) for addresses on a device.
type Announcer interface {
	Announce(device string, addrs []netip.Addr, repeat int, interval time.Duration) error
}

// Runner runs commands without a shell, as the user who names (empty: the
// daemon's script_user).
type Runner interface {
	// Start starts argv and does not wait for it.
	Start(argv []string, who runas.Who) error
	// Run runs argv and waits at most timeout; nil means exit status 0.
	Run(ctx context.Context, argv []string, who runas.Who, timeout time.Duration) error
}

// Env bundles the seams. A nil field in Options.Env is filled from LinuxEnv.
type Env struct {
	Listen    func(TransportConfig) (Transport, error)
	Addresses Addresses
	Links     Links
	Announcer Announcer
	Runner    Runner
	// Processes and Files are needed only when processes or files are
	// tracked; nil means LinuxProcesses and LinuxFiles.
	Processes Processes
	Files     Files
	// Routes is needed only when an instance holds routes or rules; nil
	// means LinuxEnv's.
	Routes Routes
	// VMACs is needed only when an instance uses a vmac; nil means
	// LinuxVMACs.
	VMACs VMACs
}

// VMACs creates and removes the instances' macvlans (use_vmac).
// LinuxVMACs is the real one.
type VMACs interface {
	// Create makes the macvlan (replacing a leftover macvlan of that name
	// on the same parent), sets keepalived's sysctls on it and its
	// parent, and brings it up.
	Create(spec VMACSpec) error
	// Remove deletes the macvlan and restores what Create changed on the
	// parent.
	Remove(spec VMACSpec) error
}

// VMACSpec is one instance's macvlan.
type VMACSpec struct {
	Name   string
	Parent string
	MAC    net.HardwareAddr
	IPv6   bool
}

// Processes reads the process table and reports its changes (tracked
// processes). LinuxProcesses is the real one.
type Processes interface {
	// Watch starts reporting changes; call it before the first List so
	// that none is lost. A ProcRescan event asks for a full List (events
	// were lost, or the implementation polls).
	Watch(ctx context.Context) (<-chan ProcEvent, error)
	// List reads every running process but zombies, with command lines
	// when argv is set.
	List(argv bool) ([]Process, error)
	// Read reads one process; ok is false when it is gone or a zombie.
	Read(pid int, argv bool) (p Process, ok bool)
}

// ProcEventKind is the kind of a process table change.
type ProcEventKind uint8

// Process table changes.
const (
	ProcExec   ProcEventKind = iota // PID ran a new program: read it again
	ProcFork                        // Parent forked PID
	ProcExit                        // PID exited
	ProcComm                        // PID's name changed to Comm
	ProcRescan                      // read the whole table again
)

// ProcEvent is one process table change.
type ProcEvent struct {
	Kind   ProcEventKind
	PID    int
	Parent int    // ProcFork
	Comm   string // ProcComm
}

// Files reports the contents of tracked files. LinuxFiles is the real one.
type Files interface {
	// Watch reports each path's contents at once, then whenever the file
	// is written, replaced or removed (a missing file reports Missing).
	Watch(ctx context.Context, paths []string) (<-chan FileEvent, error)
	// Create writes content to path if no file is there, or over the
	// file when overwrite is set (init_file).
	Create(path string, content []byte, overwrite bool) error
}

// FileEvent is a tracked file's contents (at most a small prefix of them).
type FileEvent struct {
	Path    string
	Data    []byte
	Missing bool
}
