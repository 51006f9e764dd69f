package director_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/director/table/tabletest"
	"github.com/lvsd/lb/internal/sysctl"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// seedTable is the seed tutorial's table: a DR service, round robin, two
// web nodes; plus a NAT one.
func seedTable() table.Table {
	web := tabletest.Service(table.ProtoTCP, "192.168.56.90:80", "rr")
	web.Destinations = []table.Destination{tabletest.Dest("192.168.56.200:80", table.ForwardRoute, 1), tabletest.Dest("192.168.56.201:80", table.ForwardRoute, 1)}
	nat := tabletest.Service(table.ProtoTCP, "192.168.56.91:80", "wlc")
	nat.Destinations = []table.Destination{tabletest.Dest("10.0.0.11:8080", table.ForwardMasq, 3)}
	return table.Table{Services: []table.Service{web, nat}}
}

type logBuf struct{ bytes.Buffer }

func newLogger() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func newRec(t *testing.T, k *fake.Kernel, mod func(*director.ReconcilerConfig)) (*director.Reconciler, *logBuf) {
	t.Helper()
	log, buf := newLogger()
	cfg := director.ReconcilerConfig{Kernel: k, Logger: log, Sleep: func(context.Context, time.Duration) error { return nil }}
	if mod != nil {
		mod(&cfg)
	}
	r, err := director.NewReconciler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, buf
}

func mustApply(t *testing.T, r *director.Reconciler, want table.Table) director.Result {
	t.Helper()
	res, err := r.Apply(context.Background(), want)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return res
}

func assertKernel(t *testing.T, k *fake.Kernel, want table.Table) {
	t.Helper()
	if ops := table.Diff(want, k.Table(), table.DiffOptions{Purge: true}); len(ops) > 0 {
		t.Fatalf("kernel differs from desired: %v", ops)
	}
}

func TestApplyFromEmptyThenAdoptWithZeroWrites(t *testing.T) {
	k := fake.New()
	r, _ := newRec(t, k, nil)
	res := mustApply(t, r, seedTable())
	if res.Writes != 5 || k.Writes() != 5 {
		t.Errorf("from empty: result %d writes, kernel %d, want 5", res.Writes, k.Writes())
	}
	assertKernel(t, k, seedTable())

	// A restarted daemon (new Reconciler) on the matching table.
	k.ResetCounters()
	r2, _ := newRec(t, k, nil)
	res = mustApply(t, r2, seedTable())
	if k.Writes() != 0 || res.Writes != 0 || len(res.Ops) != 0 {
		t.Errorf("adopt: %d writes, ops %v", k.Writes(), res.Ops)
	}
}

func TestReloadOneWeightIsOneWrite(t *testing.T) {
	k := fake.New()
	r, _ := newRec(t, k, nil)
	mustApply(t, r, seedTable())
	k.ResetCounters()
	want := seedTable()
	want.Services[0].Destinations[1].Weight = 5
	res := mustApply(t, r, want)
	if k.Writes() != 1 || len(res.Ops) != 1 || res.Ops[0].Kind != table.OpUpdateDest {
		t.Fatalf("writes %d, ops %v", k.Writes(), res.Ops)
	}
	if log := k.Log(); log[0] != "update-destination 192.168.56.201:80 of TCP 192.168.56.90:80" {
		t.Errorf("wrote %v", log)
	}
	assertKernel(t, k, want)
}

