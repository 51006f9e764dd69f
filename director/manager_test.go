package director_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/director/table/tabletest"
)

// checked gives every real server of s one check, "http#0", whose ID is
// the server's address, and a second, "tcp#1", to servers listed in two.
func checked(s director.ServiceSpec, two ...string) director.ServiceSpec {
	for i := range s.RealServers {
		rs := &s.RealServers[i]
		a := rs.Dest.Address.String()
		rs.Checks = []director.CheckRef{{ID: a, Name: "http#0"}}
		for _, t := range two {
			if t == a {
				rs.Checks = append(rs.Checks, director.CheckRef{ID: a + "/tcp", Name: "tcp#1"})
			}
		}
	}
	return s
}

func down(reason string) director.CheckState { return director.CheckState{Reason: reason} }

var up = director.CheckState{Up: true}

func newManager(t *testing.T, k *fake.Kernel) (*director.Manager, *[]bool) {
	t.Helper()
	r, _ := newRec(t, k, nil)
	var mu sync.Mutex // the callback may be called from concurrent reports
	var quorum []bool
	return director.NewManager(director.ManagerConfig{Reconciler: r,
		OnQuorumChange: func(_ table.ServiceKey, up bool) { mu.Lock(); quorum = append(quorum, up); mu.Unlock() }}), &quorum
}

func TestManagerOneHealthChangeIsOneWrite(t *testing.T) {
	k := fake.New()
	m, quorum := newManager(t, k)
	s := checked(spec(1, 0, &director.SorrySpec{Dest: tabletest.Dest("10.0.0.9:80", table.ForwardMasq, 1)}, false))
	ctx := context.Background()
	if _, _, err := m.SetSpecs(ctx, []director.ServiceSpec{s}); err != nil {
		t.Fatal(err)
	}
	k.ResetCounters()
	ch, _, err := m.ReportChecks(ctx, []string{"192.168.56.201"}, down("refused"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Writes() != 1 || k.Log()[0] != "remove-destination 192.168.56.201:80 of TCP 192.168.56.90:80" {
		t.Errorf("health down: %v", k.Log())
	}
	want := []director.HealthChange{{Server: rsID(s, "192.168.56.201:80"), To: director.Health{Down: true, Reason: "http#0: refused"}}}
	if !reflect.DeepEqual(ch, want) {
		t.Errorf("changes %+v, want %+v", ch, want)
	}
	// The same report again: no change, nothing written.
	k.ResetCounters()
	if ch, _, _ := m.ReportChecks(ctx, []string{"192.168.56.201"}, down("refused")); len(ch) != 0 || k.Writes() != 0 {
		t.Errorf("repeat: changes %v, writes %v", ch, k.Log())
	}
	// All down: quorum lost, the sorry server replaces them.
	m.ReportChecks(ctx, []string{"192.168.56.200", "192.168.56.202"}, down(""))
	if !reflect.DeepEqual(*quorum, []bool{false}) {
		t.Errorf("quorum callbacks %v", *quorum)
	}
	if got := k.Table().Services[0].Destinations; len(got) != 1 || got[0].Address.String() != "10.0.0.9" {
		t.Errorf("kernel %v", got)
	}
	// Back up.
	m.ReportChecks(ctx, []string{"192.168.56.200", "192.168.56.201", "192.168.56.202"}, up)
	if !reflect.DeepEqual(*quorum, []bool{false, true}) || len(k.Table().Services[0].Destinations) != 3 {
		t.Errorf("recovery: %v %v", *quorum, k.Table().Services[0].Destinations)
	}
}

func TestManagerVerdicts(t *testing.T) {
	w := func(i int) *int { return &i }
	u := func(i uint32) *uint32 { return &i }
	tests := []struct {
		name    string
		reports []struct {
			id string
			st director.CheckState
		}
		want director.Health // of 192.168.56.201, which has http#0 and tcp#1
	}{
		{"unreported checks count as up", nil, director.Health{}},
		{"one of two down is down", []struct {
			id string
			st director.CheckState
		}{{"192.168.56.201/tcp", down("timeout")}}, director.Health{Down: true, Reason: "tcp#1: timeout"}},
		{"the first failing check in order gives the reason", []struct {
			id string
			st director.CheckState
		}{{"192.168.56.201/tcp", down("timeout")}, {"192.168.56.201", down("status 500")}}, director.Health{Down: true, Reason: "http#0: status 500"}},
		{"no reason says down", []struct {
			id string
			st director.CheckState
		}{{"192.168.56.201", down("")}}, director.Health{Down: true, Reason: "http#0: down"}},
		{"dynamic weight", []struct {
			id string
			st director.CheckState
		}{{"192.168.56.201/tcp", director.CheckState{Up: true, Weight: w(7)}}}, director.Health{Weight: u(7)}},
		{"negative dynamic weight is 0", []struct {
			id string
			st director.CheckState
		}{{"192.168.56.201", director.CheckState{Up: true, Weight: w(-3)}}}, director.Health{Weight: u(0)}},
		{"a check of no server is ignored", []struct {
			id string
			st director.CheckState
		}{{"10.9.9.9", down("x")}}, director.Health{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newManager(t, fake.New())
			s := checked(spec(1, 0, nil, false), "192.168.56.201")
			ctx := context.Background()
			m.SetSpecs(ctx, []director.ServiceSpec{s})
			for _, r := range tt.reports {
				m.ReportChecks(ctx, []string{r.id}, r.st)
			}
			for _, rs := range m.Desired().RealServers {
				if rs.ID != rsID(s, "192.168.56.201:80") {
					continue
				}
				wantUp := !tt.want.Down
				if rs.Up != wantUp || (tt.want.Down && rs.Reason != "health down: "+tt.want.Reason) {
					t.Errorf("up %v reason %q, want %v %q", rs.Up, rs.Reason, wantUp, tt.want.Reason)
				}
				if tt.want.Weight != nil && rs.DesiredWeight != *tt.want.Weight {
					t.Errorf("weight %d, want %d", rs.DesiredWeight, *tt.want.Weight)
				}
			}
		})
	}
}

func TestManagerSetSpecsKeepsAndForgetsCheckStates(t *testing.T) {
	k := fake.New()
	m, _ := newManager(t, k)
	ctx := context.Background()
	s := checked(spec(1, 0, nil, false))
	m.SetSpecs(ctx, []director.ServiceSpec{s})
	m.ReportChecks(ctx, []string{"192.168.56.200", "192.168.56.202"}, down("refused"))

	// A reload that keeps .200's check keeps its state; one that changes
	// .202's check (a new ID) makes it up again until the new one reports.
	s = checked(spec(1, 0, nil, false)) // a new configuration: SetSpecs owns the one it has
	s.RealServers[2].Checks[0].ID = "192.168.56.202-new"
	ch, _, err := m.SetSpecs(ctx, []director.ServiceSpec{s})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 1 || ch[0].Server != rsID(s, "192.168.56.202:80") || ch[0].To.Down {
		t.Errorf("changes %+v", ch)
	}
	if got := len(k.Table().Services[0].Destinations); got != 2 {
		t.Errorf("%d destinations, want 2 (.200 still down)", got)
	}
	// Reports of the old ID are ignored now.
	if ch, _, _ := m.ReportChecks(ctx, []string{"192.168.56.202"}, down("x")); len(ch) != 0 {
		t.Errorf("report of a forgotten check changed %+v", ch)
	}
	// Dropping a real server forgets it.
	s = checked(spec(1, 0, nil, false))
	s.RealServers = s.RealServers[:2]
	m.SetSpecs(ctx, []director.ServiceSpec{s})
	if n := len(m.Desired().RealServers); n != 2 {
		t.Errorf("real servers after reload: %d", n)
	}
}

// TestManagerConcurrentReportsEndOnTheLatestTable: however reports race,
// the kernel ends with the table of the last verdicts (applies are
// serialized and each applies the newest table).
func TestManagerConcurrentReportsEndOnTheLatestTable(t *testing.T) {
	k := fake.New()
	m, _ := newManager(t, k)
	ctx := context.Background()
	s := director.ServiceSpec{Service: tabletest.Service(table.ProtoTCP, "192.168.56.90:80", "rr"), Quorum: 1}
	for i := range 20 {
		s.RealServers = append(s.RealServers, director.RealServerSpec{Dest: tabletest.Dest(fmt.Sprintf("10.0.0.%d:80", i+1), table.ForwardRoute, 1)})
	}
	s = checked(s)
	m.SetSpecs(ctx, []director.ServiceSpec{s})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("10.0.0.%d", i+1)
			for j := range 10 {
				st := up
				if (i+j)%2 == 0 {
					st = down("flap")
				}
				m.ReportChecks(ctx, []string{id}, st)
			}
		}()
	}
	wg.Wait()
	if ops := table.Diff(m.Desired().Table, k.Table(), table.DiffOptions{Purge: true}); len(ops) != 0 {
		t.Fatalf("kernel differs from the latest desired table: %v", ops)
	}
	// Server i+1 last reported (i+9) odd: up.
	for _, rs := range m.Desired().RealServers {
		var i int
		fmt.Sscanf(rs.ID.Address.String(), "10.0.0.%d", &i)
		wantUp := (i-1+9)%2 != 0
		if rs.Up != wantUp {
			t.Errorf("%s up %v, want %v", rs.ID.Address, rs.Up, wantUp)
		}
	}
}

