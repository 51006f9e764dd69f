package fake

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"github.com/lvsd/lb/director/table"
)

// IPVS is what the conformance script drives: implemented by *Kernel and by
// the real kernel's *kernel.Handle.
type IPVS interface {
	Services() ([]table.Service, error)
	Service(table.ServiceKey) (table.Service, bool, error)
	Destinations(table.Service) ([]table.Destination, error)
	table.Writer
	Timeouts() (table.Timeouts, error)
	SetTimeouts(table.Timeouts) error
	Daemons() ([]table.Daemon, error)
	StartDaemon(table.Daemon) error
	StopDaemon(table.DaemonState) error
	WriteBatch([]table.Op) []error
}

// Env describes the host of the IPVS under test.
type Env struct {
	// Interface is an existing network interface a sync daemon can use.
	Interface string
	// Local is an IPv4 address of the host (a *Kernel has none: the
	// kernel treats a destination there like any other).
	Local netip.Addr
	// DaemonStarted, if set, waits until a sync daemon just started is
	// running: the real kernel's threads, before the script stops it
	// (stopping one the kernel is still starting hung the testbed's
	// kernel under load). Nil for the fake, which has no threads.
	DaemonStarted func() error
}

// Conform runs the conformance script against k, which must hold an empty
// IPVS table and no sync daemon, and leaves it so. The script is every
// promise of this package's Kernel: the errno of each failing write (and
// which check comes first when several fail), what reads report after
// writes, and that zero timeouts are left unchanged. It runs twice: each
// write with its own call, then the same writes through WriteBatch, the
// consecutive ones in one batch. The returned error lists every step where
// k answered otherwise; nil means k behaves like the script says.
//
// The same script runs against a *Kernel in this package's unit tests and
// against the real kernel in the testbed (director/kernel,
// TestTestbedConformance): where they disagree, the fake is wrong.
func Conform(k IPVS, env Env) error {
	var errs []error
	for _, batched := range []bool{false, true} {
		mode := "one call each"
		if batched {
			mode = "batched"
		}
		steps := script(env)
		for i := 0; i < len(steps); {
			n := 1
			var got []error
			switch {
			case steps[i].check != nil:
				got = []error{steps[i].check(k)}
			case batched:
				for n < len(steps[i:]) && steps[i+n].check == nil {
					n++
				}
				got = k.WriteBatch(opsOf(steps[i : i+n]))
			default:
				got = []error{steps[i].op.Apply(k)}
			}
			if len(got) != n {
				errs = append(errs, fmt.Errorf("%s (%s): %d results for %d writes", steps[i].name, mode, len(got), n))
				got = got[:min(len(got), n)]
			}
			for j, err := range got {
				if st := steps[i+j]; !errors.Is(err, st.want) {
					errs = append(errs, fmt.Errorf("%s (%s): got %v, want %v", st.name, mode, err, errnoText(st.want)))
				}
			}
			i += n
		}
	}
	return errors.Join(errs...)
}

func errnoText(err error) string {
	if err == nil {
		return "success"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return fmt.Sprintf("%s (%v)", errnoName(e), err)
	}
	return err.Error()
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EEXIST:
		return "EEXIST"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.ESRCH:
		return "ESRCH"
	case syscall.EINVAL:
		return "EINVAL"
	case syscall.ERANGE:
		return "ERANGE"
	}
	return fmt.Sprintf("errno %d", int(e))
}

// step is one call of the script: a write (op), or a read or daemon call
// (check), and the error it must satisfy (errors.Is; nil: success).
type step struct {
	name  string
	op    table.Op
	check func(IPVS) error
	want  error
}

func opsOf(steps []step) []table.Op {
	ops := make([]table.Op, len(steps))
	for i, st := range steps {
		ops[i] = st.op
	}
	return ops
}

// fixtures are the script's services and destinations.
type fixtures struct {
	env Env
	// tcp is a plain IPv4 service, v6 an IPv6 one. fwm is a fwmark service
	// given a protocol, address and port: the kernel keeps none of them.
	tcp, v6, fwm table.Service
	// d1, d2, d3 go to tcp, in that order (not sorted by address); tun4
	// is an IPv4 tunnel destination for v6.
	d1, d2, d3, tun4 table.Destination
}

