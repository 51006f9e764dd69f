package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/lvsd/lb/internal/sysctl"
)

// ActionKind is one kind of kernel change.
type ActionKind int

// Kernel changes, in the order a plan makes them.
const (
	// ActEnsureTunnel makes a missing tunnel device exist: modprobe the
	// module that brings its fallback device, else create it over netlink.
	ActEnsureTunnel ActionKind = iota + 1
	ActLinkUp
	ActWriteSysctl
	ActDelAddr
	ActAddAddr
	ActLinkDown
	ActDeleteLink
)

var actionNames = map[ActionKind]string{
	ActEnsureTunnel: "ensure-tunnel", ActLinkUp: "link-up", ActWriteSysctl: "write-sysctl",
	ActDelAddr: "del-addr", ActAddAddr: "add-addr", ActLinkDown: "link-down", ActDeleteLink: "delete-link",
}

// String names the kind.
func (k ActionKind) String() string {
	if s, ok := actionNames[k]; ok {
		return s
	}
	return fmt.Sprintf("action(%d)", int(k))
}

// Action is one planned kernel change, with what was expected and what was
// found (for the log).
type Action struct {
	Kind  ActionKind
	Link  string  // device (links, addresses)
	IPv6  bool    // ActEnsureTunnel: an ip6tnl device
	Addr  Address // ActAddAddr, ActDelAddr
	Key   string  // ActWriteSysctl
	Value string  // ActWriteSysctl
	// Expected and Found describe the drift this action repairs.
	Expected, Found string
}

// What names the object the action changes.
func (a Action) What() string {
	switch a.Kind {
	case ActWriteSysctl:
		return "sysctl " + sysctl.Name(a.Key)
	case ActAddAddr, ActDelAddr:
		return "address " + a.Addr.String()
	default:
		return "link " + a.Link
	}
}

// String prints the action for humans.
func (a Action) String() string {
	return fmt.Sprintf("%s %s (expected %s, found %s)", a.Kind, a.What(), a.Expected, a.Found)
}

// planLinks is the first phase: the devices the VIPs live on must exist and
// be up. It records each device's original state the first time it is seen.
// A missing device that is not a tunnel is an error.
func planLinks(d desiredState, obs observed, st State) ([]Action, State, error) {
	next := st.clone()
	var acts []Action
	var errs []error
	for _, l := range d.Links {
		info, ok := obs.Links[l.Name]
		if !ok {
			if !l.Tunnel {
				errs = append(errs, fmt.Errorf("device %s does not exist", l.Name))
				continue
			}
			acts = append(acts, Action{Kind: ActEnsureTunnel, Link: l.Name, IPv6: l.IPv6, Expected: "present, up", Found: "missing"})
			continue
		}
		if _, seen := next.Links[l.Name]; !seen {
			next.setLink(l.Name, LinkRecord{WasUp: info.Up})
		}
		if !info.Up {
			acts = append(acts, Action{Kind: ActLinkUp, Link: l.Name, Expected: "up", Found: "down"})
		}
	}
	return acts, next, errors.Join(errs...)
}

