// Package fake is an in-memory IPVS with the observable behaviour of the
// kernel behind *kernel.Handle (the errno of each failing write and which
// check comes first, the hashed flag, the newest destination listed first,
// fwmark services without protocol, timeouts where zero means "unchanged",
// one sync daemon per role and none with mixed-family destinations), write
// counting and fault injection, for unit tests of code that drives
// director/kernel. Conform checks those promises: the same script passes
// against the fake (unit test) and the real kernel (testbed).
package fake

import (
	"fmt"
	"math"
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
	reads    Reads

	// Schedulers accepted by CreateService/UpdateService (ENOENT otherwise).
	Schedulers []string
	// FailWrite, if set, is called before each write with a description
	// ("create-service TCP 10.0.0.1:80", "update-destination ... "); a
	// non-nil return fails the write (which still counts).
	FailWrite func(what string) error
	// FailRead, if set, is called before each read ("services",
	// "service KEY", "destinations KEY").
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

// Reads counts the read calls of each kind.
type Reads struct {
	// Services counts Services calls (the dump of every service).
	Services int
	// Service counts Service calls (one service by its key).
	Service int
	// Destinations counts Destinations calls (one service's).
	Destinations int
}

// Total is the number of read calls (netlink requests on a real kernel).
func (r Reads) Total() int { return r.Services + r.Service + r.Destinations }

// Reads returns the read calls so far.
func (k *Kernel) Reads() Reads {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.reads
}

// Log returns a description of every write call so far, in order.
func (k *Kernel) Log() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.log)
}

// ResetCounters clears the write and read counts and the log.
func (k *Kernel) ResetCounters() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.writes, k.log, k.reads = 0, nil, Reads{}
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

func (k *Kernel) report(s table.Service) table.Service {
	s = s.Clone()
	if s.FWMark != 0 {
		s.Protocol = 0
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
	k.reads.Services++
	if err := k.read("services"); err != nil {
		return nil, err
	}
	out := make([]table.Service, 0, len(k.services))
	for _, s := range k.services {
		out = append(out, k.report(s).WithoutDestinations())
	}
	return out, nil
}

// Service implements the director's Kernel: the service of key, without
// destinations; found is false if there is none (the kernel's ESRCH).
func (k *Kernel) Service(key table.ServiceKey) (table.Service, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reads.Service++
	if err := k.read("service " + key.String()); err != nil {
		return table.Service{}, false, err
	}
	i := k.find(key)
	if i < 0 {
		return table.Service{}, false, nil
	}
	return k.report(k.services[i]).WithoutDestinations(), true, nil
}

// Destinations implements the director's Kernel.
func (k *Kernel) Destinations(s table.Service) ([]table.Destination, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.reads.Destinations++
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
	if s.FWMark == 0 && !s.Address.IsValid() {
		return syscall.EINVAL
	}
	return nil
}

// prefixSent is the netmask of s as *kernel.Handle sends it: an IPv6
// prefix length outside 1..128 (which the kernel refuses) as 128.
func prefixSent(s table.Service) uint32 {
	if s.Family == table.FamilyIPv6 && (s.Netmask < 1 || s.Netmask > 128) {
		return 128
	}
	return s.Netmask
}

// CreateService implements the director's Kernel.
func (k *Kernel) CreateService(s table.Service) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin("create-service " + s.Key().String()); err != nil {
		return err
	}
	if k.find(s.Key()) >= 0 {
		return syscall.EEXIST
	}
	if err := k.checkService(s); err != nil {
		return err
	}
	s = s.WithoutDestinations()
	s.ServiceKey = s.Key()
	s.Flags |= table.FlagHashed
	s.Netmask = prefixSent(s)
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
	i := k.find(s.Key())
	if i < 0 {
		return syscall.ESRCH
	}
	if err := k.checkService(s); err != nil {
		return err
	}
	cur := &k.services[i]
	cur.Scheduler, cur.Flags, cur.Timeout, cur.Netmask = s.Scheduler, s.Flags|table.FlagHashed, s.Timeout, prefixSent(s)
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

// checkDest checks d as the kernel does before looking it up in svc
// (ip_vs_genl_set_cmd, then ip_vs_add_dest or ip_vs_edit_dest).
func (k *Kernel) checkDest(svc *table.Service, d table.Destination) error {
	if !d.Address.IsValid() {
		return syscall.EINVAL
	}
	// Only tunnelling crosses families, and not while a sync daemon runs.
	if table.FamilyOf(d.Address) != svc.Family && (d.Forward != table.ForwardTunnel || len(k.daemons) > 0) {
		return syscall.EINVAL
	}
	if d.Weight > math.MaxInt32 || d.LowerThreshold > d.UpperThreshold {
		return syscall.ERANGE
	}
	if d.TunnelType == table.TunnelGUE && d.TunnelPort == 0 { // whatever the method, like the kernel
		return syscall.EINVAL
	}
	return nil
}

// checkNewAddress: a new destination must be on a unicast address (the
// kernel also accepts an IPv6 link-local one of the host, which the fake
// does not know).
func checkNewAddress(a netip.Addr) error {
	if a.IsMulticast() || a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) || a.Is6() && a.IsLinkLocalUnicast() {
		return syscall.EINVAL
	}
	return nil
}