func TestResyncRepairsHandEditsAndLogsThem(t *testing.T) {
	k := fake.New()
	r, logs := newRec(t, k, nil)
	mustApply(t, r, seedTable())

	// ipvsadm -d -t 192.168.56.90:80 -r 192.168.56.201 behind our back.
	web := seedTable().Services[0]
	if err := k.RemoveDestination(web, web.Destinations[1]); err != nil {
		t.Fatal(err)
	}
	// and a service of someone else: left alone.
	foreign := tabletest.Service(table.ProtoUDP, "203.0.113.5:53", "rr")
	if err := k.CreateService(foreign); err != nil {
		t.Fatal(err)
	}
	k.ResetCounters()
	res, err := r.Resync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if k.Writes() != 1 || len(res.Ops) != 1 || res.Ops[0].Kind != table.OpCreateDest || res.Kind != "resync" {
		t.Fatalf("resync: writes %d, %+v", k.Writes(), res)
	}
	if !strings.Contains(logs.String(), `level=WARN msg="repaired IPVS drift"`) ||
		!strings.Contains(logs.String(), `rule="-a -t 192.168.56.90:80 -r 192.168.56.201:80 -g -w 1"`) {
		t.Errorf("repair not logged:\n%s", logs.String())
	}
	if _, ok := k.Table().Find(foreign.Key()); !ok {
		t.Error("unmanaged service removed")
	}
	if _, repairs := r.Counters(); repairs != 1 {
		t.Errorf("repairs counter %d", repairs)
	}
	// Nothing left to repair.
	k.ResetCounters()
	if res, err := r.Resync(context.Background()); err != nil || k.Writes() != 0 || len(res.Ops) != 0 {
		t.Errorf("second resync: %v %d %v", err, k.Writes(), res.Ops)
	}
}

func TestResyncBeforeApplyDoesNothing(t *testing.T) {
	k := fake.New()
	k.Load(seedTable())
	r, _ := newRec(t, k, func(c *director.ReconcilerConfig) { c.Purge = true })
	if _, err := r.Resync(context.Background()); err != nil || k.Writes() != 0 {
		t.Errorf("resync before apply: %v, %d writes", err, k.Writes())
	}
}

func TestUnmanagedServicesLeftAloneUnlessPurge(t *testing.T) {
	foreign := tabletest.Service(table.ProtoTCP, "203.0.113.1:80", "rr")
	foreign.Destinations = []table.Destination{tabletest.Dest("10.9.9.9:80", table.ForwardMasq, 1)}

	k := fake.New()
	k.Load(table.Table{Services: []table.Service{foreign}})
	r, _ := newRec(t, k, nil)
	mustApply(t, r, seedTable())
	if _, ok := k.Table().Find(foreign.Key()); !ok {
		t.Fatal("unmanaged service removed without purge")
	}

	k2 := fake.New()
	k2.Load(table.Table{Services: []table.Service{foreign}})
	r2, _ := newRec(t, k2, func(c *director.ReconcilerConfig) { c.Purge = true })
	mustApply(t, r2, seedTable())
	if _, ok := k2.Table().Find(foreign.Key()); ok {
		t.Fatal("unmanaged service kept with purge")
	}
	assertKernel(t, k2, seedTable())
}

func TestServiceDroppedFromConfigIsRemovedEvenAfterRestart(t *testing.T) {
	store := director.FileStore{Path: filepath.Join(t.TempDir(), "state", "ipvs-managed.json")}
	k := fake.New()
	r, _ := newRec(t, k, func(c *director.ReconcilerConfig) { c.Store = store })
	mustApply(t, r, seedTable())

	// Reload without the NAT service: removed (it was ours), in one write.
	smaller := seedTable()
	smaller.Services = smaller.Services[:1]
	k.ResetCounters()
	res := mustApply(t, r, smaller)
	if k.Writes() != 1 || res.Ops[0].Kind != table.OpRemoveService {
		t.Fatalf("reload: %d writes %v", k.Writes(), res.Ops)
	}

	// Put it back, then "restart" lbd with a config lacking it again: the
	// new process knows from the store that it was ours.
	mustApply(t, r, seedTable())
	r2, _ := newRec(t, k, func(c *director.ReconcilerConfig) { c.Store = store })
	if got := r2.Managed(); len(got) != 2 {
		t.Fatalf("managed after restart: %v", got)
	}
	k.ResetCounters()
	mustApply(t, r2, smaller)
	if k.Writes() != 1 {
		t.Errorf("restart + removal: %d writes", k.Writes())
	}
	assertKernel(t, k, smaller)
	keys, err := store.Load()
	if err != nil || len(keys) != 1 {
		t.Errorf("store now %v, %v", keys, err)
	}
}

