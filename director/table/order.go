package table

import "slices"

// The deterministic destination order.
//
// Some schedulers build their lookup table from the order of the service's
// destination list: mh (ip_vs_mh_populate walks the list round by round)
// and sh (ip_vs_sh_reassign fills the buckets walking the list). The kernel
// adds each new destination at the head of that list, and lists (dumps) the
// destinations in list order, newest first. Two directors given the same
// servers therefore build the same table only when they created them in the
// same order. The order every director derives from its inputs, whatever
// their source (static real servers, discovered members) and the order
// they came in, is the key order of DestKey: by address (IPv4 before IPv6,
// numerically), then by port. Destinations are created in that order, so
// the kernel lists them in reverse key order.

// reorderNote is the Changes text of the writes that re-create a
// destination to restore the deterministic order.
const reorderNote = "re-created in order"

// OrderSensitive reports whether the table of scheduler sched depends on
// the order its destinations were created in: mh and sh.
func OrderSensitive(sched string) bool {
	return sched == "mh" || sched == "sh"
}

// ReorderDests returns the destinations (by key) that must be removed and
// created again so that a service whose kernel list is actual (in kernel
// order, newest first) ends up with the destinations of desired listed as
// if all had been created in key order: nil when none must.
//
// Removals do not disturb the others' order, and every create goes to the
// head of the list, so the destinations that stay must be the lowest keys of
// desired, already listed in reverse key order among themselves: the most
// such stay; the higher kept ones are re-created, and the new ones created,
// in key order (see diffDests).
func ReorderDests(desired, actual []Destination) map[DestKey]bool {
	want := make([]DestKey, 0, len(desired))
	for _, d := range desired {
		want = append(want, d.Key())
	}
	slices.SortFunc(want, DestKey.Compare)
	want = slices.Compact(want)
	pos := make(map[DestKey]int, len(actual)) // place in the kernel's list
	for i, d := range actual {
		if _, dup := pos[d.Key()]; !dup {
			pos[d.Key()] = i
		}
	}
	stay, prev := 0, len(actual)
	for _, k := range want { // lowest first: each must be listed before (above) the last
		p, ok := pos[k]
		if !ok || p >= prev {
			break
		}
		stay, prev = stay+1, p
	}
	var redo map[DestKey]bool
	for _, k := range want[stay:] {
		if _, ok := pos[k]; ok {
			if redo == nil {
				redo = make(map[DestKey]bool)
			}
			redo[k] = true
		}
	}
	return redo
}