func newFixtures(env Env) fixtures {
	a := netip.MustParseAddr
	return fixtures{
		env: env,
		tcp: table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: a("10.9.0.1"), Port: 80},
			Scheduler: "rr", Netmask: 0xffffffff},
		v6: table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv6, Protocol: table.ProtoUDP, Address: a("2001:db8::1"), Port: 53},
			Scheduler: "wrr", Netmask: 128},
		fwm: table.Service{ServiceKey: table.ServiceKey{FWMark: 7, Family: table.FamilyIPv4, Protocol: table.ProtoUDP, Address: a("10.9.0.7"), Port: 7},
			Scheduler: "sh", Netmask: 0xffffffff},
		d1: table.Destination{Address: a("10.9.1.1"), Port: 80, Forward: table.ForwardRoute, Weight: 1},
		d2: table.Destination{Address: a("10.9.1.3"), Port: 80, Forward: table.ForwardMasq, Weight: 2, UpperThreshold: 50, LowerThreshold: 5},
		d3: table.Destination{Address: a("10.9.1.2"), Port: 80, Forward: table.ForwardTunnel, Weight: 3,
			TunnelType: table.TunnelGUE, TunnelPort: 6080, TunnelFlags: table.TunnelCsum},
		tun4: table.Destination{Address: a("10.9.2.1"), Port: 53, Forward: table.ForwardTunnel, Weight: 1},
	}
}

// vary returns a copy of v changed by f.
func vary[T any](v T, f func(*T)) T { f(&v); return v }

func write(name string, kind table.OpKind, s table.Service, d table.Destination, want error) step {
	return step{name: name, op: table.Op{Kind: kind, Service: s, Dest: d}, want: want}
}

func check(name string, f func(IPVS) error) step { return step{name: name, check: f} }

func script(env Env) []step {
	f := newFixtures(env)
	return slices.Concat(f.missingSteps(), f.serviceSteps(), f.destSteps(), f.daemonSteps(), f.cleanupSteps())
}

// missingSteps: on an empty table every write but a service create finds
// no service (ESRCH), whatever else is wrong with it.
func (f fixtures) missingSteps() []step {
	badSched := vary(f.tcp, func(s *table.Service) { s.Scheduler = "nosuchsched" })
	badRange := vary(f.d1, func(d *table.Destination) { d.LowerThreshold = 5 })
	return []step{
		write("update of a missing service", table.OpUpdateService, f.tcp, table.Destination{}, syscall.ESRCH),
		write("update of a missing service, unknown scheduler", table.OpUpdateService, badSched, table.Destination{}, syscall.ESRCH),
		write("remove of a missing service", table.OpRemoveService, f.tcp, table.Destination{}, syscall.ESRCH),
		write("destination create in a missing service", table.OpCreateDest, f.tcp, f.d1, syscall.ESRCH),
		write("destination create in a missing service, lower threshold above upper", table.OpCreateDest, f.tcp, badRange, syscall.ESRCH),
		write("destination update in a missing service", table.OpUpdateDest, f.tcp, f.d1, syscall.ESRCH),
		write("destination remove in a missing service", table.OpRemoveDest, f.tcp, f.d1, syscall.ESRCH),
		check("destinations of a missing service", func(k IPVS) error { return wantDests(k, f.tcp) }),
		check("lookup of a missing service: not found, no error", func(k IPVS) error { return wantNoService(k, f.tcp.ServiceKey) }),
	}
}