func TestFailedWriteIsRetriedAfterReread(t *testing.T) {
	k := fake.New()
	fails := 1
	k.FailWrite = func(what string) error {
		if strings.HasPrefix(what, "create-destination 192.168.56.201:80") && fails > 0 {
			fails--
			return syscall.ENOMEM
		}
		return nil
	}
	var slept []time.Duration
	r, logs := newRec(t, k, func(c *director.ReconcilerConfig) {
		c.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
		c.Retry = director.Retry{Attempts: 3, Initial: 100 * time.Millisecond}
	})
	res := mustApply(t, r, seedTable())
	assertKernel(t, k, seedTable())
	if res.Rounds != 2 || len(res.Failed) != 1 || len(slept) != 1 || slept[0] != 100*time.Millisecond {
		t.Errorf("rounds %d failed %v slept %v", res.Rounds, res.Failed, slept)
	}
	// 5 writes in round 1 (one failed), then only the missing one.
	if res.Writes != 6 || k.Writes() != 6 {
		t.Errorf("writes: result %d kernel %d, want 6", res.Writes, k.Writes())
	}
	if !strings.Contains(logs.String(), "IPVS write failed") || !strings.Contains(logs.String(), "cannot allocate memory") {
		t.Errorf("failure not reported:\n%s", logs.String())
	}
}

func TestPermanentFailureGivesUpKnowingTheState(t *testing.T) {
	k := fake.New()
	k.Schedulers = []string{"rr"} // the kernel lacks wlc: the NAT service cannot be created
	var slept []time.Duration
	r, _ := newRec(t, k, func(c *director.ReconcilerConfig) {
		c.Sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
		c.Retry = director.Retry{Attempts: 3, Initial: 100 * time.Millisecond, Max: 150 * time.Millisecond}
	})
	res, err := r.Apply(context.Background(), seedTable())
	if err == nil || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("err %v, want ENOENT", err)
	}
	if res.Rounds != 3 || len(slept) != 2 || slept[1] != 150*time.Millisecond {
		t.Errorf("rounds %d slept %v", res.Rounds, slept)
	}
	// The service create failed each round; its destination was never tried.
	for _, l := range k.Log() {
		if strings.Contains(l, "10.0.0.11:8080") {
			t.Errorf("destination of a failed service written: %s", l)
		}
	}
	// Pending comes from a fresh read: the NAT service and its destination.
	if len(res.Pending) != 2 || res.Pending[0].Kind != table.OpCreateService || res.Error == "" {
		t.Errorf("pending %v", res.Pending)
	}
	// The rest is in place, and the state is known.
	if _, ok := k.Table().Find(seedTable().Services[0].Key()); !ok {
		t.Error("the kernel lacks the service that was created")
	}
	if last := r.Last(); last.Error == "" || len(last.Pending) != 2 {
		t.Errorf("Last %+v", last)
	}
}

func TestReadFailureIsRetried(t *testing.T) {
	k := fake.New()
	n := 0
	k.FailRead = func(string) error {
		n++
		if n == 1 {
			return syscall.EBUSY
		}
		return nil
	}
	r, _ := newRec(t, k, nil)
	res := mustApply(t, r, seedTable())
	if res.Rounds != 2 {
		t.Errorf("rounds %d", res.Rounds)
	}
	assertKernel(t, k, seedTable())
}

func TestContextCancelStops(t *testing.T) {
	k := fake.New()
	k.FailWrite = func(string) error { return syscall.EIO }
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := newRec(t, k, func(c *director.ReconcilerConfig) {
		c.Sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
	})
	_, err := r.Apply(ctx, seedTable())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v", err)
	}
}

