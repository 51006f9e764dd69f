package realserver

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/lvsd/lb/internal/sysctl"
)

// StatusItem is one managed object: what it should be, what it is, and who
// owns it (what restore will do with it).
type StatusItem struct {
	Kind     string // "link", "sysctl" or "address"
	Name     string
	Expected string
	Actual   string
	OK       bool
	Owner    string
}

// Status is the agent's view of the node.
type Status struct {
	Mode     Mode
	Items    []StatusItem
	Warnings []string
}

// Differs counts the items that are not as expected.
func (s Status) Differs() int {
	n := 0
	for _, it := range s.Items {
		if !it.OK {
			n++
		}
	}
	return n
}

// WriteTo prints the status as a table.
func (s Status) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "mode %s\n", s.Mode)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tITEM\tEXPECTED\tACTUAL\tSTATE\tOWNER")
	for _, it := range s.Items {
		state := "OK"
		if !it.OK {
			state = "DIFFERS"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Kind, it.Name, it.Expected, it.Actual, state, it.Owner)
	}
	tw.Flush()
	for _, warn := range s.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// report compares desired, observed and recorded state, item by item.
func report(d desiredState, obs observed, st State) []StatusItem {
	var items []StatusItem
	wantLink := map[string]bool{}
	for _, l := range d.Links {
		wantLink[l.Name] = true
		info, ok := obs.Links[l.Name]
		actual := "missing"
		if ok {
			actual = upDown(info.Up)
		}
		items = append(items, StatusItem{Kind: "link", Name: l.Name, Expected: "up", Actual: actual, OK: ok && info.Up, Owner: linkOwner(st, l.Name)})
	}
	wantKey := map[string]bool{}
	for _, s := range d.Sysctls {
		wantKey[s.Key] = true
		cur, ok := obs.Sysctls[s.Key]
		if !ok {
			cur = "unreadable"
		}
		items = append(items, StatusItem{Kind: "sysctl", Name: sysctl.Name(s.Key), Expected: s.Value, Actual: cur, OK: ok && cur == s.Value, Owner: sysctlOwner(st, s.Key)})
	}
	wantAddr := map[addrKey]bool{}
	for _, a := range d.Addrs {
		wantAddr[addrKey{a.Link, a.Prefix.Addr()}] = true
		matches := matchIP(obs.Addrs[a.Link], a.Prefix.Addr())
		exact := slices.ContainsFunc(matches, func(m Address) bool { return sameShape(m, a) })
		rec, idx := st.addr(a.Link, a.Prefix.Addr())
		actual := "absent"
		if len(matches) > 0 {
			parts := make([]string, len(matches))
			for i, m := range matches {
				parts[i] = describeAddr(m)
			}
			actual = strings.Join(parts, ", ")
		}
		ok := exact || (idx >= 0 && rec.Preexisting && len(matches) > 0)
		owner := "not recorded (not applied yet)"
		switch {
		case idx >= 0 && rec.Preexisting:
			owner = "pre-existing (left on restore)"
		case idx >= 0:
			owner = "lbrs (removed on restore)"
		}
		items = append(items, StatusItem{Kind: "address", Name: a.Prefix.Addr().String() + " on " + a.Link, Expected: describeAddr(a), Actual: actual, OK: ok, Owner: owner})
	}
	// What the state still records but the spec no longer wants: it is
	// undone at the next apply.
	for _, r := range st.Addresses {
		if wantAddr[addrKey{r.Link, r.Prefix.Addr()}] || r.Preexisting {
			continue
		}
		_, present := findExactIP(obs.Addrs[r.Link], r.Prefix)
		items = append(items, StatusItem{Kind: "address", Name: r.Prefix.Addr().String() + " on " + r.Link, Expected: "absent (not configured)",
			Actual: presence(present), OK: !present, Owner: "lbrs (removed on restore)"})
	}
	for _, key := range sortedKeys(st.Sysctls) {
		if wantKey[key] {
			continue
		}
		cur, ok := obs.Sysctls[key]
		if !ok {
			continue
		}
		orig := st.Sysctls[key]
		items = append(items, StatusItem{Kind: "sysctl", Name: sysctl.Name(key), Expected: orig + " (original; not configured)", Actual: cur, OK: cur == orig, Owner: sysctlOwner(st, key)})
	}
	for _, name := range sortedKeys(st.Links) {
		if wantLink[name] {
			continue
		}
		pending := len(undoLink(name, st.Links[name], obs)) > 0
		info, ok := obs.Links[name]
		actual := "missing"
		if ok {
			actual = upDown(info.Up)
		}
		items = append(items, StatusItem{Kind: "link", Name: name, Expected: "original state (not configured)", Actual: actual, OK: !pending, Owner: linkOwner(st, name)})
	}
	return items
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func presence(p bool) string {
	if p {
		return "present"
	}
	return "absent"
}

func linkOwner(st State, name string) string {
	r, ok := st.Links[name]
	switch {
	case !ok:
		return "not recorded (not applied yet)"
	case r.Created:
		return "lbrs (created; deleted on restore)"
	case !r.WasUp:
		return "lbrs (was down; set down on restore)"
	}
	return "pre-existing (was up)"
}

func sysctlOwner(st State, key string) string {
	orig, ok := st.Sysctls[key]
	if !ok {
		return "not recorded (not applied yet)"
	}
	return "lbrs (original " + orig + ", restored on stop)"
}
