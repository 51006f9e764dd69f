package director_test

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"syscall"
	"testing"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/director/table/tabletest"
)

// bigTable has n services of 3 destinations each.
func bigTable(n int) table.Table {
	var t table.Table
	for i := 0; i < n; i++ {
		s := tabletest.Service(table.ProtoTCP, fmt.Sprintf("10.100.%d.%d:80", i/250, i%250+1), "wrr")
		for j := 0; j < 3; j++ {
			s.Destinations = append(s.Destinations, tabletest.Dest(fmt.Sprintf("10.200.%d.%d:80", j, i%250+1), table.ForwardRoute, uint32(j+1)))
		}
		t.Services = append(t.Services, s)
	}
	return t
}

// synced returns a fake holding want, a reconciler that applied it (its
// full read), and the fake's counters reset.
func synced(t *testing.T, want table.Table) (*fake.Kernel, *director.Reconciler) {
	t.Helper()
	k := fake.New()
	r, _ := newRec(t, k, nil)
	mustApply(t, r, want)
	k.ResetCounters()
	return k, r
}

// TestTargetedApplyReadsAndWritesOnlyWhatChanged: once the kernel matched
// the desired table, an apply reads back from the kernel only the services
// whose desired spec changed (the service by its key and its
// destinations), and writes only those.
func TestTargetedApplyReadsAndWritesOnlyWhatChanged(t *testing.T) {
	const n = 50
	tests := []struct {
		name   string
		change func(*table.Table)
		reads  fake.Reads
		writes int
		scope  int
	}{
		{name: "one weight", change: func(t *table.Table) { t.Services[25].Destinations[1].Weight = 9 },
			reads: fake.Reads{Service: 1, Destinations: 1}, writes: 1, scope: 1},
		{name: "scheduler of one service", change: func(t *table.Table) { t.Services[3].Scheduler = "rr" },
			reads: fake.Reads{Service: 1, Destinations: 1}, writes: 1, scope: 1},
		{name: "one destination added", change: func(t *table.Table) {
			t.Services[7].Destinations = append(t.Services[7].Destinations, tabletest.Dest("10.201.0.1:80", table.ForwardRoute, 1))
		}, reads: fake.Reads{Service: 1, Destinations: 1}, writes: 1, scope: 1},
		{name: "one service added", change: func(t *table.Table) {
			s := tabletest.Service(table.ProtoUDP, "10.101.0.1:53", "rr")
			s.Destinations = []table.Destination{tabletest.Dest("10.201.0.2:53", table.ForwardMasq, 1)}
			t.Services = append(t.Services, s)
		}, reads: fake.Reads{Service: 1}, writes: 2, scope: 1},
		{name: "one service removed (read to confirm, then deleted)", change: func(t *table.Table) {
			t.Services = append(t.Services[:10], t.Services[11:]...)
		}, reads: fake.Reads{Service: 1, Destinations: 1}, writes: 1, scope: 1},
		{name: "two services changed", change: func(t *table.Table) {
			t.Services[0].Destinations[0].Weight = 0
			t.Services[n-1].Destinations = t.Services[n-1].Destinations[:2]
		}, reads: fake.Reads{Service: 2, Destinations: 2}, writes: 2, scope: 2},
		{name: "nothing", change: func(*table.Table) {}, reads: fake.Reads{}, writes: 0, scope: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, r := synced(t, bigTable(n))
			want := bigTable(n)
			tt.change(&want)
			res := mustApply(t, r, want)
			if got := k.Reads(); got != tt.reads {
				t.Errorf("reads %+v, want %+v", got, tt.reads)
			}
			if k.Writes() != tt.writes || res.Writes != tt.writes {
				t.Errorf("writes: kernel %d, result %d, want %d: %v", k.Writes(), res.Writes, tt.writes, k.Log())
			}
			if !res.Targeted || res.ReadServices != tt.scope {
				t.Errorf("result targeted %v over %d services, want targeted over %d", res.Targeted, res.ReadServices, tt.scope)
			}
			assertKernel(t, k, want)
		})
	}
}

// TestTargetedApplyLeavesOtherDriftToResync: a hand edit of a service the
// apply does not change stays until the periodic resync, which reads the
// whole table and repairs it; a hand edit of the changed service is
// repaired by the apply itself.
func TestTargetedApplyLeavesOtherDriftToResync(t *testing.T) {
	k, r := synced(t, bigTable(20))
	other, changed := bigTable(20).Services[4], bigTable(20).Services[12]
	if err := k.RemoveDestination(other, other.Destinations[0]); err != nil { // behind lbd's back
		t.Fatal(err)
	}
	if err := k.UpdateDestination(changed, table.Destination{Address: changed.Destinations[2].Address, Port: 80,
		Forward: table.ForwardRoute, Weight: 77}); err != nil {
		t.Fatal(err)
	}
	k.ResetCounters()

	want := bigTable(20)
	want.Services[12].Destinations[0].Weight = 5
	res := mustApply(t, r, want)
	if len(res.Ops) != 2 || k.Reads().Total() != 2 {
		t.Errorf("apply: ops %v, reads %+v; want the weight and the hand-edited weight of the changed service, 2 reads", res.Ops, k.Reads())
	}
	if _, ok := findDest(k.Table(), other.Key(), other.Destinations[0].Key()); ok {
		t.Fatal("the targeted apply repaired a service it does not change: it read more than the changed one")
	}

	k.ResetCounters()
	rs, err := r.Resync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Ops) != 1 || rs.Ops[0].Kind != table.OpCreateDest || rs.Targeted {
		t.Errorf("resync ops %v (targeted %v), want the hand-deleted destination recreated by a full read", rs.Ops, rs.Targeted)
	}
	if got := k.Reads(); got.Services != 1 || got.Destinations != 20 {
		t.Errorf("resync reads %+v, want the whole table (1 list, 20 destination lists)", got)
	}
	assertKernel(t, k, want)
}

