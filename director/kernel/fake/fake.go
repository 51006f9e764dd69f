// Package fake is an in-memory IPVS with the kernel's observable behaviour
// (errno for duplicates and missing entries, the hashed flag, destinations
// in insertion order, Local for local addresses, timeouts where zero means
// "unchanged"), write counting and fault injection, for unit tests of code
// that drives director/kernel.
package fake

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"syscall"

	"github.com/lvsd/lb/director/table"
)

// Kernel is a fake IPVS. The zero value is not usable; call New.
type Kernel struct {
	mu       sync.Mutex
	services []table.Service
	index    map[table.ServiceKey]int // cache of positions in services
	timeouts table.Timeouts
	daemons  []table.Daemon
	info     table.Info
	writes   int
	batches  int
	log      []string

	// Schedulers accepted by CreateService/UpdateService (ENOENT otherwise).
	Schedulers []string
	// Local addresses: destinations there are reported with ForwardLocal.
	Local []netip.Addr
	// FailWrite, if set, is called before each write with a description
	// ("create-service TCP 10.0.0.1:80", "update-destination ... "); a
	// non-nil return fails the write (which still counts).
	FailWrite func(what string) error
	// FailRead, if set, is called before each read (Services, Destinations).
	FailRead func(what string) error
}

// New returns an empty fake kernel with Info 1.2.1 / 4096 and the kernel's
// default timeouts (900 120 300).
func New() *Kernel {
	return &Kernel{
		Schedulers: table.Schedulers(),
		timeouts:   table.Timeouts{TCP: 900, TCPFin: 120, UDP: 300},
		info:       table.Info{Version: [3]int{1, 2, 1}, ConnTableSize: 4096},
	}
}

// Writes returns the number of write calls so far.
func (k *Kernel) Writes() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.writes
}

// Log returns a description of every write call so far, in order.
func (k *Kernel) Log() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.log)
}

// ResetCounters clears the write count and log.
func (k *Kernel) ResetCounters() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.writes, k.log = 0, nil
}

// Table returns the content as the kernel would report it.
func (k *Kernel) Table() table.Table {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := table.Table{Services: make([]table.Service, len(k.services))}
	for i, s := range k.services {
		t.Services[i] = k.report(s)
	}
	return t
}

// Load replaces the content with t, as if set up behind the daemon's back
// (no writes counted). Flags get the hashed bit like the kernel sets it.
func (k *Kernel) Load(t table.Table) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.services = nil
	for _, s := range t.Services {
		s = s.Clone()
		s.ServiceKey = s.Key()
		s.Flags |= table.FlagHashed
		for i := range s.Destinations {
			s.Destinations[i].Family = s.Destinations[i].AddrFamily()
		}
		k.services = append(k.services, s)
	}
	k.index = nil
}

// SetInfo sets what Info returns.
func (k *Kernel) SetInfo(i table.Info) { k.mu.Lock(); k.info = i; k.mu.Unlock() }

func (k *Kernel) report(s table.Service) table.Service {
	s = s.Clone()
	if s.FWMark != 0 {
		s.Protocol = 0
	}
	for i := range s.Destinations {
		if slices.Contains(k.Local, s.Destinations[i].Address) {
			s.Destinations[i].Forward = table.ForwardLocal
		}
	}
	return s
}

func (k *Kernel) find(key table.ServiceKey) int {
	key = key.Normalize()
	if k.index == nil {
		k.index = make(map[table.ServiceKey]int, len(k.services))
		for i := range k.services {
			k.index[k.services[i].ServiceKey] = i // stored normalized
		}
	}
	if i, ok := k.index[key]; ok {
		return i
	}
	return -1
}

func (k *Kernel) begin(what string) error {
	k.writes++
	k.log = append(k.log, what)
	if k.FailWrite != nil {
		return k.FailWrite(what)
	}
	return nil
}

func (k *Kernel) read(what string) error {
	if k.FailRead != nil {
		return k.FailRead(what)
	}
	return nil
}

// Info implements the director's Kernel.
func (k *Kernel) Info() (table.Info, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.info, nil
}

// Services implements the director's Kernel.
func (k *Kernel) Services() ([]table.Service, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.read("services"); err != nil {
		return nil, err
	}
	out := make([]table.Service, 0, len(k.services))
	for _, s := range k.services {
		out = append(out, k.report(s).WithoutDestinations())
	}
	return out, nil
}