// plan is the second phase (devices in place): sysctls and addresses, and
// the undoing of whatever the state records that the spec no longer wants.
// Sysctls are written before any VIP is added, so the node never holds a VIP
// while it would still answer ARP for it.
func plan(d desiredState, obs observed, st State) ([]Action, State, error) {
	next := st.clone()
	var acts []Action

	// Desired sysctls: remember the original, then write if it differs.
	wantKey := map[string]bool{}
	for _, s := range d.Sysctls {
		wantKey[s.Key] = true
		cur, ok := obs.Sysctls[s.Key]
		if !ok {
			return nil, st, fmt.Errorf("sysctl %s cannot be read (does its device exist?)", sysctl.Name(s.Key))
		}
		if _, seen := next.Sysctls[s.Key]; !seen {
			next.setSysctl(s.Key, cur)
		}
		if cur != s.Value {
			acts = append(acts, Action{Kind: ActWriteSysctl, Key: s.Key, Value: s.Value, Expected: s.Value, Found: cur})
		}
	}

	// Addresses the state manages but the spec dropped: remove ours.
	wantAddr := map[addrKey]bool{}
	for _, a := range d.Addrs {
		wantAddr[addrKey{a.Link, a.Prefix.Addr()}] = true
	}
	kept := next.Addresses[:0:0]
	for _, r := range next.Addresses {
		if wantAddr[addrKey{r.Link, r.Prefix.Addr()}] {
			kept = append(kept, r)
			continue
		}
		if r.Preexisting {
			continue
		}
		if m, ok := findExactIP(obs.Addrs[r.Link], r.Prefix); ok {
			acts = append(acts, Action{Kind: ActDelAddr, Link: r.Link, Addr: m, Expected: "absent (no longer configured)", Found: "present"})
		}
	}
	next.Addresses = kept

	// Desired addresses.
	for _, a := range d.Addrs {
		matches := matchIP(obs.Addrs[a.Link], a.Prefix.Addr())
		exact := slices.ContainsFunc(matches, func(m Address) bool { return sameShape(m, a) })
		rec, idx := next.addr(a.Link, a.Prefix.Addr())
		if idx < 0 {
			rec = AddrRecord{Link: a.Link, Prefix: a.Prefix, Label: a.Label, Preexisting: len(matches) > 0}
			next.Addresses = append(next.Addresses, rec)
			idx = len(next.Addresses) - 1
		}
		if !rec.Preexisting {
			next.Addresses[idx].Prefix, next.Addresses[idx].Label = a.Prefix, a.Label
		}
		switch {
		case exact:
		case len(matches) > 0 && rec.Preexisting:
			// Someone else's address: left as found.
		case len(matches) > 0:
			for _, m := range matches {
				acts = append(acts, Action{Kind: ActDelAddr, Link: a.Link, Addr: m, Expected: describeAddr(a), Found: describeAddr(m)})
			}
			acts = append(acts, Action{Kind: ActAddAddr, Link: a.Link, Addr: a, Expected: describeAddr(a), Found: describeAddr(matches[0])})
		default:
			acts = append(acts, Action{Kind: ActAddAddr, Link: a.Link, Addr: a, Expected: describeAddr(a), Found: "absent"})
		}
	}

	// Sysctls the spec dropped: put the original back.
	for _, key := range sortedKeys(next.Sysctls) {
		if wantKey[key] {
			continue
		}
		orig := next.Sysctls[key]
		delete(next.Sysctls, key)
		if cur, ok := obs.Sysctls[key]; ok && cur != orig {
			acts = append(acts, Action{Kind: ActWriteSysctl, Key: key, Value: orig, Expected: orig + " (original, no longer configured)", Found: cur})
		}
	}

	// Devices the spec dropped.
	wantLink := map[string]bool{}
	for _, l := range d.Links {
		wantLink[l.Name] = true
	}
	for _, name := range sortedKeys(next.Links) {
		if wantLink[name] {
			continue
		}
		acts = append(acts, undoLink(name, next.Links[name], obs)...)
		delete(next.Links, name)
	}
	return acts, next, nil
}

// planRestore plans putting back everything the state records, addresses
// first (so no VIP is held while ARP is relaxed again), then sysctls, then
// devices. The returned state keeps only the records that still need an
// action: the executor drops each one as its action succeeds.
func planRestore(st State, obs observed) ([]Action, State) {
	rest := State{Version: stateVersion}
	var acts []Action
	for _, r := range st.Addresses {
		if r.Preexisting {
			continue
		}
		if m, ok := findExactIP(obs.Addrs[r.Link], r.Prefix); ok {
			acts = append(acts, Action{Kind: ActDelAddr, Link: r.Link, Addr: m, Expected: "absent (added by lbrs)", Found: "present"})
			rest.Addresses = append(rest.Addresses, r)
		}
	}
	for _, key := range sortedKeys(st.Sysctls) {
		orig := st.Sysctls[key]
		if cur, ok := obs.Sysctls[key]; ok && cur != orig {
			acts = append(acts, Action{Kind: ActWriteSysctl, Key: key, Value: orig, Expected: orig + " (original)", Found: cur})
			rest.setSysctl(key, orig)
		}
	}
	for _, name := range sortedKeys(st.Links) {
		if a := undoLink(name, st.Links[name], obs); len(a) > 0 {
			acts = append(acts, a...)
			rest.setLink(name, st.Links[name])
		}
	}
	return acts, rest
}