func findDest(t table.Table, sk table.ServiceKey, dk table.DestKey) (table.Destination, bool) {
	s, ok := t.Find(sk)
	if !ok {
		return table.Destination{}, false
	}
	for _, d := range s.Destinations {
		if d.Key() == dk {
			return d, true
		}
	}
	return table.Destination{}, false
}

// TestApplyAfterGiveUpReadsEverything: after an apply gave up, the kernel
// may differ anywhere, so the next apply reads the whole table again (and
// so does the first apply of a reconciler, which adopts what it finds).
func TestApplyAfterGiveUpReadsEverything(t *testing.T) {
	k, r := synced(t, bigTable(10))
	want := bigTable(10)
	want.Services[2].Destinations[0].Weight = 40
	k.FailWrite = func(string) error { return syscall.EIO }
	if _, err := r.Apply(context.Background(), want); err == nil {
		t.Fatal("apply with failing writes succeeded")
	}
	k.FailWrite = nil
	k.ResetCounters()

	want.Services[8].Destinations[0].Weight = 80
	res := mustApply(t, r, want)
	if res.Targeted || k.Reads().Services != 1 || k.Reads().Destinations != 10 {
		t.Errorf("apply after a give-up: targeted %v, reads %+v; want a full read", res.Targeted, k.Reads())
	}
	if len(res.Ops) != 2 {
		t.Errorf("ops %v, want both weights", res.Ops)
	}
	assertKernel(t, k, want)

	k.ResetCounters()
	want.Services[9].Destinations[0].Weight = 90
	if res := mustApply(t, r, want); !res.Targeted || k.Reads().Total() != 2 {
		t.Errorf("the apply after a full one that succeeded: targeted %v, reads %+v", res.Targeted, k.Reads())
	}
}

// TestTargetedReadFailureIsRetried: a failed targeted read is retried
// like a full one.
func TestTargetedReadFailureIsRetried(t *testing.T) {
	k, r := synced(t, bigTable(5))
	fails := 1
	k.FailRead = func(what string) error {
		if fails > 0 {
			fails--
			return syscall.EIO
		}
		return nil
	}
	want := bigTable(5)
	want.Services[1].Destinations[2].Weight = 0
	res := mustApply(t, r, want)
	if res.Rounds != 2 || !res.Targeted || k.Writes() != 1 {
		t.Errorf("rounds %d targeted %v writes %d, want 2 rounds, targeted, 1 write", res.Rounds, res.Targeted, k.Writes())
	}
	assertKernel(t, k, want)
}

// TestConcurrentApplyLatestAndResync: health-driven applies (ApplyLatest,
// targeted) racing with resyncs leave the kernel equal to the newest table
// (run with -race).
func TestConcurrentApplyLatestAndResync(t *testing.T) {
	k, r := synced(t, bigTable(30))
	var mu sync.Mutex
	latest := bigTable(30)
	get := func() table.Table {
		mu.Lock()
		defer mu.Unlock()
		return latest.Clone()
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				mu.Lock()
				latest.Services[(g*7+i)%30].Destinations[i%3].Weight = uint32(g*100 + i)
				mu.Unlock()
				if _, err := r.ApplyLatest(context.Background(), get); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 10; i++ {
			if _, err := r.Resync(context.Background()); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	// Every ApplyLatest applied the newest table at its time; the last
	// one saw the final table.
	assertKernel(t, k, get())
}

// TestApplyKeepsItsOwnCopy: the reconciler shares nothing with the tables
// it is given (a targeted apply keeps the services that did not change
// from its own copy): changing them afterwards changes nothing it does.
func TestApplyKeepsItsOwnCopy(t *testing.T) {
	k, r := synced(t, bigTable(6))
	want := bigTable(6)
	next := bigTable(6)
	next.Services[2].Destinations[0].Weight, want.Services[2].Destinations[0].Weight = 50, 50
	mustApply(t, r, next)
	for i := range next.Services { // the caller reuses its table
		next.Services[i].Destinations[1].Weight = 99
	}
	if err := k.RemoveService(want.Services[4]); err != nil { // and drift for the resync to repair
		t.Fatal(err)
	}
	if _, err := r.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertKernel(t, k, want)
	if d, _ := r.Desired(); !reflect.DeepEqual(d, want) {
		t.Errorf("desired table changed behind the reconciler's back: %+v", d)
	}
}

// BenchmarkTargetedApply1000x10 is the reconciler's own cost of a reload
// changing one weight in 1,000 services x 10 (the fake kernel's is
// negligible).
func BenchmarkTargetedApply1000x10(b *testing.B) {
	w := table.Table{}
	for i := 0; i < 1000; i++ {
		s := tabletest.Service(table.ProtoTCP, fmt.Sprintf("10.100.%d.%d:80", i/250, i%250+1), "wrr")
		for j := 0; j < 10; j++ {
			s.Destinations = append(s.Destinations, tabletest.Dest(fmt.Sprintf("10.200.%d.%d:80", j, i%250+1), table.ForwardRoute, uint32(j+1)))
		}
		w.Services = append(w.Services, s)
	}
	k := fake.New()
	r, err := director.NewReconciler(director.ReconcilerConfig{Kernel: k, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Apply(context.Background(), w); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Services[500].Destinations[0].Weight = uint32(i%50 + 100)
		if res, err := r.Apply(context.Background(), w); err != nil || !res.Targeted {
			b.Fatal(res, err)
		}
	}
}
