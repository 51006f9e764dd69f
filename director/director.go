// Package director is the IPVS half of lbd: it builds the desired IPVS table
// from the configuration and the health of the real servers, diffs it
// against the table read back from the kernel, and applies the minimal
// ordered set of writes through a narrow Kernel interface, retrying failed
// writes and re-reading the kernel so that its view is never stale. A
// periodic and on-demand resync repairs hand edits.
//
// Kernel access goes through Kernel (implemented by director/kernel.Handle,
// and by director/kernel/fake in tests).
package director

import (
	"github.com/lvsd/lb/director/table"
)

// Kernel is what the director needs of the kernel's IPVS. Implemented by
// *kernel.Handle (cloudflare/ipvs) and by fake.Kernel.
type Kernel interface {
	// Info returns the IPVS version and connection table size.
	Info() (table.Info, error)
	// Services lists services (without destinations); empty is not an error.
	Services() ([]table.Service, error)
	// Service returns the service of a key (no destinations); found is
	// false, with no error, when there is none.
	Service(table.ServiceKey) (s table.Service, found bool, err error)
	// Destinations lists a service's destinations; empty is not an error.
	Destinations(table.Service) ([]table.Destination, error)

	// The six writes (table.Op.Apply makes one).
	table.Writer

	// Timeouts returns the tcp/tcpfin/udp connection timeouts.
	Timeouts() (table.Timeouts, error)
	// SetTimeouts sets them; a zero field is left unchanged by the kernel.
	SetTimeouts(table.Timeouts) error
}

// BatchWriter is implemented by kernels that can send many writes at once
// (*kernel.Handle: many netlink requests per system call). WriteBatch
// applies ops in order, going on past failures, and returns one error per
// op (nil for success).
type BatchWriter interface {
	WriteBatch(ops []table.Op) []error
}

// Sysctls reads and writes kernel parameters by dotted name
// (internal/sysctl.Proc implements it).
type Sysctls interface {
	Get(name string) (string, error)
	Set(name, value string) error
}

// SyncDaemons drives the IPVS connection-sync daemons (*kernel.Handle
// implements it).
type SyncDaemons interface {
	Daemons() ([]table.Daemon, error)
	StartDaemon(table.Daemon) error
	StopDaemon(table.DaemonState) error
}
