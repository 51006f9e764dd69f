package director_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
)

// fakeClock is the manager's clock and timer for the slow-start tests:
// time moves only when the test says, and the armed timer is recorded.
type fakeClock struct {
	now   time.Time
	armed []time.Duration
}

type noStop struct{}

func (noStop) Stop() bool { return true }

func (c *fakeClock) config(m *director.ManagerConfig) {
	m.Now = func() time.Time { return c.now }
	m.AfterFunc = func(d time.Duration, _ func()) director.Stopper { c.armed = append(c.armed, d); return noStop{} }
}

func newClockManager(t *testing.T, k *fake.Kernel, c *fakeClock) *director.Manager {
	t.Helper()
	r, _ := newRec(t, k, nil)
	cfg := director.ManagerConfig{Reconciler: r}
	c.config(&cfg)
	return director.NewManager(cfg)
}

// A drain is one write (the weight to 0), the server stays in the table;
// maintenance takes it out (one write); undrain puts the weight back.
func TestManagerDrainIsOneWrite(t *testing.T) {
	k := fake.New()
	c := &fakeClock{now: time.Unix(1000, 0)}
	m := newClockManager(t, k, c)
	s := checked(spec(0, 0, nil, false))
	ctx := context.Background()
	if _, _, err := m.SetSpecs(ctx, []director.ServiceSpec{s}); err != nil {
		t.Fatal(err)
	}
	id := rsID(s, "192.168.56.201:80")
	for _, step := range []struct {
		state  director.AdminState
		log    []string
		shown  string
		weight string // in the kernel
	}{
		{director.AdminDrain, []string{"update-destination 192.168.56.201:80 of TCP 192.168.56.90:80"}, director.StateDraining, "0"},
		{director.AdminMaintenance, []string{"remove-destination 192.168.56.201:80 of TCP 192.168.56.90:80"}, director.StateMaintenance, "absent"},
		{director.AdminDrain, []string{"create-destination 192.168.56.201:80 of TCP 192.168.56.90:80"}, director.StateDraining, "0"},
		{director.AdminNone, []string{"update-destination 192.168.56.201:80 of TCP 192.168.56.90:80"}, director.StateUp, "2"},
	} {
		k.ResetCounters()
		changed, _, err := m.SetOverride(ctx, id, step.state)
		if err != nil || !changed {
			t.Fatalf("%q: changed %v, err %v", step.state, changed, err)
		}
		if !reflect.DeepEqual(k.Log(), step.log) {
			t.Errorf("%q: writes %q, want %q", step.state, k.Log(), step.log)
		}
		if got := kernelWeight(k, "192.168.56.201:80"); got != step.weight {
			t.Errorf("%q: kernel weight %s, want %s", step.state, got, step.weight)
		}
		if got := stateOf(m.Desired(), id); got != step.shown {
			t.Errorf("%q: state %q, want %q", step.state, got, step.shown)
		}
	}
	// The same override again: nothing written.
	k.ResetCounters()
	if changed, _, _ := m.SetOverride(ctx, id, director.AdminNone); changed || k.Writes() != 0 {
		t.Errorf("repeated undrain: changed %v, %d writes", changed, k.Writes())
	}
}

// kernelWeight is the fake kernel's weight of the destination addr
// ("absent" when it has none).
func kernelWeight(k *fake.Kernel, addr string) string {
	for _, s := range k.Table().Services {
		for _, d := range s.Destinations {
			if d.Key().String() == addr {
				return fmt.Sprint(d.Weight)
			}
		}
	}
	return "absent"
}

func stateOf(d director.Desired, id director.RealServerID) string {
	for _, rs := range d.RealServers {
		if rs.ID == id {
			return rs.State
		}
	}
	return "absent"
}

// Maintenance wins over health (the server stays out when its checks
// pass); a drained server's checks still decide whether it is down.
func TestManagerMaintenanceRegardlessOfChecks(t *testing.T) {
	k := fake.New()
	m := newClockManager(t, k, &fakeClock{now: time.Unix(1000, 0)})
	s := checked(spec(0, 0, nil, false))
	ctx := context.Background()
	if _, _, err := m.SetSpecs(ctx, []director.ServiceSpec{s}); err != nil {
		t.Fatal(err)
	}
	id := rsID(s, "192.168.56.200:80")
	if _, _, err := m.SetOverride(ctx, id, director.AdminMaintenance); err != nil {
		t.Fatal(err)
	}
	k.ResetCounters()
	if _, _, err := m.ReportChecks(ctx, []string{"192.168.56.200"}, up); err != nil {
		t.Fatal(err)
	}
	if k.Writes() != 0 || stateOf(m.Desired(), id) != director.StateMaintenance {
		t.Errorf("a passing check must not bring a server in maintenance back: %v, %s", k.Log(), stateOf(m.Desired(), id))
	}
}