func undoLink(name string, r LinkRecord, obs observed) []Action {
	info, ok := obs.Links[name]
	switch {
	case !ok:
		return nil
	case r.Created:
		return []Action{{Kind: ActDeleteLink, Link: name, Expected: "absent (created by lbrs)", Found: "present"}}
	case !r.WasUp && info.Up:
		return []Action{{Kind: ActLinkDown, Link: name, Expected: "down (original)", Found: "up"}}
	}
	return nil
}

// forget drops from st the record an action (which succeeded) undid.
func (s *State) forget(a Action) {
	switch a.Kind {
	case ActDelAddr:
		if _, i := s.addr(a.Link, a.Addr.Prefix.Addr()); i >= 0 {
			s.Addresses = slices.Delete(s.Addresses, i, i+1)
		}
	case ActWriteSysctl:
		delete(s.Sysctls, a.Key)
	case ActLinkDown, ActDeleteLink:
		delete(s.Links, a.Link)
	}
}

type addrKey struct {
	link string
	ip   netip.Addr
}

func matchIP(addrs []Address, ip netip.Addr) []Address {
	var out []Address
	for _, a := range addrs {
		if a.Prefix.Addr() == ip {
			out = append(out, a)
		}
	}
	return out
}

func findExactIP(addrs []Address, p netip.Prefix) (Address, bool) {
	for _, a := range addrs {
		if a.Prefix == p {
			return a, true
		}
	}
	return Address{}, false
}

// sameShape reports whether the observed address m is exactly the wanted
// a: same prefix length and, for IPv4, same label (the kernel reports the
// device name as the label of an unlabelled address).
func sameShape(m, a Address) bool {
	if m.Prefix != a.Prefix {
		return false
	}
	if !a.Prefix.Addr().Is4() {
		return true
	}
	want := a.Label
	if want == "" {
		want = a.Link
	}
	return m.Label == want
}

func describeAddr(a Address) string {
	s := a.Prefix.String()
	if a.Prefix.Addr().Is4() {
		l := a.Label
		if l == "" {
			l = a.Link
		}
		s += " label " + l
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ErrRefused marks an apply refused because a VIP is one of the node's own
// primary addresses: the configuration must change.
var ErrRefused = errors.New("refusing VIP")

// conflicts checks the VIPs against the node's own addresses. A VIP that is
// the primary address of another device is refused: it is this node's own
// identity on the network, not a director's virtual address. A VIP held as a
// secondary address elsewhere is allowed but warned about.
func conflicts(s Spec, all []Address) (refused []error, warnings []string) {
	skip := map[string]bool{"lo": true, s.Interface: true, s.Interface6: true}
	for _, v := range s.VIPs {
		for _, a := range all {
			if skip[a.Link] || a.HostScope || a.Prefix.Addr() != v {
				continue
			}
			if a.Secondary {
				warnings = append(warnings, fmt.Sprintf("VIP %s is also a secondary address on %s: with the VIP on a real interface this node can answer ARP/ND for it there and steal the director's traffic; remove it from %s unless that is intended", v, a.Link, a.Link))
				continue
			}
			refused = append(refused, fmt.Errorf("%w %s: it is this node's own primary address on %s. "+
				"A VIP is the director's virtual address: a real server holds it on %s only to accept what the director forwards, and hides it from ARP. "+
				"Taken as a VIP, the node's own address would be hidden from ARP on its network and removed when lbrs stops. "+
				"List the director's VIP in the config, not this node's address",
				ErrRefused, v, a.Link, s.Interface))
		}
	}
	return refused, warnings
}