// Destinations implements the director's Kernel.
func (k *Kernel) Destinations(s table.Service) ([]table.Destination, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.read("destinations " + s.Key().String()); err != nil {
		return nil, err
	}
	i := k.find(s.Key())
	if i < 0 {
		return nil, nil // the kernel answers an empty dump
	}
	return k.report(k.services[i]).Destinations, nil
}

func (k *Kernel) checkService(s table.Service) error {
	if !slices.Contains(k.Schedulers, s.Scheduler) {
		return fmt.Errorf("scheduler %q not found: %w", s.Scheduler, syscall.ENOENT)
	}
	if s.Family == table.FamilyIPv6 && (s.Netmask < 1 || s.Netmask > 128) {
		return syscall.EINVAL // the kernel checks the IPv6 prefix length
	}
	if s.FWMark == 0 && !s.Address.IsValid() {
		return syscall.EINVAL
	}
	return nil
}

// CreateService implements the director's Kernel.
func (k *Kernel) CreateService(s table.Service) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin("create-service " + s.Key().String()); err != nil {
		return err
	}
	if err := k.checkService(s); err != nil {
		return err
	}
	if k.find(s.Key()) >= 0 {
		return syscall.EEXIST
	}
	s = s.WithoutDestinations()
	s.ServiceKey = s.Key()
	s.Flags |= table.FlagHashed
	s.Stats = table.Stats{}
	k.services = append(k.services, s)
	if k.index != nil {
		k.index[s.ServiceKey] = len(k.services) - 1
	}
	return nil
}

// UpdateService implements the director's Kernel.
func (k *Kernel) UpdateService(s table.Service) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin("update-service " + s.Key().String()); err != nil {
		return err
	}
	if err := k.checkService(s); err != nil {
		return err
	}
	i := k.find(s.Key())
	if i < 0 {
		return syscall.ESRCH
	}
	cur := &k.services[i]
	cur.Scheduler, cur.Flags, cur.Timeout, cur.Netmask = s.Scheduler, s.Flags|table.FlagHashed, s.Timeout, s.Netmask
	return nil
}

// RemoveService implements the director's Kernel.
func (k *Kernel) RemoveService(s table.Service) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin("remove-service " + s.Key().String()); err != nil {
		return err
	}
	i := k.find(s.Key())
	if i < 0 {
		return syscall.ESRCH
	}
	k.services = slices.Delete(k.services, i, i+1)
	k.index = nil
	return nil
}

func checkDest(d table.Destination) error {
	if d.LowerThreshold > d.UpperThreshold {
		return syscall.ERANGE
	}
	if d.TunnelType == table.TunnelGUE && d.TunnelPort == 0 { // whatever the method, like the kernel
		return syscall.EINVAL
	}
	if !d.Address.IsValid() {
		return syscall.EINVAL
	}
	return nil
}

func (k *Kernel) dest(s table.Service, d table.Destination) (svc *table.Service, j int, err error) {
	i := k.find(s.Key())
	if i < 0 {
		return nil, -1, syscall.ESRCH
	}
	svc = &k.services[i]
	j = slices.IndexFunc(svc.Destinations, func(x table.Destination) bool { return x.Key() == d.Key() })
	return svc, j, nil
}

func clean(d table.Destination) table.Destination {
	d.Family = d.AddrFamily()
	d.ActiveConns, d.InactConns, d.PersistConns, d.Stats = 0, 0, 0, table.Stats{}
	return d
}

// destWrite starts a destination write (verb create, update or remove):
// it logs and counts the write, checks d unless it is removed, and finds
// it in s: a create wants it absent (EEXIST), the others present (ENOENT).
func (k *Kernel) destWrite(verb string, s table.Service, d table.Destination) (svc *table.Service, j int, err error) {
	if err := k.begin(verb + "-destination " + d.Key().String() + " of " + s.Key().String()); err != nil {
		return nil, 0, err
	}
	if verb != "remove" {
		if err := checkDest(d); err != nil {
			return nil, 0, err
		}
	}
	if svc, j, err = k.dest(s, d); err != nil {
		return nil, 0, err
	}
	switch {
	case verb == "create" && j >= 0:
		return nil, 0, syscall.EEXIST
	case verb != "create" && j < 0:
		return nil, 0, syscall.ENOENT
	}
	return svc, j, nil
}

