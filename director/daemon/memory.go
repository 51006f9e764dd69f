package daemon

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// lbd's memory policy (Options.MemoryPolicy): a soft memory limit that
// follows the live heap, so that the Go runtime collects before the heap
// doubles (GOGC=100 lets it reach twice the live heap: lbd at 1,000 x 10
// held about 31 MB and sat at 105 MiB RSS).
//
// The limit is the live heap plus a quarter of it, and never under
// memoryFloor; it is set before the configuration is read
// (the floor: parsing holds more than its result, most of all a file that
// is not parsed a virtual server at a time, whose YAML tree is about 20
// times its size: internal/config/stream.go) and follows the live heap every memoryEvery; after a configuration is
// read and after an apply, lbd collects at once and returns what it freed
// to the system (settle). It is soft: when the live
// heap nears it, the collector runs more often (the runtime caps that at
// about half the CPU), it never fails an allocation. With GOMEMLIMIT or
// GOGC in the environment the operator decides and lbd sets nothing.
const (
	memoryFloor = 40 << 20
	memoryEvery = 5 * time.Second
)

// memoryLimit is the limit for a live heap of live bytes.
func memoryLimit(live uint64) int64 {
	return int64(max(live+live/4, memoryFloor))
}

// memoryPolicy sets the soft memory limit; nil when the environment
// decides (GOMEMLIMIT or GOGC set).
type memoryPolicy struct {
	sample []metrics.Sample
	limit  int64
}

func newMemoryPolicy() *memoryPolicy {
	if os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return nil
	}
	p := &memoryPolicy{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	p.limit = memoryFloor
	debug.SetMemoryLimit(p.limit)
	return p
}

// settle collects now and returns the free memory to the system, then
// follows the live heap: after a configuration is read (its YAML tree) and
// after an apply (its plan, the first write's ops), what they held is
// garbage at once, and the runtime would otherwise give it back only over
// minutes. Nil does nothing.
func (p *memoryPolicy) settle() {
	if p == nil {
		return
	}
	debug.FreeOSMemory()
	p.follow()
}

// follow sets the limit from the live heap (as of the last collection).
func (p *memoryPolicy) follow() {
	metrics.Read(p.sample)
	if p.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	if l := memoryLimit(p.sample[0].Value.Uint64()); l != p.limit {
		p.limit = l
		debug.SetMemoryLimit(l)
	}
}

// run follows the live heap until ctx ends; it logs the policy once.
func (p *memoryPolicy) run(ctx context.Context, log *slog.Logger) {
	if p == nil {
		log.Info("memory: GOMEMLIMIT or GOGC set, lbd sets no memory limit")
		return
	}
	p.follow()
	log.Info("memory: soft limit follows the live heap", "limit_mib", p.limit>>20)
	t := time.NewTicker(memoryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.follow()
		}
	}
}
