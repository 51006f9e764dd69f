//go:build testbed_guest

package kernel_test

import (
	"context"
	"slices"
	"testing"

	"github.com/lvsd/lb/director/table"
)

// The deterministic destination order on the real kernel (issue 16): the
// kernel adds a destination at the head of its service's list and lists
// them in list order (the netlink dump), so a table built by hand in
// another order is listed so; lbd re-creates the out-of-place ones of an mh
// service, and ends with the list every director derives (reverse key
// order), after which a restart writes nothing.
func TestTestbedDestOrder(t *testing.T) {
	h := open(t)
	ipvsadm(t, "-A", "-t", "10.20.0.1:80", "-s", "mh")
	for _, rs := range []string{"10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"} { // reverse key order
		ipvsadm(t, "-a", "-t", "10.20.0.1:80", "-r", rs, "-g", "-w", "1")
	}
	svc := svc4(table.ProtoTCP, "10.20.0.1", 80, "mh")
	order := func() []string {
		t.Helper()
		ds, err := h.Destinations(svc)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, d.Key().String())
		}
		return out
	}
	if got, want := order(), []string{"10.0.0.10:80", "10.0.0.11:80", "10.0.0.12:80"}; !slices.Equal(got, want) {
		t.Fatalf("the kernel lists %v after adding 12, 11, 10: want the newest first %v", got, want)
	}
	want := svc
	want.Destinations = []table.Destination{dst("10.0.0.11", 80, table.ForwardRoute, 1), dst("10.0.0.10", 80, table.ForwardRoute, 1), dst("10.0.0.12", 80, table.ForwardRoute, 1)}
	desired := table.Table{Services: []table.Service{want}}
	res, err := newRec(t, h).Apply(context.Background(), desired)
	if err != nil {
		t.Fatal(err)
	}
	if got, w := order(), []string{"10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"}; !slices.Equal(got, w) || res.Writes != 4 {
		t.Fatalf("after the apply (%d writes: %v) the kernel lists %v, want %v in 4 writes", res.Writes, res.Ops, got, w)
	}
	t.Logf("re-created in order: %v", res.Ops)
	// A new director process on this table: nothing to write. A new member
	// with the highest key goes on top with one write.
	if res, err := newRec(t, h).Apply(context.Background(), desired); err != nil || res.Writes != 0 {
		t.Fatalf("restart: %d writes (%v), %v", res.Writes, res.Ops, err)
	}
	want.Destinations = append(want.Destinations, dst("10.0.0.13", 80, table.ForwardRoute, 1))
	res, err = newRec(t, h).Apply(context.Background(), table.Table{Services: []table.Service{want}})
	if got, w := order(), []string{"10.0.0.13:80", "10.0.0.12:80", "10.0.0.11:80", "10.0.0.10:80"}; err != nil || !slices.Equal(got, w) || res.Writes != 1 {
		t.Fatalf("adding the highest: %d writes (%v), %v; the kernel lists %v, want %v", res.Writes, res.Ops, err, got, w)
	}
}