// serviceSteps: duplicates (EEXIST before the scheduler is looked up),
// unknown schedulers (ENOENT), the hashed flag, the IPv6 prefix length
// Handle sends for an invalid one, fwmark keys, timeouts.
func (f fixtures) serviceSteps() []step {
	badSched := vary(f.tcp, func(s *table.Service) { s.Scheduler = "nosuchsched" })
	other := vary(badSched, func(s *table.Service) { s.Port = 81 })
	persist := vary(f.tcp, func(s *table.Service) { s.Flags, s.Timeout, s.Netmask = table.FlagPersistent, 120, 0xffffff00 })
	v6zero := vary(f.v6, func(s *table.Service) { s.Netmask = 0 })
	v6p64 := vary(f.v6, func(s *table.Service) { s.Netmask = 64 })
	fwmTCP := vary(f.fwm, func(s *table.Service) { s.Protocol, s.Scheduler = table.ProtoTCP, "rr" })
	fwmKey := table.ServiceKey{FWMark: f.fwm.FWMark, Family: f.fwm.Family}
	zeronet := vary(f.tcp, func(s *table.Service) { s.Address = netip.MustParseAddr("0.1.0.0") })
	return []step{
		write("service create", table.OpCreateService, f.tcp, table.Destination{}, nil),
		write("service create twice", table.OpCreateService, f.tcp, table.Destination{}, syscall.EEXIST),
		write("service create twice, unknown scheduler", table.OpCreateService, badSched, table.Destination{}, syscall.EEXIST),
		write("service create, unknown scheduler", table.OpCreateService, other, table.Destination{}, syscall.ENOENT),
		write("service update, unknown scheduler", table.OpUpdateService, badSched, table.Destination{}, syscall.ENOENT),
		write("service update", table.OpUpdateService, persist, table.Destination{}, nil),
		check("service reported with the hashed flag", func(k IPVS) error {
			return wantService(k, persist.ServiceKey, withHashed(persist))
		}),
		write("IPv6 service create, prefix length 0", table.OpCreateService, v6zero, table.Destination{}, nil),
		check("IPv6 prefix length 0 sent as 128", func(k IPVS) error { return wantService(k, f.v6.ServiceKey, withHashed(f.v6)) }),
		write("IPv6 service update, prefix length 64", table.OpUpdateService, v6p64, table.Destination{}, nil),
		check("IPv6 prefix length 64", func(k IPVS) error { return wantService(k, f.v6.ServiceKey, withHashed(v6p64)) }),
		write("fwmark service create", table.OpCreateService, f.fwm, table.Destination{}, nil),
		write("fwmark service create twice, other protocol", table.OpCreateService, fwmTCP, table.Destination{}, syscall.EEXIST),
		check("fwmark service reported without protocol, address or port", func(k IPVS) error {
			return wantService(k, fwmKey, vary(withHashed(f.fwm), func(s *table.Service) { s.ServiceKey = fwmKey }))
		}),
		check("zero timeouts left unchanged", zeroTimeoutsUnchanged),
		write("service create, address in 0.0.0.0/8 (the kernel checks no service address)", table.OpCreateService, zeronet, table.Destination{}, nil),
		write("service remove, address in 0.0.0.0/8", table.OpRemoveService, zeronet, table.Destination{}, nil),
	}
}

// destSteps: the checks of a destination create or update (ERANGE,
// EINVAL) before its lookup (EEXIST, ENOENT), address and family checks,
// the newest destination listed first, a local address reported with the
// method it was given.
func (f fixtures) destSteps() []step {
	d := func(change func(*table.Destination)) table.Destination { return vary(f.d1, change) }
	badRange := d(func(d *table.Destination) { d.LowerThreshold = 5 })
	d2w := vary(f.d2, func(d *table.Destination) { d.Weight = 9 })
	local := table.Destination{Address: f.env.Local, Port: 80, Forward: table.ForwardRoute, Weight: 1}
	zeronet := d(func(d *table.Destination) { d.Address = netip.MustParseAddr("0.1.0.0") })
	return []step{
		write("destination create", table.OpCreateDest, f.tcp, f.d1, nil),
		write("destination create twice", table.OpCreateDest, f.tcp, f.d1, syscall.EEXIST),
		write("destination create twice, IPv4-mapped", table.OpCreateDest, f.tcp, d(func(d *table.Destination) { d.Address = netip.AddrFrom16(d.Address.As16()) }), syscall.EEXIST),
		write("destination create twice, lower threshold above upper", table.OpCreateDest, f.tcp, badRange, syscall.ERANGE),
		write("destination create, lower threshold above upper", table.OpCreateDest, f.tcp, vary(badRange, func(d *table.Destination) { d.Port = 81 }), syscall.ERANGE),
		write("destination create, weight above 2^31-1", table.OpCreateDest, f.tcp, d(func(d *table.Destination) { d.Port, d.Weight = 82, 1<<31 }), syscall.ERANGE),
		write("destination create, GUE tunnel without port", table.OpCreateDest, f.tcp, d(func(d *table.Destination) {
			d.Port, d.Forward, d.TunnelType = 83, table.ForwardTunnel, table.TunnelGUE
		}), syscall.EINVAL),
		write("destination create, direct routing with GUE and no port", table.OpCreateDest, f.tcp, d(func(d *table.Destination) {
			d.Port, d.TunnelType = 84, table.TunnelGUE
		}), syscall.EINVAL),
		write("destination create, multicast address", table.OpCreateDest, f.tcp, d(func(d *table.Destination) { d.Address = netip.MustParseAddr("224.0.0.1") }), syscall.EINVAL),
		write("destination create, unspecified address", table.OpCreateDest, f.tcp, d(func(d *table.Destination) { d.Address = netip.IPv4Unspecified() }), syscall.EINVAL),
		write("destination create, limited broadcast address", table.OpCreateDest, f.tcp, d(func(d *table.Destination) { d.Address = netip.AddrFrom4([4]byte{255, 255, 255, 255}) }), syscall.EINVAL),
		// Since Linux 5.3 only 0.0.0.0 of 0.0.0.0/8 is refused (lbd check
		// refuses the whole block, internal/config).
		write("destination create, other address in 0.0.0.0/8", table.OpCreateDest, f.tcp, zeronet, nil),
		write("destination remove, other address in 0.0.0.0/8", table.OpRemoveDest, f.tcp, zeronet, nil),
		write("destination create, IPv6 link-local address", table.OpCreateDest, f.v6, d(func(d *table.Destination) { d.Address = netip.MustParseAddr("fe80::1") }), syscall.EINVAL),
		write("destination create, IPv4 in IPv6 service, direct routing", table.OpCreateDest, f.v6, vary(f.tun4, func(d *table.Destination) { d.Forward = table.ForwardRoute }), syscall.EINVAL),
		write("destination create, IPv4 in IPv6 service, tunnel", table.OpCreateDest, f.v6, f.tun4, nil),
		write("destination update, missing", table.OpUpdateDest, f.tcp, f.d2, syscall.ENOENT),
		write("destination update, missing, lower threshold above upper", table.OpUpdateDest, f.tcp, vary(f.d2, func(d *table.Destination) { d.LowerThreshold = 51 }), syscall.ERANGE),
		write("destination remove, missing", table.OpRemoveDest, f.tcp, f.d2, syscall.ENOENT),
		write("destination create, second", table.OpCreateDest, f.tcp, f.d2, nil),
		write("destination create, third", table.OpCreateDest, f.tcp, f.d3, nil),
		write("destination update", table.OpUpdateDest, f.tcp, d2w, nil),
		check("destinations reported newest first", func(k IPVS) error { return wantDests(k, f.tcp, f.d3, d2w, f.d1) }),
		write("destination remove", table.OpRemoveDest, f.tcp, f.d1, nil),
		write("destination remove twice", table.OpRemoveDest, f.tcp, f.d1, syscall.ENOENT),
		write("destination create, local address", table.OpCreateDest, f.fwm, local, nil),
		check("destination on a local address reported with its method", func(k IPVS) error { return wantDests(k, f.fwm, local) }),
	}
}

