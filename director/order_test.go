package director_test

import (
	"slices"
	"testing"

	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/director/table/tabletest"
)

func mhTable(sched string, keys ...string) table.Table {
	s := tabletest.Service(table.ProtoTCP, "10.0.0.1:80", sched)
	for _, k := range keys {
		s.Destinations = append(s.Destinations, tabletest.Dest(k, table.ForwardRoute, 1))
	}
	return table.Table{Services: []table.Service{s}}
}

func kernelOrder(t *testing.T, k *fake.Kernel) []string {
	t.Helper()
	var out []string
	for _, d := range k.Table().Services[0].Destinations {
		out = append(out, d.Key().String())
	}
	return out
}

// Two directors given the same members through different histories (one
// started with two and learned a third; the other started with all three,
// listed in another order) end with the same kernel list, so mh builds the
// same table on both.
func TestDirectorsDeriveTheSameDestOrder(t *testing.T) {
	a, b := fake.New(), fake.New()
	ra, _ := newRec(t, a, nil)
	rb, _ := newRec(t, b, nil)
	mustApply(t, ra, mhTable("mh", "10.0.0.10:80", "10.0.0.12:80"))
	mustApply(t, ra, mhTable("mh", "10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"))
	mustApply(t, rb, mhTable("mh", "10.0.0.11:80", "10.0.0.12:80", "10.0.0.10:80"))
	want := []string{"10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"}
	if ga, gb := kernelOrder(t, a), kernelOrder(t, b); !slices.Equal(ga, want) || !slices.Equal(gb, want) {
		t.Errorf("kernel lists %v and %v, want both %v", ga, gb, want)
	}
}

// A restart on a table built in another order re-creates the destinations
// that are out of place (remove, create: in key order) for mh and sh, and
// leaves an order-blind scheduler's table alone.
func TestRestartRecreatesDestsOutOfOrder(t *testing.T) {
	cases := []struct {
		sched    string
		wantLog  []string
		wantList []string
	}{
		{"mh", []string{
			"remove-destination 10.0.0.11:80 of TCP 10.0.0.1:80", "create-destination 10.0.0.11:80 of TCP 10.0.0.1:80",
			"remove-destination 10.0.0.12:80 of TCP 10.0.0.1:80", "create-destination 10.0.0.12:80 of TCP 10.0.0.1:80",
		}, []string{"10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"}},
		{"sh", nil, nil}, // as mh, filled below
		{"wlc", nil, []string{"10.0.0.10:80", "10.0.0.11:80", "10.0.0.12:80"}},
	}
	cases[1].wantLog, cases[1].wantList = cases[0].wantLog, cases[0].wantList
	for _, c := range cases {
		t.Run(c.sched, func(t *testing.T) {
			k := fake.New()
			k.Load(mhTable(c.sched, "10.0.0.10:80", "10.0.0.11:80", "10.0.0.12:80")) // kernel order: created 12, 11, 10
			r, _ := newRec(t, k, nil)
			mustApply(t, r, mhTable(c.sched, "10.0.0.10:80", "10.0.0.11:80", "10.0.0.12:80"))
			if got := k.Log(); !slices.Equal(got, c.wantLog) {
				t.Errorf("writes %q, want %q", got, c.wantLog)
			}
			if got := kernelOrder(t, k); !slices.Equal(got, c.wantList) {
				t.Errorf("kernel list %v, want %v", got, c.wantList)
			}
			// Restarted again: in order now, no writes.
			k.ResetCounters()
			r2, _ := newRec(t, k, nil)
			mustApply(t, r2, mhTable(c.sched, "10.0.0.12:80", "10.0.0.10:80", "10.0.0.11:80"))
			if k.Writes() != 0 {
				t.Errorf("second restart wrote %v", k.Log())
			}
		})
	}
}
