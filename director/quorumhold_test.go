package director_test

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/director/table/tabletest"
)

// kernelAddrs is the addresses of the kernel's first service's
// destinations, sorted (the kernel lists the newest first).
func kernelAddrs(k *fake.Kernel) []string {
	out := []string{}
	for _, d := range k.Table().Services[0].Destinations {
		out = append(out, d.Address.String())
	}
	slices.Sort(out)
	return out
}

// A service with a QuorumLossHold (an announced VIP: the daemon gives it
// drain_period) reports its quorum lost at once but keeps the real
// servers it had for the hold, so the director withdraws its VIP and still
// serves what the routers send it meanwhile; then the table follows the
// health. Without a hold, or with a sorry server, the table follows at
// once; quorum back within the hold ends it.
func TestManagerQuorumLossHold(t *testing.T) {
	const hold = 2 * time.Second
	sorry := &director.SorrySpec{Dest: tabletest.Dest("10.0.0.9:80", table.ForwardRoute, 1)}
	type step struct {
		advance time.Duration // the clock moves, then the manager's timer fires (Tick)
		down    []string      // checks reported down
		up      []string      // checks reported up
		kernel  []string      // the kernel's destinations after
		quorum  []bool        // the quorum callbacks so far
		armed   time.Duration // if set, the manager's timer was last armed for this long
	}
	for _, tc := range []struct {
		name  string
		hold  time.Duration
		sorry *director.SorrySpec
		steps []step
	}{
		{name: "held", hold: hold, steps: []step{
			{down: []string{"192.168.56.200", "192.168.56.201"}, kernel: []string{"192.168.56.202"}},
			{down: []string{"192.168.56.202"}, kernel: []string{"192.168.56.202"}, quorum: []bool{false}, armed: hold},
			{advance: hold / 2, kernel: []string{"192.168.56.202"}, quorum: []bool{false}},
			{advance: hold / 2, kernel: []string{}, quorum: []bool{false}},
			{advance: hold, kernel: []string{}, quorum: []bool{false}},
		}},
		{name: "all at once held", hold: hold, steps: []step{
			{down: []string{"192.168.56.200", "192.168.56.201", "192.168.56.202"},
				kernel: []string{"192.168.56.200", "192.168.56.201", "192.168.56.202"}, quorum: []bool{false}},
			{advance: hold, kernel: []string{}, quorum: []bool{false}},
		}},
		{name: "no hold", steps: []step{
			{down: []string{"192.168.56.200", "192.168.56.201"}, kernel: []string{"192.168.56.202"}},
			{down: []string{"192.168.56.202"}, kernel: []string{}, quorum: []bool{false}},
		}},
		{name: "sorry server", hold: hold, sorry: sorry, steps: []step{
			{down: []string{"192.168.56.200", "192.168.56.201", "192.168.56.202"}, kernel: []string{"10.0.0.9"}, quorum: []bool{false}},
		}},
		{name: "quorum back within the hold", hold: hold, steps: []step{
			{down: []string{"192.168.56.200", "192.168.56.201", "192.168.56.202"},
				kernel: []string{"192.168.56.200", "192.168.56.201", "192.168.56.202"}, quorum: []bool{false}},
			{up: []string{"192.168.56.201"}, kernel: []string{"192.168.56.201"}, quorum: []bool{false, true}},
			{advance: hold, kernel: []string{"192.168.56.201"}, quorum: []bool{false, true}},
			{down: []string{"192.168.56.201"}, kernel: []string{"192.168.56.201"}, quorum: []bool{false, true, false}},
			{advance: hold, kernel: []string{}, quorum: []bool{false, true, false}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := fake.New()
			c := &fakeClock{now: time.Unix(1000, 0)}
			r, _ := newRec(t, k, nil)
			var quorum []bool
			cfg := director.ManagerConfig{Reconciler: r, OnQuorumChange: func(_ table.ServiceKey, up bool) { quorum = append(quorum, up) }}
			c.config(&cfg)
			m := director.NewManager(cfg)
			s := checked(spec(1, 0, tc.sorry, false))
			s.QuorumLossHold = tc.hold
			ctx := context.Background()
			if _, _, err := m.SetSpecs(ctx, []director.ServiceSpec{s}); err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				if st.advance > 0 {
					c.now = c.now.Add(st.advance)
					if _, err := m.Tick(ctx); err != nil {
						t.Fatal(err)
					}
				}
				for _, ids := range []struct {
					ids []string
					st  director.CheckState
				}{{st.down, down("refused")}, {st.up, up}} {
					if len(ids.ids) > 0 {
						if _, _, err := m.ReportChecks(ctx, ids.ids, ids.st); err != nil {
							t.Fatal(err)
						}
					}
				}
				if got := kernelAddrs(k); !reflect.DeepEqual(got, st.kernel) {
					t.Errorf("step %d: kernel %v, want %v", i, got, st.kernel)
				}
				if st.armed > 0 && (len(c.armed) == 0 || c.armed[len(c.armed)-1] != st.armed) {
					t.Errorf("step %d: timer armed %v, want last %v", i, c.armed, st.armed)
				}
				if !reflect.DeepEqual(quorum, st.quorum) && (len(quorum) > 0 || len(st.quorum) > 0) {
					t.Errorf("step %d: quorum callbacks %v, want %v", i, quorum, st.quorum)
				}
			}
		})
	}
}
