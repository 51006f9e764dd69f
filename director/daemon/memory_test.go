package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/healthcheck"
)

// scaleConfig is lbd.yaml with services x reals, each real server with an
// HTTP check (a digest, at its own connect_ip), as rssbench runs it; the
// first checks are due after warmup.
func scaleConfig(dir string, services, reals int, warmup time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  log_level: error\n  control_socket: %s/lbd.sock\n  state_dir: %s\n  metrics_address: \"\"\n  resync_interval: 1h\n", dir, dir)
	b.WriteString("virtual_servers:\n")
	for s := range services {
		fmt.Fprintf(&b, "  - {address: 10.200.%d.%d, port: 80, scheduler: rr, forwarding: NAT, delay_loop: 1s, connect_timeout: 2s, retry: 1, delay_before_retry: 1s, warmup: %s, real_servers: [\n",
			1+s/250, 1+s%250, warmup)
		for r := range reals {
			i := s*reals + r
			a := [4]byte{byte(1 + i/(254*254)), byte(1 + (i/254)%254), byte(1 + i%254)}
			fmt.Fprintf(&b, "    {address: 10.%d.%d.%d, port: 8080, checks: [{type: http, connect_ip: 127.%d.%d.%d, urls: [{path: /, digest: 0123456789abcdef0123456789abcdef}]}]},\n",
				a[0], a[1], a[2], a[0], a[1], a[2])
		}
		b.WriteString("  ]}\n")
	}
	return b.String()
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestDaemonLiveHeapAtScale guards lbd's memory at issue 12's scale: a
// running daemon with 1,000 services x 10 real servers, one HTTP check
// each, on the fake kernel (whose table counts, as it does in rssbench),
// holds under a bound of live heap. The checks are subscribed and their
// checkers built, but none is due within the test (a one-hour warm-up with
// the jitter at its maximum), so no socket is opened: what is measured is
// the daemon's state, not attempts in flight. It held 49 MiB before the
// memory work of issue 12 and 33 MiB after (the fake kernel's table, about
// 3.5 MiB, included); the bound leaves 20% for the next changes and still
// fails on the old code. LBD_MEMTEST_HEAPPROFILE=FILE writes the heap
// profile at the measure.
func TestDaemonLiveHeapAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 10,000 checks: not in -short")
	}
	const services, reals = 1000, 10
	const bound = 40 << 20
	if os.Getenv("LBD_MEMTEST_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 64 // a profile that counts nearly every allocation
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(path, []byte(scaleConfig(dir, services, reals, time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	base := liveHeap()
	k := fake.New()
	ready := make(chan struct{})
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // the policy's limit is the process's
	d, err := New(path, Options{Kernel: k, LogOutput: &syncBuf{}, MemoryPolicy: os.Getenv("GOMEMLIMIT") == "", Notify: func(s string) {
		if s == "READY=1" {
			close(ready)
		}
	}, Health: healthcheck.Options{Jitter: func(max time.Duration) time.Duration { return max - 1 }}})
	if err != nil {
		t.Fatal(err)
	}
	{
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("after New: HeapSys %.1f MiB; %s", float64(ms.HeapSys)/(1<<20), procStatus())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon stopped before ready: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("daemon not ready after 2 minutes")
	}
	svcs, err := k.Services()
	if err != nil || len(svcs) != services {
		t.Fatalf("kernel has %d services (%v), want %d", len(svcs), err, services)
	}
	if st := d.sched.Stats(); st.Runners != services*reals {
		t.Fatalf("%d checks running, want %d", st.Runners, services*reals)
	}
	live := liveHeap() - base
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("heap mapped at its largest (HeapSys): %.1f MiB, %d GCs; %s", float64(ms.HeapSys)/(1<<20), ms.NumGC, procStatus())
	if p := os.Getenv("LBD_MEMTEST_HEAPPROFILE"); p != "" {
		writeHeapProfile(t, p)
	}
	t.Logf("live heap of the daemon at %d x %d: %.1f MiB (%d bytes per real server)", services, reals,
		float64(live)/(1<<20), live/(services*reals))
	if live > bound {
		t.Errorf("live heap %.1f MiB, want under %.0f MiB", float64(live)/(1<<20), float64(bound)/(1<<20))
	}
	runtime.KeepAlive(d)
}

// writeHeapProfile writes the heap profile to path (for the figures:
// LBD_MEMTEST_HEAPPROFILE=FILE, then go tool pprof -sample_index=inuse_space).
func writeHeapProfile(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryLimitFollowsLiveHeap(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		name string
		live uint64
		want int64
	}{
		{"nothing live: the floor", 0, 40 * mib},
		{"1,000 x 10 (about 30 MiB): the floor", 30 * mib, 40 * mib},
		{"just over the floor", 40 * mib, 50 * mib},
		{"large heap: a quarter over it", 400 * mib, 500 * mib},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := memoryLimit(tt.live); got != tt.want {
				t.Errorf("memoryLimit(%d MiB) = %d MiB, want %d MiB", tt.live/mib, got/mib, tt.want/mib)
			}
		})
	}
}

// TestMemoryPolicyLeavesTheEnvironmentAlone: with GOMEMLIMIT or GOGC set,
// lbd sets no limit of its own.
func TestMemoryPolicyLeavesTheEnvironmentAlone(t *testing.T) {
	for _, env := range []string{"GOMEMLIMIT", "GOGC"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "100")
			before := debug.SetMemoryLimit(-1)
			if p := newMemoryPolicy(); p != nil {
				t.Errorf("%s set: a policy was made", env)
			}
			if after := debug.SetMemoryLimit(-1); after != before {
				t.Errorf("%s set: the limit changed from %d to %d", env, before, after)
			}
		})
	}
}

// procStatus is this process's resident set now and at its peak.
func procStatus() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "VmHWM") || strings.HasPrefix(l, "RssAnon") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, ", ")
}
