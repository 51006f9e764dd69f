package director

import (
	"cmp"
	"slices"
)

// The health of a real server is derived, never stored: the Manager keeps
// what each check last reported, and the verdict follows from the server's
// checks with keepalived's rule.

// CheckRef names one health check of a real server.
type CheckRef struct {
	// ID identifies the check's subscription; it stays the same across
	// reloads while the check is unchanged, so its state is kept.
	ID string
	// Name labels the check in reasons: "http#0" (type and position).
	Name string
	// DownUntilReport: before its first report the check counts as down,
	// not up (alpha, on a real server not trusted: it gets no traffic, and
	// costs no write, before its first check passes).
	DownUntilReport bool
}

// CheckState is what a check last reported.
type CheckState struct {
	Up bool
	// Weight, if set, is a dynamic check's verdict on the server's weight
	// (keepalived MISC_CHECK misc_dynamic); a negative weight counts as 0.
	Weight *int
	// Reason explains the last result ("status 500 not in 200-299").
	Reason string
}

// Health is a real server's verdict. A real server without checks, or
// whose checks have not reported yet (DownUntilReport ones aside), is up
// with its configured weight.
type Health struct {
	Down bool `json:"down"`
	// Weight, if set, replaces the configured weight.
	Weight *uint32 `json:"weight,omitempty"`
	// Reason says why: the first failing check and its reason.
	Reason string `json:"reason,omitempty"`
	// Pending: down only because a DownUntilReport check (alpha) has not
	// reported yet.
	Pending bool `json:"pending,omitempty"`
}

// Equal reports whether two verdicts are the same.
func (h Health) Equal(o Health) bool {
	if h.Down != o.Down || h.Pending != o.Pending || h.Reason != o.Reason || (h.Weight == nil) != (o.Weight == nil) {
		return false
	}
	return h.Weight == nil || *h.Weight == *o.Weight
}

// HealthView is the health of every checked real server.
type HealthView map[RealServerID]Health

// HealthChange is a real server whose verdict changed.
type HealthChange struct {
	Server   RealServerID
	From, To Health
}

// verdict applies keepalived's rule to a real server's checks, in their
// configured order: the server is down while any check that has reported
// is down (the reason is the first such check's); the first dynamic weight
// replaces the configured one.
func verdict(checks []CheckRef, states map[string]CheckState) Health {
	var h Health
	for _, c := range checks {
		st, known := states[c.ID]
		if !known {
			if c.DownUntilReport && !h.Down {
				h.Down, h.Pending, h.Reason = true, true, c.Name+": not checked yet"
			}
			continue // before its first report a check counts as up
		}
		if !st.Up && !h.Down {
			h.Down = true
			h.Reason = c.Name + ": " + st.Reason
			if st.Reason == "" {
				h.Reason = c.Name + ": down"
			}
		}
		if st.Weight != nil && h.Weight == nil {
			w := uint32(max(*st.Weight, 0))
			h.Weight = &w
		}
	}
	return h
}

// Compare orders real servers by service, address and port.
func (id RealServerID) Compare(o RealServerID) int {
	if c := id.Service.Compare(o.Service); c != 0 {
		return c
	}
	if c := id.Address.Compare(o.Address); c != 0 {
		return c
	}
	return cmp.Compare(id.Port, o.Port)
}

func sortChanges(cs []HealthChange) {
	slices.SortFunc(cs, func(a, b HealthChange) int { return a.Server.Compare(b.Server) })
}