// An unknown server or state is refused and changes nothing.
func TestManagerOverrideRefused(t *testing.T) {
	k := fake.New()
	m := newClockManager(t, k, &fakeClock{now: time.Unix(1000, 0)})
	s := spec(0, 0, nil, false)
	ctx := context.Background()
	if _, _, err := m.SetSpecs(ctx, []director.ServiceSpec{s}); err != nil {
		t.Fatal(err)
	}
	k.ResetCounters()
	if _, _, err := m.SetOverride(ctx, rsID(s, "192.168.56.250:80"), director.AdminDrain); !errors.Is(err, director.ErrUnknownServer) {
		t.Errorf("unknown server: %v", err)
	}
	if _, _, err := m.SetOverride(ctx, rsID(s, "192.168.56.200:80"), "off"); err == nil {
		t.Error("unknown state accepted")
	}
	if k.Writes() != 0 || len(m.Overrides()) != 0 {
		t.Errorf("a refused override changed something: %v %v", k.Log(), m.Overrides())
	}
}

// A reload keeps the overrides of the servers still configured and drops
// those of the servers it removes; restored overrides apply at the first
// SetSpecs (a restart).
func TestManagerOverridesAcrossReloadAndRestart(t *testing.T) {
	k := fake.New()
	m := newClockManager(t, k, &fakeClock{now: time.Unix(1000, 0)})
	s := spec(0, 0, nil, false)
	ctx := context.Background()
	if _, _, err := m.SetSpecs(ctx, []director.ServiceSpec{s}); err != nil {
		t.Fatal(err)
	}
	a, b := rsID(s, "192.168.56.200:80"), rsID(s, "192.168.56.201:80")
	m.SetOverride(ctx, a, director.AdminDrain)
	m.SetOverride(ctx, b, director.AdminMaintenance)
	// Restart: a new manager restored from the saved overrides adopts the
	// kernel's table with no write.
	saved := m.Overrides()
	k.ResetCounters()
	m2 := newClockManager(t, k, &fakeClock{now: time.Unix(2000, 0)})
	m2.RestoreOverrides(saved)
	if _, res, err := m2.SetSpecs(ctx, []director.ServiceSpec{s}); err != nil || res.Writes != 0 {
		t.Fatalf("restart with the overrides: %d writes (%v), err %v", res.Writes, k.Log(), err)
	}
	// Reload without b: its override goes, a's stays.
	s2 := s
	s2.RealServers = []director.RealServerSpec{s.RealServers[0], s.RealServers[2]}
	if _, _, err := m2.SetSpecs(ctx, []director.ServiceSpec{s2}); err != nil {
		t.Fatal(err)
	}
	// Kept while keep says so (a service with discovery, at start).
	if dropped := m2.DropGoneOverrides(func(id director.RealServerID) bool { return id.Service == s.Service.Key() }); len(dropped) != 0 {
		t.Errorf("kept overrides dropped: %v", dropped)
	}
	if dropped := m2.DropGoneOverrides(nil); len(dropped) != 1 || dropped[0] != b {
		t.Errorf("dropped %v, want %v", dropped, b)
	}
	got := m2.Overrides()
	if len(got) != 1 || got[a].State != director.AdminDrain {
		t.Errorf("after the reload: %v", got)
	}
	// b comes back in a later reload: no override.
	if _, _, err := m2.SetSpecs(ctx, []director.ServiceSpec{s}); err != nil {
		t.Fatal(err)
	}
	if stateOf(m2.Desired(), b) != director.StateUp {
		t.Errorf("b back: %s", stateOf(m2.Desired(), b))
	}
}

