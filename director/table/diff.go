package table

import (
	"fmt"
	"slices"
	"strings"
)

// OpKind is the kind of a table operation.
type OpKind uint8

// Operation kinds, each one netlink write.
const (
	OpCreateService OpKind = iota + 1
	OpUpdateService
	OpRemoveService
	OpCreateDest
	OpUpdateDest
	OpRemoveDest
)

var opNames = [...]string{"", "create-service", "update-service", "remove-service", "create-destination", "update-destination", "remove-destination"}

// String names the kind, e.g. "update-destination".
func (k OpKind) String() string {
	if int(k) < len(opNames) && k != 0 {
		return opNames[k]
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k OpKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Op is one write to the IPVS table.
type Op struct {
	Kind OpKind `json:"kind"`
	// Service is the service written (create/update: its desired attributes;
	// remove: the service as found), or the service of a destination op.
	// Its Destinations are always nil.
	Service Service `json:"service"`
	// Dest is the destination of a destination op.
	Dest Destination `json:"dest,omitzero"`
	// Changes lists what an update changes, e.g. "weight 1 -> 0".
	Changes []string `json:"changes,omitempty"`
}

// IsServiceOp reports whether o writes a service (not a destination).
func (o Op) IsServiceOp() bool {
	return o.Kind == OpCreateService || o.Kind == OpUpdateService || o.Kind == OpRemoveService
}

// String renders o as the ipvsadm command that would make the same change,
// with what an update changes in parentheses, e.g.
// "-e -t 10.0.0.1:80 -r 10.0.0.11:80 -g -w 0 (weight 1 -> 0)".
func (o Op) String() string {
	var b strings.Builder
	svc := ruleServiceName(o.Service, FormatNumeric, nil)
	switch o.Kind {
	case OpCreateService, OpUpdateService:
		if o.Kind == OpCreateService {
			b.WriteString("-A ")
		} else {
			b.WriteString("-E ")
		}
		b.WriteString(svc)
		writeRuleServiceOptions(&b, o.Service)
	case OpRemoveService:
		b.WriteString("-D " + svc)
	case OpCreateDest, OpUpdateDest:
		if o.Kind == OpCreateDest {
			b.WriteString("-a ")
		} else {
			b.WriteString("-e ")
		}
		writeRuleDest(&b, svc, o.Dest, o.Service.Protocol, FormatNumeric, nil)
	case OpRemoveDest:
		fmt.Fprintf(&b, "-d %s -r %s", svc, addrPortName(o.Dest.AddrFamily(), o.Dest.Address, o.Dest.Port, o.Service.Protocol, FormatNumeric, nil))
	default:
		return o.Kind.String()
	}
	if len(o.Changes) > 0 {
		b.WriteString(" (" + strings.Join(o.Changes, ", ") + ")")
	}
	return b.String()
}

// DiffOptions tune Diff.
type DiffOptions struct {
	// Purge removes every service of the actual table that the desired table
	// lacks. Without it only services for which Managed returns true are.
	Purge bool
	// Managed reports whether a service not in the desired table is ours to
	// remove (for instance: it was in the previous configuration). Nil means
	// none is.
	Managed func(ServiceKey) bool
	// KernelOrder says actual lists each service's destinations in the
	// kernel's order (its netlink dump order, the order of the service's
	// list: newest first), as read from the kernel. Diff then keeps the
	// destinations of an order-sensitive service (OrderSensitive) in the
	// deterministic order: see ReorderDests.
	KernelOrder bool
}

// Diff returns the writes that turn actual into desired, in order: services
// in key order; for each, the service create or update before its
// destinations' updates, then creates, then removals (so a service never
// loses its last server while a replacement is being added). Removing a
// service removes its destinations with it, in one write. Services of actual
// that desired lacks are removed only when opts allow it; the destinations of
// a service in desired are fully ours (hand-added ones are removed).
//
// Attributes the kernel reports its own way are normalized: the hashed flag,
// the persistence timeout and netmask of a non-persistent service, tunnel
// fields of a non-tunnel destination, and a destination the kernel reports as
// Local (its address is on the director) whatever method was asked. Equal
// tables therefore yield no ops.
func Diff(desired, actual Table, opts DiffOptions) []Op {
	des := indexServices(desired)
	act := indexServices(actual)
	keys := make([]ServiceKey, 0, len(des)+len(act))
	for k := range des {
		keys = append(keys, k)
	}
	for k := range act {
		if _, ok := des[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, ServiceKey.Compare)

	var ops []Op
	for _, k := range keys {
		d, inD := des[k]
		a, inA := act[k]
		switch {
		case inD && !inA:
			ops = append(ops, Op{Kind: OpCreateService, Service: d.WithoutDestinations()})
			for _, dst := range sortedDests(d.Destinations) {
				ops = append(ops, Op{Kind: OpCreateDest, Service: d.WithoutDestinations(), Dest: dst})
			}
		case inD && inA:
			if ch := ServiceChanges(d, a); len(ch) > 0 {
				ops = append(ops, Op{Kind: OpUpdateService, Service: d.WithoutDestinations(), Changes: ch})
			}
			var redo map[DestKey]bool
			if opts.KernelOrder && OrderSensitive(d.Scheduler) {
				redo = ReorderDests(d.Destinations, a.Destinations)
			}
			ops = append(ops, diffDests(d.WithoutDestinations(), d.Destinations, a.Destinations, redo)...)
		case inA:
			if opts.Purge || (opts.Managed != nil && opts.Managed(k)) {
				ops = append(ops, Op{Kind: OpRemoveService, Service: a.WithoutDestinations()})
			}
		}
	}
	return ops
}

func indexServices(t Table) map[ServiceKey]Service {
	m := make(map[ServiceKey]Service, len(t.Services))
	for _, s := range t.Services {
		k := s.Key()
		s.ServiceKey = k
		m[k] = s
	}
	return m
}

// sortedDests returns ds in key order: ds itself when already sorted (it
// is then not modified by the caller), else a sorted copy: reversed when
// ds is in reverse order, as the kernel lists destinations added in key
// order (newest first).
func sortedDests(ds []Destination) []Destination {
	cmpKeys := func(a, b Destination) int { return a.Key().Compare(b.Key()) }
	if slices.IsSortedFunc(ds, cmpKeys) {
		return ds
	}
	out := slices.Clone(ds)
	if slices.IsSortedFunc(ds, func(a, b Destination) int { return cmpKeys(b, a) }) {
		slices.Reverse(out)
	} else {
		slices.SortFunc(out, cmpKeys)
	}
	return out
}

// diffDests walks the two destination lists in key order side by side (no
// map: this is most of a full diff's work, once per service). A kept
// destination in redo is removed and created again, just before it would be
// created (so all creates stay in key order and every other server stays).
func diffDests(svc Service, desired, actual []Destination, redo map[DestKey]bool) []Op {
	des, act := sortedDests(desired), sortedDests(actual)
	var updates, creates, removes []Op
	i, j := 0, 0
	for i < len(des) || j < len(act) {
		c := 1
		switch {
		case j == len(act):
			c = -1
		case i < len(des):
			c = des[i].Key().Compare(act[j].Key())
		}
		switch {
		case c < 0:
			creates = append(creates, Op{Kind: OpCreateDest, Service: svc, Dest: des[i]})
			i = nextKey(des, i)
		case c > 0:
			removes = append(removes, Op{Kind: OpRemoveDest, Service: svc, Dest: act[j]})
			j = nextKey(act, j)
		case redo[des[i].Key()]:
			creates = append(creates, Op{Kind: OpRemoveDest, Service: svc, Dest: act[j], Changes: []string{reorderNote}},
				Op{Kind: OpCreateDest, Service: svc, Dest: des[i], Changes: []string{reorderNote}})
			i, j = nextKey(des, i), nextKey(act, j)
		default:
			if ch := DestChanges(des[i], act[j]); len(ch) > 0 {
				updates = append(updates, Op{Kind: OpUpdateDest, Service: svc, Dest: des[i], Changes: ch})
			}
			i, j = nextKey(des, i), nextKey(act, j)
		}
	}
	ops := append(updates, creates...)
	return append(ops, removes...)
}

// nextKey returns the index of the first destination of sorted ds after i
// with another key: of duplicates, the first one wins.
func nextKey(ds []Destination, i int) int {
	k := ds[i].Key()
	for i++; i < len(ds) && ds[i].Key() == k; i++ {
	}
	return i
}

// ServiceChanges lists how the attributes of desired differ from actual
// ("scheduler wlc -> rr", ...), ignoring what the kernel reports its own way.
// Keys and destinations are not compared.
func ServiceChanges(desired, actual Service) []string {
	var ch []string
	if desired.Scheduler != actual.Scheduler {
		ch = append(ch, fmt.Sprintf("scheduler %s -> %s", actual.Scheduler, desired.Scheduler))
	}
	df, af := desired.Flags&FlagsManaged, actual.Flags&FlagsManaged
	if df != af {
		ch = append(ch, fmt.Sprintf("flags %s -> %s", af, df))
	}
	if df&FlagPersistent != 0 && af&FlagPersistent != 0 {
		if desired.Timeout != actual.Timeout {
			ch = append(ch, fmt.Sprintf("persistent %d -> %d", actual.Timeout, desired.Timeout))
		}
		if desired.Netmask != actual.Netmask {
			ch = append(ch, fmt.Sprintf("mask %s -> %s", netmaskString(actual.Family, actual.Netmask), netmaskString(desired.Family, desired.Netmask)))
		}
	} else if df&FlagPersistent != 0 {
		ch = append(ch, fmt.Sprintf("persistent %d mask %s", desired.Timeout, netmaskString(desired.Family, desired.Netmask)))
	}
	return ch
}

// DestChanges lists how desired differs from actual ("weight 1 -> 0", ...),
// ignoring what the kernel reports its own way.
func DestChanges(desired, actual Destination) []string {
	var ch []string
	if desired.Forward != actual.Forward && actual.Forward != ForwardLocal {
		ch = append(ch, fmt.Sprintf("forward %s -> %s", actual.Forward, desired.Forward))
	}
	if desired.Weight != actual.Weight {
		ch = append(ch, fmt.Sprintf("weight %d -> %d", actual.Weight, desired.Weight))
	}
	if desired.UpperThreshold != actual.UpperThreshold {
		ch = append(ch, fmt.Sprintf("upper threshold %d -> %d", actual.UpperThreshold, desired.UpperThreshold))
	}
	if desired.LowerThreshold != actual.LowerThreshold {
		ch = append(ch, fmt.Sprintf("lower threshold %d -> %d", actual.LowerThreshold, desired.LowerThreshold))
	}
	if desired.Forward == ForwardTunnel && (actual.Forward == ForwardTunnel || actual.Forward == ForwardLocal) {
		if desired.TunnelType != actual.TunnelType {
			ch = append(ch, fmt.Sprintf("tunnel type %s -> %s", actual.TunnelType, desired.TunnelType))
		}
		if desired.TunnelPort != actual.TunnelPort {
			ch = append(ch, fmt.Sprintf("tunnel port %d -> %d", actual.TunnelPort, desired.TunnelPort))
		}
		if desired.TunnelFlags != actual.TunnelFlags {
			ch = append(ch, fmt.Sprintf("tunnel flags %s -> %s", actual.TunnelFlags, desired.TunnelFlags))
		}
	}
	return ch
}

func netmaskString(f Family, m uint32) string {
	if f == FamilyIPv6 {
		return fmt.Sprintf("%d", m)
	}
	return ipv4String(m)
}

func ipv4String(m uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}