// TestManagerReportIsLocal: a report that changes no verdict costs work
// for the servers that have the check, not for the whole table: with
// 1,000 services x 10 real servers, every check's first report at start
// used to derive 10,000 verdicts into two fresh maps (and a third of all
// check IDs), 10,000 times over.
func TestManagerReportIsLocal(t *testing.T) {
	k := fake.New()
	m, _ := newManager(t, k)
	var specs []director.ServiceSpec
	for i := range 1000 {
		s := director.ServiceSpec{Service: tabletest.Service(table.ProtoTCP, fmt.Sprintf("10.%d.%d.1:80", i/250, i%250), "rr")}
		for j := range 10 {
			s.RealServers = append(s.RealServers, director.RealServerSpec{Dest: tabletest.Dest(fmt.Sprintf("10.200.%d.%d:80", i/25, (i%25)*10+j), table.ForwardMasq, 1)})
		}
		specs = append(specs, checked(s))
	}
	ctx := context.Background()
	if _, _, err := m.SetSpecs(ctx, specs); err != nil {
		t.Fatal(err)
	}
	id := specs[500].RealServers[5].Dest.Address.String()
	allocs := testing.AllocsPerRun(20, func() {
		if ch, _, err := m.ReportChecks(ctx, []string{id}, up); err != nil || len(ch) != 0 {
			t.Fatalf("ReportChecks = %v, %v", ch, err)
		}
	})
	if allocs > 50 {
		t.Errorf("a report that changes nothing made %.0f allocations: it walks the whole table", allocs)
	}
	// And a report that does change something still takes the server out.
	ch, _, err := m.ReportChecks(ctx, []string{id}, down("refused"))
	if err != nil || len(ch) != 1 || ch[0].Server != rsID(specs[500], specs[500].RealServers[5].Dest.Address.String()+":80") {
		t.Fatalf("down report: %+v, %v", ch, err)
	}
}