func TestSlowStartAt(t *testing.T) {
	ss := director.SlowStart{Duration: 30 * time.Second}
	for _, tt := range []struct {
		elapsed time.Duration
		step    int
		next    time.Duration
		done    bool
		weight  uint32 // of 100
	}{
		{0, 1, 10 * time.Second, false, 25},
		{9 * time.Second, 1, 10 * time.Second, false, 25},
		{10 * time.Second, 2, 20 * time.Second, false, 50},
		{20 * time.Second, 3, 30 * time.Second, false, 75},
		{29 * time.Second, 3, 30 * time.Second, false, 75},
		{30 * time.Second, 0, 0, true, 100},
		{time.Hour, 0, 0, true, 100},
		{-time.Second, 1, 10 * time.Second, false, 25},
	} {
		step, next, done := ss.At(tt.elapsed)
		if step.Step != tt.step || next != tt.next || done != tt.done || step.Weight(100) != tt.weight {
			t.Errorf("At(%v) = %+v %v %v weight %d; want step %d next %v done %v weight %d", tt.elapsed, step, next, done,
				step.Weight(100), tt.step, tt.next, tt.done, tt.weight)
		}
	}
	for _, tt := range []struct {
		ss   director.SlowStart
		want bool
	}{
		{director.SlowStart{}, false},
		{director.SlowStart{Duration: time.Second, Steps: 1}, false},
		{director.SlowStart{Duration: time.Second, Steps: 2}, true},
	} {
		if tt.ss.Enabled() != tt.want {
			t.Errorf("%+v enabled %v", tt.ss, !tt.want)
		}
	}
	for _, tt := range []struct {
		w, want uint32
		step    director.RampStep
	}{
		{1, 1, director.RampStep{Step: 1, Steps: 4}},
		{3, 1, director.RampStep{Step: 1, Steps: 4}},
		{3, 2, director.RampStep{Step: 2, Steps: 4}},
		{0, 0, director.RampStep{Step: 1, Steps: 4}},
		{10, 4, director.RampStep{Step: 1, Steps: 3}},
	} {
		if got := tt.step.Weight(tt.w); got != tt.want {
			t.Errorf("%+v.Weight(%d) = %d, want %d", tt.step, tt.w, got, tt.want)
		}
	}
}

// A recovered server ramps: 4 steps, one write each, the timer armed for
// the next one; so does an undrained one.
func TestManagerSlowStartSteps(t *testing.T) {
	k := fake.New()
	c := &fakeClock{now: time.Unix(1000, 0)}
	m := newClockManager(t, k, c)
	s := checked(spec(0, 0, nil, false))
	s.RealServers[2].Dest.Weight = 100
	s.RealServers[2].SlowStart = director.SlowStart{Duration: 30 * time.Second}
	ctx := context.Background()
	if _, _, err := m.SetSpecs(ctx, []director.ServiceSpec{s}); err != nil {
		t.Fatal(err)
	}
	const rs = "192.168.56.202"
	id := rsID(s, rs+":80")
	ramp := func(name string, start func()) {
		t.Helper()
		k.ResetCounters()
		c.armed = nil
		start()
		var states, weights []string
		for i := 0; i < 4; i++ {
			if i > 0 {
				c.now = c.now.Add(10 * time.Second)
				if _, err := m.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
			states = append(states, stateOf(m.Desired(), id))
			weights = append(weights, kernelWeight(k, rs+":80"))
		}
		if !reflect.DeepEqual(weights, []string{"25", "50", "75", "100"}) {
			t.Errorf("%s: kernel weights %v", name, weights)
		}
		want := []string{
			"update-destination 192.168.56.202:80 of TCP 192.168.56.90:80",
			"update-destination 192.168.56.202:80 of TCP 192.168.56.90:80",
			"update-destination 192.168.56.202:80 of TCP 192.168.56.90:80",
			"update-destination 192.168.56.202:80 of TCP 192.168.56.90:80",
		}
		if name == "recovered" {
			want[0] = "create-destination 192.168.56.202:80 of TCP 192.168.56.90:80"
		}
		if !reflect.DeepEqual(k.Log(), want) {
			t.Errorf("%s: writes\n%q\nwant\n%q", name, k.Log(), want)
		}
		wantStates := []string{director.StateSlowStarting, director.StateSlowStarting, director.StateSlowStarting, director.StateUp}
		if !reflect.DeepEqual(states, wantStates) {
			t.Errorf("%s: states %v", name, states)
		}
		if !reflect.DeepEqual(c.armed, []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second}) {
			t.Errorf("%s: timer armed %v", name, c.armed)
		}
	}
	if _, _, err := m.ReportChecks(ctx, []string{rs}, down("refused")); err != nil {
		t.Fatal(err)
	}
	ramp("recovered", func() { m.ReportChecks(ctx, []string{rs}, up) })
	m.SetOverride(ctx, id, director.AdminDrain)
	ramp("undrained", func() { m.SetOverride(ctx, id, director.AdminNone) })
}
