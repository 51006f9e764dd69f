package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/discovery"
)

// sessionTimeout is the seed's, for every session of the bench.
const sessionTimeout = 5 * time.Second

// vip is the virtual service the discovered members serve.
var vip = netip.MustParseAddrPort("192.0.2.80:80")

// probeKernel is the fake kernel, whose destination writes are recorded
// (when each member's destination was created or removed), with the ops
// that went in batches counted: the kernel requests are the batches plus
// the other writes.
type probeKernel struct {
	*fake.Kernel
	batchedOps atomic.Int64
}

func kernelProbe(rec *recorder) *probeKernel {
	k := &probeKernel{Kernel: fake.New()}
	k.FailWrite = func(what string) error { // called under the fake's lock: record only
		if verb, addr, ok := verbOf(what); ok {
			rec.note(event{verb, addr}, time.Now())
		}
		return nil
	}
	return k
}

// WriteBatch implements director.BatchWriter.
func (k *probeKernel) WriteBatch(ops []table.Op) []error {
	k.batchedOps.Add(int64(len(ops)))
	return k.Kernel.WriteBatch(ops)
}

// counts are the writes so far: ops, and the kernel requests carrying them.
type counts struct{ ops, batches, batchedOps int }

func (k *probeKernel) counts() counts {
	return counts{ops: k.Writes(), batches: k.Batches(), batchedOps: int(k.batchedOps.Load())}
}

func (c counts) minus(o counts) counts {
	return counts{ops: c.ops - o.ops, batches: c.batches - o.batches, batchedOps: c.batchedOps - o.batchedOps}
}

// requests is how many kernel requests carried the ops.
func (c counts) requests() int { return c.ops - c.batchedOps + c.batches }

func (c counts) String() string {
	return fmt.Sprintf("%d ops in %d kernel requests (%d batches carrying %d ops, %d single writes)",
		c.ops, c.requests(), c.batches, c.batchedOps, c.ops-c.batchedOps)
}

// startTarget runs the director under test: it follows path on the
// ensemble and programs k. The returned stop ends it.
type startTarget func(ctx context.Context, servers []string, path string, k director.Kernel) (stop func(), err error)

// startCore is the director's core fed by discovery's watcher directly:
// each update's applied members become the service's real servers
// (director.Manager.SetSpecs, as the daemon applies a configuration), the
// reconciler writes the fake kernel. No health checks (members trusted).
func startCore(ctx context.Context, servers []string, path string, k director.Kernel) (func(), error) {
	log := slog.New(slog.DiscardHandler)
	rec, err := director.NewReconciler(director.ReconcilerConfig{Kernel: k, Logger: log})
	if err != nil {
		return nil, err
	}
	mgr := director.NewManager(director.ManagerConfig{Reconciler: rec, Logger: log})
	svc := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyOf(vip.Addr()), Protocol: table.ProtoTCP,
		Address: vip.Addr(), Port: vip.Port()}, Scheduler: "rr", Netmask: table.FullNetmask(table.FamilyOf(vip.Addr()))}
	if _, _, err := mgr.SetSpecs(ctx, specsOf(svc, nil)); err != nil {
		return nil, fmt.Errorf("the service: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	stopW, err := watch(ctx, servers, path, discovery.Policy{}, func(u discovery.Update) {
		if !u.Result.Held && !u.Result.Apply.Empty() {
			mgr.SetSpecs(ctx, specsOf(svc, u.Status.Applied))
		}
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return func() { cancel(); stopW() }, nil
}

func specsOf(svc table.Service, members discovery.Set) []director.ServiceSpec {
	rss := make([]director.RealServerSpec, 0, len(members))
	for _, m := range members {
		rss = append(rss, director.RealServerSpec{Dest: table.Destination{Address: m.Addr.Addr(), Port: m.Addr.Port(),
			Family: table.FamilyOf(m.Addr.Addr()), Weight: uint32(m.Weight), Forward: table.ForwardRoute}})
	}
	return []director.ServiceSpec{{Service: svc, RealServers: rss}}
}

// watch runs a discovery watcher of path on its own session; stop ends it
// and closes the session.
func watch(ctx context.Context, servers []string, path string, p discovery.Policy, on func(discovery.Update)) (func(), error) {
	conn, kick, err := discovery.Dial(servers, sessionTimeout, nil)
	if err != nil {
		return nil, err
	}
	w, err := discovery.NewWatcher(conn, kick, discovery.WatchConfig{Path: path, Format: discovery.FormatSeed,
		Defaults: discovery.Defaults{Port: vip.Port(), Weight: 1}, Policy: p, Retry: 200 * time.Millisecond, OnUpdate: on})
	if err != nil {
		conn.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	return func() { cancel(); <-done; conn.Close() }, nil
}

// startFloor is ZooKeeper's own notification as a watcher sees it: a
// second watcher of path on its own session, recording when each member
// appears in or leaves its list (never held).
func startFloor(ctx context.Context, servers []string, path string, rec *recorder) (func(), error) {
	stop, err := watch(ctx, servers, path, discovery.Policy{HoldShare: 1}, func(u discovery.Update) {
		now := time.Now()
		for _, m := range u.Result.Apply.Added {
			rec.note(event{"create", m.Addr.String()}, now)
		}
		for _, m := range u.Result.Apply.Removed {
			rec.note(event{"remove", m.Addr.String()}, now)
		}
	})
	return stop, err
}
