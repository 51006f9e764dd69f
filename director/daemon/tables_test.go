package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/director/table/tabletest"
)

// Table fixtures shared by this package's tests.

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// spec is one wrr service with three real servers of weights 1, 2, 3.
func spec(inhibit bool) director.ServiceSpec {
	s := director.ServiceSpec{Service: tabletest.Service(table.ProtoTCP, "192.168.56.90:80", "wrr"), Quorum: 1}
	for i, a := range []string{"192.168.56.200:80", "192.168.56.201:80", "192.168.56.202:80"} {
		s.RealServers = append(s.RealServers, director.RealServerSpec{Dest: tabletest.Dest(a, table.ForwardRoute, uint32(i+1)), InhibitOnFailure: inhibit})
	}
	return s
}

func rsID(s director.ServiceSpec, addr string) director.RealServerID {
	a := ap(addr)
	return director.RealServerID{Service: s.Service.Key(), Address: a.Addr(), Port: a.Port()}
}

func newRec(t *testing.T, k *fake.Kernel, sys ...director.Sysctls) *director.Reconciler {
	t.Helper()
	cfg := director.ReconcilerConfig{Kernel: k, Logger: discard(), Sleep: func(context.Context, time.Duration) error { return nil }}
	if len(sys) > 0 {
		cfg.Sysctls = sys[0]
	}
	r, err := director.NewReconciler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func assertKernel(t *testing.T, k *fake.Kernel, want table.Table) {
	t.Helper()
	if ops := table.Diff(want, k.Table(), table.DiffOptions{Purge: true}); len(ops) > 0 {
		t.Fatalf("kernel differs from desired: %v", ops)
	}
}

// applied is a daemon on a fake kernel that has applied the configuration
// y (a format with two %s for its state directory), without running: no
// scheduler, no listeners. y must have no VRRP instance.
func applied(t *testing.T, y string) (*Daemon, *fake.Kernel) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(y, dir, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	k := fake.New()
	d, err := New(path, Options{Kernel: k, LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	if _, err := d.apply(context.Background(), d.loaded, applyStart, false); err != nil {
		t.Fatal(err)
	}
	return d, k
}