// CreateDestination implements the director's Kernel.
func (k *Kernel) CreateDestination(s table.Service, d table.Destination) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	svc, _, err := k.destWrite("create", s, d)
	if err != nil {
		return err
	}
	svc.Destinations = append(svc.Destinations, clean(d))
	return nil
}

// UpdateDestination implements the director's Kernel.
func (k *Kernel) UpdateDestination(s table.Service, d table.Destination) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	svc, j, err := k.destWrite("update", s, d)
	if err != nil {
		return err
	}
	old := svc.Destinations[j]
	nd := clean(d)
	nd.ActiveConns, nd.InactConns, nd.PersistConns, nd.Stats = old.ActiveConns, old.InactConns, old.PersistConns, old.Stats
	svc.Destinations[j] = nd
	return nil
}

// RemoveDestination implements the director's Kernel.
func (k *Kernel) RemoveDestination(s table.Service, d table.Destination) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	svc, j, err := k.destWrite("remove", s, d)
	if err != nil {
		return err
	}
	svc.Destinations = slices.Delete(svc.Destinations, j, j+1)
	return nil
}

// Timeouts implements the director's Kernel.
func (k *Kernel) Timeouts() (table.Timeouts, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.timeouts, nil
}

// SetTimeouts implements the director's Kernel (zero fields unchanged).
func (k *Kernel) SetTimeouts(t table.Timeouts) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin(fmt.Sprintf("set-timeouts %d %d %d", t.TCP, t.TCPFin, t.UDP)); err != nil {
		return err
	}
	if t.TCP != 0 {
		k.timeouts.TCP = t.TCP
	}
	if t.TCPFin != 0 {
		k.timeouts.TCPFin = t.TCPFin
	}
	if t.UDP != 0 {
		k.timeouts.UDP = t.UDP
	}
	return nil
}

// Flush removes every service.
func (k *Kernel) Flush() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin("flush"); err != nil {
		return err
	}
	k.services = nil
	k.index = nil
	return nil
}

// Daemons implements the director's SyncDaemons.
func (k *Kernel) Daemons() ([]table.Daemon, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.daemons), nil
}

// StartDaemon implements the director's SyncDaemons (EEXIST if one runs in
// that role).
func (k *Kernel) StartDaemon(d table.Daemon) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin("start-daemon " + d.State.String()); err != nil {
		return err
	}
	if slices.ContainsFunc(k.daemons, func(x table.Daemon) bool { return x.State == d.State }) {
		return syscall.EEXIST
	}
	k.daemons = append(k.daemons, d)
	return nil
}

// StopDaemon implements the director's SyncDaemons (ESRCH if none runs).
func (k *Kernel) StopDaemon(s table.DaemonState) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin("stop-daemon " + s.String()); err != nil {
		return err
	}
	i := slices.IndexFunc(k.daemons, func(x table.Daemon) bool { return x.State == s })
	if i < 0 {
		return syscall.ESRCH
	}
	k.daemons = slices.Delete(k.daemons, i, i+1)
	return nil
}

// WriteBatch implements the director's BatchWriter: each op in order, going
// on past failures. Batches counts the calls.
func (k *Kernel) WriteBatch(ops []table.Op) []error {
	k.mu.Lock()
	k.batches++
	k.mu.Unlock()
	errs := make([]error, len(ops))
	for i, op := range ops {
		switch op.Kind {
		case table.OpCreateService:
			errs[i] = k.CreateService(op.Service)
		case table.OpUpdateService:
			errs[i] = k.UpdateService(op.Service)
		case table.OpRemoveService:
			errs[i] = k.RemoveService(op.Service)
		case table.OpCreateDest:
			errs[i] = k.CreateDestination(op.Service, op.Dest)
		case table.OpUpdateDest:
			errs[i] = k.UpdateDestination(op.Service, op.Dest)
		case table.OpRemoveDest:
			errs[i] = k.RemoveDestination(op.Service, op.Dest)
		default:
			errs[i] = syscall.EINVAL
		}
	}
	return errs
}

// Batches returns how many WriteBatch calls were made.
func (k *Kernel) Batches() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.batches
}