// daemonSteps: one sync daemon per role (EEXIST, ESRCH), and no
// mixed-family destination and sync daemon together (EINVAL), whichever
// comes second.
func (f fixtures) daemonSteps() []step {
	master := table.Daemon{State: table.DaemonMaster, Interface: f.env.Interface, SyncID: 51}
	start := func(k IPVS) error { return k.StartDaemon(master) }
	tun := vary(f.tun4, func(d *table.Destination) { d.Address = netip.MustParseAddr("10.9.2.2") })
	return []step{
		{name: "stop of a sync daemon not running", check: func(k IPVS) error { return k.StopDaemon(table.DaemonMaster) }, want: syscall.ESRCH},
		{name: "sync daemon start, a mixed-family destination exists", check: start, want: syscall.EINVAL},
		write("destination remove, IPv4 in IPv6 service", table.OpRemoveDest, f.v6, f.tun4, nil),
		{name: "sync daemon start", check: start},
		check("sync daemon running", func(IPVS) error {
			if f.env.DaemonStarted == nil {
				return nil
			}
			return f.env.DaemonStarted()
		}),
		{name: "sync daemon start twice", check: start, want: syscall.EEXIST},
		check("sync daemon listed", func(k IPVS) error { return wantDaemons(k, master) }),
		write("destination create, IPv4 in IPv6 service, tunnel, sync daemon running", table.OpCreateDest, f.v6, tun, syscall.EINVAL),
		{name: "sync daemon stop", check: func(k IPVS) error { return k.StopDaemon(table.DaemonMaster) }},
		{name: "sync daemon stop twice", check: func(k IPVS) error { return k.StopDaemon(table.DaemonMaster) }, want: syscall.ESRCH},
		check("no sync daemon listed", func(k IPVS) error { return wantDaemons(k) }),
	}
}