// allKinds has every forwarding method, tunnel type and flag, every
// scheduler, IPv6, fwmark and every protocol.
func allKinds() table.Table {
	var t table.Table
	for i, sched := range table.Schedulers() {
		s := tabletest.Service(table.ProtoTCP, netip.AddrPortFrom(netip.MustParseAddr("10.10.0.1"), uint16(1000+i)).String(), sched)
		switch sched {
		case "sh":
			s.Flags = table.FlagSHFallback | table.FlagSHPort
		case "mh":
			s.Flags = table.FlagMHFallback | table.FlagMHPort
		}
		s.Destinations = []table.Destination{tabletest.Dest(netip.AddrPortFrom(netip.MustParseAddr("10.20.0.1"), uint16(1000+i)).String(), table.ForwardRoute, uint32(i))}
		t.Services = append(t.Services, s)
	}
	tun := tabletest.Service(table.ProtoTCP, "10.10.1.1:80", "wrr")
	for i, tt := range []table.TunnelType{table.TunnelIPIP, table.TunnelGUE, table.TunnelGRE} {
		for j, tf := range []table.TunnelFlags{table.TunnelNoCsum, table.TunnelCsum, table.TunnelRemCsum} {
			d := tabletest.Dest(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 30, byte(i), byte(j + 1)}), 80).String(), table.ForwardTunnel, 1)
			d.TunnelType, d.TunnelFlags = tt, tf
			if tt == table.TunnelGUE {
				d.TunnelPort = 6080
			}
			tun.Destinations = append(tun.Destinations, d)
		}
	}
	t.Services = append(t.Services, tun)
	nat := tabletest.Service(table.ProtoUDP, "10.10.2.1:53", "rr")
	nat.Flags = table.FlagOnePacket | table.FlagPersistent
	nat.Timeout, nat.Netmask = 120, 0xffffff00
	th := tabletest.Dest("10.40.0.1:5353", table.ForwardMasq, 3)
	th.UpperThreshold, th.LowerThreshold = 1000, 100
	nat.Destinations = []table.Destination{th}
	t.Services = append(t.Services, nat)
	sctp := tabletest.Service(table.ProtoSCTP, "10.10.3.1:3868", "lc")
	sctp.Destinations = []table.Destination{tabletest.Dest("10.40.0.2:3868", table.ForwardMasq, 1)}
	t.Services = append(t.Services, sctp)
	v6 := tabletest.Service(table.ProtoTCP, "[2001:db8::90]:443", "wlc")
	v6.Flags, v6.Timeout, v6.Netmask = table.FlagPersistent, 300, 64
	v6.Destinations = []table.Destination{tabletest.Dest("[2001:db8::200]:443", table.ForwardRoute, 2), tabletest.Dest("10.50.0.1:443", table.ForwardTunnel, 1)}
	t.Services = append(t.Services, v6)
	fw := table.Service{ServiceKey: table.ServiceKey{FWMark: 42, Family: table.FamilyIPv4}, Scheduler: "rr", Netmask: 0xffffffff}
	fw.Destinations = []table.Destination{tabletest.Dest("10.60.0.1:0", table.ForwardRoute, 1)}
	fw6 := table.Service{ServiceKey: table.ServiceKey{FWMark: 42, Family: table.FamilyIPv6}, Scheduler: "rr", Netmask: 128}
	fw6.Destinations = []table.Destination{tabletest.Dest("[2001:db8::60]:0", table.ForwardRoute, 1)}
	t.Services = append(t.Services, fw, fw6)
	return t
}

