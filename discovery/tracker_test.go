package discovery

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pool returns n members 10.0.0.1..n:80.
func pool(n int) Set {
	s := Set{}
	for i := 1; i <= n; i++ {
		s = append(s, mem(fmt.Sprintf("sub%010d", i), fmt.Sprintf("10.0.0.%d:80", i)))
	}
	return s
}

func TestTrackerHoldRule(t *testing.T) {
	tests := []struct {
		name     string
		policy   Policy
		from, to Set
		held     bool
	}{
		{"first list is never held", Policy{}, nil, pool(3), false},
		{"add only", Policy{}, pool(3), pool(10), false},
		{"remove 1 of 3", Policy{}, pool(3), pool(2), false},
		{"remove exactly half (2 of 4) applies", Policy{}, pool(4), pool(2), false},
		{"remove 2 of 3 is held", Policy{}, pool(3), pool(1), true},
		{"remove all is held", Policy{}, pool(3), Set{}, true},
		{"remove 1 of 1 is held", Policy{}, pool(1), Set{}, true},
		{"static members count in the pool: 2 of 3 discovered + 2 static", Policy{Static: 2}, pool(3), pool(1), false},
		{"static members count: 3 of 3 discovered + 2 static", Policy{Static: 2}, pool(3), Set{}, true},
		{"share 1 never holds", Policy{HoldShare: 1}, pool(3), Set{}, false},
		{"share 0.25: 1 of 4 applies", Policy{HoldShare: 0.25}, pool(4), pool(3), false},
		{"share 0.25: 2 of 4 held", Policy{HoldShare: 0.25}, pool(4), pool(2), true},
		{"replace all members at once is held", Policy{}, pool(2), Set{mem("x", "10.0.1.1:80"), mem("y", "10.0.1.2:80")}, true},
		{"weight changes are not removals", Policy{}, pool(2), func() Set { s := pool(2); s[0].Weight, s[1].Weight = 0, 0; return s }(), false},
	}
	now := time.Unix(1000, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := NewTracker(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.from) > 0 {
				if r := tr.Update(now, tt.from); r.Held {
					t.Fatal("setup update held")
				}
			}
			r := tr.Update(now.Add(time.Second), tt.to)
			if r.Held != tt.held {
				t.Fatalf("held %v, want %v", r.Held, tt.held)
			}
			st := tr.Status()
			want := tt.to
			if tt.held {
				want = tt.from
				if !r.Apply.Empty() || !st.Holding || !st.HeldSince.Equal(now.Add(time.Second)) {
					t.Errorf("held update: apply %+v, status %+v", r.Apply, st)
				}
				if diff := cmp.Diff(tt.to, st.Held, addrs); diff != "" {
					t.Errorf("held set (-want +got):\n%s", diff)
				}
			} else if diff := cmp.Diff(Diff(tt.from, tt.to), r.Apply, addrs); diff != "" {
				t.Errorf("applied change (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, st.Applied, addrs); len(want)+len(st.Applied) > 0 && diff != "" {
				t.Errorf("applied set (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTrackerConfirmAndSupersede(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tr, _ := NewTracker(Policy{})
	if _, ok := tr.Confirm(); ok {
		t.Fatal("Confirm with nothing held")
	}
	tr.Update(t0, pool(6))
	if r := tr.Update(t0.Add(time.Second), pool(2)); !r.Held {
		t.Fatal("4 of 6 removed not held")
	}
	// A second big removal replaces the held update but keeps its start.
	if r := tr.Update(t0.Add(2*time.Second), pool(1)); !r.Held {
		t.Fatal("5 of 6 removed not held")
	}
	if st := tr.Status(); !st.HeldSince.Equal(t0.Add(time.Second)) || len(st.Held) != 1 {
		t.Fatalf("status %+v: want held since t0+1s with 1 member", st)
	}
	c, ok := tr.Confirm()
	if !ok || len(c.Removed) != 5 || len(c.Added) != 0 {
		t.Fatalf("Confirm: %+v, %v: want 5 removed", c, ok)
	}
	if st := tr.Status(); st.Holding || len(st.Applied) != 1 {
		t.Fatalf("after Confirm: %+v", st)
	}

	// Members come back, then vanish and return before anyone confirms:
	// the update within the rule drops the hold and applies from the old set.
	tr.Update(t0, pool(6))
	tr.Update(t0, pool(1))
	r := tr.Update(t0, pool(5))
	if r.Held || len(r.Apply.Removed) != 1 || tr.Status().Holding {
		t.Fatalf("update within the rule: %+v, holding %v", r, tr.Status().Holding)
	}
	if _, ok := tr.Confirm(); ok {
		t.Fatal("the dropped hold was confirmed")
	}
}

func TestTrackerStale(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tr, _ := NewTracker(Policy{})
	tr.Update(t0, pool(3))
	tr.Lost(t0.Add(time.Second))
	tr.Lost(t0.Add(5 * time.Second)) // a second loss keeps the first time
	st := tr.Status()
	if !st.Stale || !st.StaleSince.Equal(t0.Add(time.Second)) || len(st.Applied) != 3 {
		t.Fatalf("after loss: %+v: want stale since t0+1s, 3 members kept", st)
	}
	r := tr.Update(t0.Add(9*time.Second), pool(4)) // the re-list after reconnect
	tr.Fresh()
	if len(r.Apply.Added) != 1 || len(r.Apply.Removed) != 0 {
		t.Fatalf("re-list diff %+v: want one added", r.Apply)
	}
	if st := tr.Status(); st.Stale || !st.StaleSince.IsZero() {
		t.Fatalf("after Fresh: %+v", st)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		p  Policy
		ok bool
	}{
		{Policy{}, true}, {Policy{HoldShare: 1}, true}, {Policy{HoldShare: 0.3, Static: 4}, true},
		{Policy{HoldShare: -0.1}, false}, {Policy{HoldShare: 1.5}, false}, {Policy{Static: -1}, false},
	}
	for _, tt := range tests {
		_, err := NewTracker(tt.p)
		if (err == nil) != tt.ok {
			t.Errorf("NewTracker(%+v): %v, want ok %v", tt.p, err, tt.ok)
		}
	}
}