// cleanupSteps: removing a service removes its destinations.
func (f fixtures) cleanupSteps() []step {
	return []step{
		write("service remove", table.OpRemoveService, f.tcp, table.Destination{}, nil),
		write("service remove twice", table.OpRemoveService, f.tcp, table.Destination{}, syscall.ESRCH),
		write("destination remove in a removed service", table.OpRemoveDest, f.tcp, f.d2, syscall.ESRCH),
		write("IPv6 service remove", table.OpRemoveService, f.v6, table.Destination{}, nil),
		write("fwmark service remove", table.OpRemoveService, f.fwm, table.Destination{}, nil),
		check("lookup of a removed service: not found", func(k IPVS) error { return wantNoService(k, f.fwm.ServiceKey) }),
		check("empty table", func(k IPVS) error {
			if ss, err := k.Services(); err != nil || len(ss) != 0 {
				return fmt.Errorf("services %v, %v", ss, err)
			}
			return nil
		}),
	}
}

func withHashed(s table.Service) table.Service {
	s.Flags |= table.FlagHashed
	return s
}

// wantService checks the attributes of the service with key, as Services
// reports it and as Service looks it up (counters aside).
func wantService(k IPVS, key table.ServiceKey, want table.Service) error {
	one, found, err := k.Service(key)
	if err != nil || !found {
		return fmt.Errorf("lookup of service %s: found %v, %v", key, found, err)
	}
	one.Stats = table.Stats{}
	if !servicesEqual(one, want) {
		return fmt.Errorf("service looked up %+v, want %+v", one, want)
	}
	ss, err := k.Services()
	if err != nil {
		return err
	}
	for _, s := range ss {
		if s.Key() != key.Normalize() {
			continue
		}
		s.Stats = table.Stats{}
		if !servicesEqual(s, want) {
			return fmt.Errorf("service %+v, want %+v", s, want)
		}
		return nil
	}
	return fmt.Errorf("service %s not listed in %v", key, ss)
}

// wantNoService checks that looking key up finds nothing, without error.
func wantNoService(k IPVS, key table.ServiceKey) error {
	if s, found, err := k.Service(key); found || err != nil {
		return fmt.Errorf("lookup of service %s: %+v, found %v, %v; want not found", key, s, found, err)
	}
	return nil
}

func servicesEqual(a, b table.Service) bool {
	return a.ServiceKey == b.ServiceKey && a.Scheduler == b.Scheduler && a.Flags == b.Flags &&
		a.Timeout == b.Timeout && a.Netmask == b.Netmask && len(a.Destinations) == 0 && len(b.Destinations) == 0
}

// wantDests checks the destinations of s, in order, as Destinations
// reports them (counters aside, Family filled in).
func wantDests(k IPVS, s table.Service, want ...table.Destination) error {
	ds, err := k.Destinations(s)
	if err != nil {
		return err
	}
	got := make([]table.Destination, len(ds))
	for i, d := range ds {
		d.ActiveConns, d.InactConns, d.PersistConns, d.Stats = 0, 0, 0, table.Stats{}
		got[i] = d
	}
	for i := range want {
		want[i].Family = table.FamilyOf(want[i].Address)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("destinations of %s %s, want %s", s.Key(), destsText(got), destsText(want))
	}
	return nil
}

func destsText(ds []table.Destination) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%s %s %v w%d th%d-%d %v:%d %v", d.Key(), d.Family, d.Forward, d.Weight,
			d.LowerThreshold, d.UpperThreshold, d.TunnelType, d.TunnelPort, d.TunnelFlags)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func wantDaemons(k IPVS, want ...table.Daemon) error {
	ds, err := k.Daemons()
	if err != nil {
		return err
	}
	// The kernel reports the defaults of what was not set.
	got := make([]table.Daemon, len(ds))
	for i, d := range ds {
		got[i] = table.Daemon{State: d.State, Interface: d.Interface, SyncID: d.SyncID}
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("sync daemons %+v, want %+v", ds, want)
	}
	return nil
}

// zeroTimeoutsUnchanged sets the TCP timeout alone, checks the others kept
// their values, and restores it.
func zeroTimeoutsUnchanged(k IPVS) error {
	t0, err := k.Timeouts()
	if err != nil {
		return err
	}
	if err := k.SetTimeouts(table.Timeouts{TCP: t0.TCP + 7}); err != nil {
		return err
	}
	t1, err := k.Timeouts()
	if err := errors.Join(err, k.SetTimeouts(t0)); err != nil {
		return err
	}
	if want := (table.Timeouts{TCP: t0.TCP + 7, TCPFin: t0.TCPFin, UDP: t0.UDP}); t1 != want {
		return fmt.Errorf("timeouts %+v after setting TCP alone, want %+v", t1, want)
	}
	return nil
}