// clean is d as the kernel keeps it: an IPv4-mapped address as IPv4, its
// family, no counters.
func clean(d table.Destination) table.Destination {
	d.Address = d.Address.Unmap()
	d.Family = table.FamilyOf(d.Address)
	d.ActiveConns, d.InactConns, d.PersistConns, d.Stats = 0, 0, 0, table.Stats{}
	return d
}

// destWrite starts a destination write (verb create, update or remove) in
// the kernel's order: it logs and counts the write, finds s (ESRCH),
// checks d unless it is removed, and finds d in s: a create wants it
// absent (EEXIST) and a unicast address, the others present (ENOENT).
func (k *Kernel) destWrite(verb string, s table.Service, d table.Destination) (svc *table.Service, j int, err error) {
	if err := k.begin(verb + "-destination " + d.Key().String() + " of " + s.Key().String()); err != nil {
		return nil, 0, err
	}
	i := k.find(s.Key())
	if i < 0 {
		return nil, 0, syscall.ESRCH
	}
	svc, d = &k.services[i], clean(d)
	if verb != "remove" {
		if err := k.checkDest(svc, d); err != nil {
			return nil, 0, err
		}
	}
	j = slices.IndexFunc(svc.Destinations, func(x table.Destination) bool { return x.Key() == d.Key() })
	switch {
	case verb == "create" && j >= 0:
		return nil, 0, syscall.EEXIST
	case verb != "create" && j < 0:
		return nil, 0, syscall.ENOENT
	case verb == "create":
		if err := checkNewAddress(d.Address); err != nil {
			return nil, 0, err
		}
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
	svc.Destinations = slices.Insert(svc.Destinations, 0, clean(d)) // the kernel lists the newest first
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

// Daemons implements the director's SyncDaemons.
func (k *Kernel) Daemons() ([]table.Daemon, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.daemons), nil
}

// StartDaemon implements the director's SyncDaemons: EINVAL while a
// service has a destination of the other family (the sync protocol cannot
// carry them), EEXIST if one runs in that role.
func (k *Kernel) StartDaemon(d table.Daemon) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.begin("start-daemon " + d.State.String()); err != nil {
		return err
	}
	if k.mixedFamily() {
		return syscall.EINVAL
	}
	if slices.ContainsFunc(k.daemons, func(x table.Daemon) bool { return x.State == d.State }) {
		return syscall.EEXIST
	}
	k.daemons = append(k.daemons, d)
	return nil
}

func (k *Kernel) mixedFamily() bool {
	for _, s := range k.services {
		for _, d := range s.Destinations {
			if d.Family != s.Family {
				return true
			}
		}
	}
	return false
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

// SetConns sets the connection counters of the destination dest of the
// service key, as the kernel's traffic would (no write counted); false
// when there is no such destination.
func (k *Kernel) SetConns(key table.ServiceKey, dest table.DestKey, active, inactive uint32) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	i := k.find(key)
	if i < 0 {
		return false
	}
	svc := &k.services[i]
	j := slices.IndexFunc(svc.Destinations, func(x table.Destination) bool { return x.Key() == dest })
	if j < 0 {
		return false
	}
	svc.Destinations[j].ActiveConns, svc.Destinations[j].InactConns = active, inactive
	return true
}
