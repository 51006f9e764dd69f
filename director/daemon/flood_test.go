package daemon

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/internal/httplimit"
	"github.com/lvsd/lb/internal/httplimit/floodtest"
)

func TestMain(m *testing.M) {
	floodtest.MaybeHelper() // the child of floodtest.Start
	os.Exit(m.Run())
}

// lowerFDLimit sets the soft RLIMIT_NOFILE to n for the test (the flood
// helper is another process: its limit is its own).
func lowerFDLimit(t *testing.T, n uint64) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = min(n, old.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// TestDaemonWorksDuringControlFlood: while 2,000 hostile connections
// flood the control socket, with lbd's descriptor limit 400 above what it
// holds, the health checks keep the table right (no false failure, a real
// failure and recovery seen), a reload applies, a status answers, and lbd's
// descriptors stay bounded. Before the control socket's limits the flood
// took every descriptor: the checks failed with "too many open files",
// taking the real servers out, and reloads and status hung.
func TestDaemonWorksDuringControlFlood(t *testing.T) {
	f := start(t, false)
	want := map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1}
	waitFor(t, "table programmed", func() bool { return eqDests(f.dests(), want) })
	base := floodtest.OpenFDs(t)
	lowerFDLimit(t, uint64(base+400))
	fc := floodtest.Start(t, f.sock, 2000)
	t.Logf("flood: %d connections dialed; lbd holds %d descriptors before, limit %d", fc.Dials, base, base+400)

	// Checks run every 50ms: for 2s none may fail.
	maxFDs := 0
	for range 20 {
		maxFDs = max(maxFDs, floodtest.OpenFDs(t))
		if got := f.dests(); !eqDests(got, want) {
			t.Fatalf("the table changed during the flood: %v (logs below)", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A real failure and its recovery are still seen.
	backends[0].fail.Store(true)
	waitFor(t, "server 1 removed", func() bool { return eqDests(f.dests(), map[string]uint32{"198.51.100.2": 1}) })
	backends[0].fail.Store(false)
	waitFor(t, "server 1 restored", func() bool { return eqDests(f.dests(), want) })

	// A reload and a status over the flooded socket.
	cl := control.NewClient(f.sock)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	writeConfig(t, f.cfg, f.dir, 5, false, "")
	t0 := time.Now()
	if res, err := cl.Reload(ctx, control.ReloadRequest{}); err != nil || res.Apply == nil || res.Apply.Writes != 1 {
		t.Fatalf("reload during the flood: %+v %v", res, err)
	}
	reloadTook := time.Since(t0)
	want["198.51.100.1"] = 5
	if got := f.dests(); !eqDests(got, want) {
		t.Errorf("after the reload: %v", got)
	}
	t0 = time.Now()
	if st, err := cl.Status(ctx); err != nil || len(st.RealServers) != 2 {
		t.Fatalf("status during the flood: %+v %v", st.RealServers, err)
	}
	statusTook := time.Since(t0)
	maxFDs = max(maxFDs, floodtest.OpenFDs(t))
	t.Logf("during the flood: lbd's descriptors %d -> max %d; reload answered in %v, status in %v",
		base, maxFDs, reloadTook, statusTook)
	if maxFDs > base+httplimit.DefaultMaxConns+32 {
		t.Errorf("lbd holds %d descriptors during the flood, %d before", maxFDs, base)
	}
}