func TestEveryKindRoundTripsThroughTheFake(t *testing.T) {
	for _, batch := range []int{-1, 0} {
		k := fake.New()
		r, _ := newRec(t, k, func(c *director.ReconcilerConfig) { c.BatchMin = batch })
		want := allKinds()
		res := mustApply(t, r, want)
		if len(res.Failed) != 0 {
			t.Fatalf("failed: %v", res.Failed)
		}
		assertKernel(t, k, want)
		if batch == 0 && k.Batches() != 1 {
			t.Errorf("%d ops in %d batches, want 1", res.Writes, k.Batches())
		}
		if batch == -1 && k.Batches() != 0 {
			t.Errorf("batching disabled but %d batches", k.Batches())
		}
		k.ResetCounters()
		r2, _ := newRec(t, k, func(c *director.ReconcilerConfig) { c.BatchMin = batch })
		mustApply(t, r2, want)
		if k.Writes() != 0 {
			t.Errorf("re-adopting every kind: %d writes: %v", k.Writes(), k.Log())
		}
	}
}

func TestBatchFailuresAreRetried(t *testing.T) {
	k := fake.New()
	fails := 2
	k.FailWrite = func(what string) error {
		if strings.HasPrefix(what, "create-service TCP 10.10.0.1:1003") && fails > 0 {
			fails--
			return syscall.EAGAIN
		}
		return nil
	}
	r, _ := newRec(t, k, nil)
	res := mustApply(t, r, allKinds())
	assertKernel(t, k, allKinds())
	if res.Rounds != 3 {
		t.Errorf("rounds %d", res.Rounds)
	}
	// Round 1 batched everything (the service and its destination failed),
	// round 2 and 3 only the two left (below BatchMin: one by one, the
	// destination skipped while its service fails).
	if k.Batches() != 1 {
		t.Errorf("batches %d", k.Batches())
	}
}

func TestApplySettingsWritesOnlyDifferences(t *testing.T) {
	k := fake.New()
	sys := sysctl.NewMap(map[string]string{"net.ipv4.ip_forward": "0", "net.ipv4.vs.conntrack": "1"})
	r, logs := newRec(t, k, func(c *director.ReconcilerConfig) { c.Sysctls = sys })
	s := director.Settings{
		Timeouts: table.Timeouts{TCP: 1, TCPFin: 1, UDP: 1},
		Sysctls:  []director.SysctlSetting{{Name: "net.ipv4.ip_forward", Value: "1"}, {Name: "net.ipv4.vs.conntrack", Value: "1"}},
	}
	ch, err := r.ApplySettings(s)
	if err != nil {
		t.Fatal(err)
	}
	if sets := sys.TakeSets(); len(ch) != 2 || k.Writes() != 1 || len(sets) != 1 {
		t.Errorf("changes %v, kernel writes %d, sysctl writes %v", ch, k.Writes(), sets)
	}
	if to, _ := k.Timeouts(); to != (table.Timeouts{TCP: 1, TCPFin: 1, UDP: 1}) {
		t.Errorf("timeouts %+v", to)
	}
	// Matching: nothing written.
	k.ResetCounters()
	if ch, err := r.ApplySettings(s); err != nil || len(ch) != 0 || k.Writes() != 0 || len(sys.TakeSets()) != 0 {
		t.Errorf("second time: %v %v %d", ch, err, k.Writes())
	}
	// Only tcp asked: the others are left as they are.
	k.SetTimeouts(table.Timeouts{TCPFin: 120, UDP: 300})
	k.ResetCounters()
	r.ApplySettings(director.Settings{Timeouts: table.Timeouts{TCP: 1}})
	if k.Writes() != 0 {
		t.Errorf("tcp already 1: %d writes", k.Writes())
	}
	// Drift is repaired by resync.
	r.ApplySettings(s)
	sys.Put("net.ipv4.ip_forward", "0")
	mustApply(t, r, seedTable())
	if _, err := r.Resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v, _ := sys.Get("net.ipv4.ip_forward"); v != "1" || !strings.Contains(logs.String(), "repaired IPVS setting") {
		t.Errorf("sysctl drift not repaired: ip_forward %s\n%s", v, logs.String())
	}
}
