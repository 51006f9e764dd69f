package table_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/lvsd/lb/director/table"
)

// kernelList applies the destination ops of ops to list (kernel order,
// newest first) as the kernel does: a new destination goes to the head.
func kernelList(list []string, ops []table.Op) []string {
	out := slices.Clone(list)
	for _, op := range ops {
		k := op.Dest.Key().String()
		switch op.Kind {
		case table.OpCreateDest:
			out = slices.Insert(out, 0, k)
		case table.OpRemoveDest:
			out = slices.DeleteFunc(out, func(s string) bool { return s == k })
		}
	}
	return out
}

func mhService(sched string, keys ...string) table.Service {
	s := svc("10.0.0.1:80")
	s.Scheduler = sched
	for _, k := range keys {
		s.Destinations = append(s.Destinations, dest(k, table.ForwardRoute, 1))
	}
	return s
}

func destKeys(s table.Service) []string {
	var out []string
	for _, d := range s.Destinations {
		out = append(out, d.Key().String())
	}
	return out
}

// The deterministic order: every director creates a service's destinations
// in key order (address, then port) whatever order its inputs came in, so
// the kernel lists them in reverse key order; a service whose kernel list
// is in another order is put right with the fewest re-creations, and only
// for the schedulers whose table depends on the order.
func TestDiffKeepsDeterministicDestOrder(t *testing.T) {
	cases := []struct {
		name      string
		sched     string
		desired   []string // any order
		kernel    []string // kernel order, newest first; nil: no service
		wantList  []string // kernel order after the ops
		wantRedo  int      // destinations removed and created again
		wantTotal int      // destination writes
	}{
		{"new service, shuffled input", "mh", []string{"10.0.0.12:80", "10.0.0.10:80", "10.0.0.11:80"}, nil,
			[]string{"10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"}, 0, 3},
		{"in order: nothing", "mh", []string{"10.0.0.10:80", "10.0.0.11:80", "10.0.0.12:80"}, []string{"10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"},
			[]string{"10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"}, 0, 0},
		{"port breaks ties", "mh", []string{"10.0.0.10:81", "10.0.0.10:80"}, []string{"10.0.0.10:80", "10.0.0.10:81"},
			[]string{"10.0.0.10:81", "10.0.0.10:80"}, 1, 2},
		{"highest new one: on top, no re-creation", "mh", []string{"10.0.0.10:80", "10.0.0.11:80", "10.0.0.13:80"}, []string{"10.0.0.11:80", "10.0.0.10:80"},
			[]string{"10.0.0.13:80", "10.0.0.11:80", "10.0.0.10:80"}, 0, 1},
		{"new one in the middle: the higher ones re-created", "mh", []string{"10.0.0.10:80", "10.0.0.11:80", "10.0.0.12:80", "10.0.0.13:80"},
			[]string{"10.0.0.13:80", "10.0.0.12:80", "10.0.0.10:80"},
			[]string{"10.0.0.13:80", "10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"}, 2, 5},
		{"created in reverse (another director's history)", "sh", []string{"10.0.0.10:80", "10.0.0.11:80", "10.0.0.12:80"},
			[]string{"10.0.0.10:80", "10.0.0.11:80", "10.0.0.12:80"},
			[]string{"10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"}, 2, 4},
		{"removal keeps the order", "mh", []string{"10.0.0.10:80", "10.0.0.12:80"}, []string{"10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"},
			[]string{"10.0.0.12:80", "10.0.0.10:80"}, 0, 1},
		{"IPv4 sorts numerically", "mh", []string{"10.0.0.9:80", "10.0.0.10:80"}, []string{"10.0.0.9:80", "10.0.0.10:80"},
			[]string{"10.0.0.10:80", "10.0.0.9:80"}, 1, 2},
		{"order-blind scheduler left alone", "wlc", []string{"10.0.0.10:80", "10.0.0.11:80"}, []string{"10.0.0.10:80", "10.0.0.11:80"},
			[]string{"10.0.0.10:80", "10.0.0.11:80"}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := table.Table{Services: []table.Service{mhService(c.sched, c.desired...)}}
			var actual table.Table
			if c.kernel != nil {
				actual.Services = []table.Service{mhService(c.sched, c.kernel...)}
			}
			ops := table.Diff(want, actual, table.DiffOptions{KernelOrder: true})
			var dests []table.Op
			redo := 0
			for _, op := range ops {
				if op.IsServiceOp() {
					continue
				}
				dests = append(dests, op)
				if op.Kind == table.OpRemoveDest && strings.Contains(op.String(), "re-created in order") {
					redo++
				}
			}
			got := kernelList(c.kernel, dests)
			if !slices.Equal(got, c.wantList) {
				t.Errorf("kernel list after %v = %v, want %v", ops, got, c.wantList)
			}
			if redo != c.wantRedo || len(dests) != c.wantTotal {
				t.Errorf("%d re-created, %d writes; want %d, %d: %v", redo, len(dests), c.wantRedo, c.wantTotal, ops)
			}
			// Applied, the table is in sync: the next diff is empty.
			after := table.Table{Services: []table.Service{mhService(c.sched, got...)}}
			if again := table.Diff(want, after, table.DiffOptions{KernelOrder: true}); len(again) != 0 {
				t.Errorf("second diff not empty: %v", again)
			}
		})
	}
}

// Without KernelOrder (tables not read from the kernel) Diff compares
// destinations as sets.
func TestDiffWithoutKernelOrderIgnoresOrder(t *testing.T) {
	want := table.Table{Services: []table.Service{mhService("mh", "10.0.0.10:80", "10.0.0.11:80")}}
	actual := table.Table{Services: []table.Service{mhService("mh", "10.0.0.10:80", "10.0.0.11:80")}}
	if ops := table.Diff(want, actual, table.DiffOptions{}); len(ops) != 0 {
		t.Errorf("ops %v, want none", ops)
	}
}

func TestOrderSensitive(t *testing.T) {
	for _, s := range table.Schedulers() {
		want := s == "mh" || s == "sh"
		if got := table.OrderSensitive(s); got != want {
			t.Errorf("OrderSensitive(%q) = %v, want %v", s, got, want)
		}
	}
}
