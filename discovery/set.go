package discovery

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// Set is a pool's discovered members in the stable order: by address, then
// port. Every director that reads the same registry builds the same Set, so
// destination lists (and the mh scheduler's table) agree.
type Set []Member

// Build parses every child (name -> data) in format f and returns the
// members in the stable order. A child that does not parse is left out and
// reported; of two children naming the same address and port, the one with
// the smaller znode name is kept and the other reported. Errors come in
// znode order.
func Build(f Format, children map[string][]byte, d Defaults) (Set, []error) {
	names := make([]string, 0, len(children))
	for n := range children {
		names = append(names, n)
	}
	slices.Sort(names)
	var errs []error
	byAddr := make(map[netip.AddrPort]string, len(names))
	s := make(Set, 0, len(names))
	for _, n := range names {
		m, err := ParseMember(f, n, children[n], d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, dup := byAddr[m.Addr]; dup {
			errs = append(errs, fmt.Errorf("member %s: %v is already member %s: ignored", n, m.Addr, first))
			continue
		}
		byAddr[m.Addr] = n
		s = append(s, m)
	}
	s.sort()
	return s, errs
}

func (s Set) sort() {
	slices.SortFunc(s, func(a, b Member) int { return compareAddr(a.Addr, b.Addr) })
}

func compareAddr(a, b netip.AddrPort) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Port(), b.Port())
}

// Change is what turns one Set into the next, each list in the stable
// order. A member whose address stays but whose weight, forwarding or znode
// changes is in Changed (with its new values), not removed and added.
type Change struct {
	Added, Removed, Changed []Member
}

// Empty reports whether the change changes nothing.
func (c Change) Empty() bool { return len(c.Added)+len(c.Removed)+len(c.Changed) == 0 }

// Diff returns the change from old to next (both in the stable order, as
// Build returns them).
func Diff(old, next Set) Change {
	var c Change
	i, j := 0, 0
	for i < len(old) || j < len(next) {
		switch {
		case j == len(next) || (i < len(old) && compareAddr(old[i].Addr, next[j].Addr) < 0):
			c.Removed = append(c.Removed, old[i])
			i++
		case i == len(old) || compareAddr(old[i].Addr, next[j].Addr) > 0:
			c.Added = append(c.Added, next[j])
			j++
		default:
			if old[i] != next[j] {
				c.Changed = append(c.Changed, next[j])
			}
			i++
			j++
		}
	}
	return c
}
