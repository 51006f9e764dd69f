package realserver

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// logBuf is a goroutine-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newAgent(t *testing.T, spec Spec, sys System) (*Agent, *logBuf) {
	t.Helper()
	if spec.StateFile == "" || strings.HasPrefix(spec.StateFile, "/nonexistent") {
		spec.StateFile = filepath.Join(t.TempDir(), "state.json")
	}
	lb := &logBuf{}
	a, err := New(spec, sys, slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a, lb
}

const (
	loIgnore    = "net/ipv4/conf/lo/arp_ignore"
	allIgnore   = "net/ipv4/conf/all/arp_ignore"
	loAnnounce  = "net/ipv4/conf/lo/arp_announce"
	allAnnounce = "net/ipv4/conf/all/arp_announce"
)

func wantSysctls(t *testing.T, f *fakeSystem, kv ...string) {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		if got := f.sysctl(kv[i]); got != kv[i+1] {
			t.Errorf("sysctl %s = %q, want %q", kv[i], got, kv[i+1])
		}
	}
}

func wantAddrs(t *testing.T, f *fakeSystem, link string, want ...string) {
	t.Helper()
	if diff := cmp.Diff(want, f.addrsOn(link)); diff != "" {
		t.Errorf("addresses on %s (-want +got):\n%s", link, diff)
	}
}

func TestAgentApplyIdempotentRestore(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	f.externalSysctl(allAnnounce, "1") // a value the admin chose before: must come back
	a, _ := newAgent(t, drSpec("192.168.56.90", "2001:db8::90", "192.168.56.91"), f)

	if err := a.Apply(ctx); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	wantSysctls(t, f, loIgnore, "1", allIgnore, "1", loAnnounce, "2", allAnnounce, "2")
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo", "192.168.56.90/32 label lo:0", "2001:db8::90/128", "192.168.56.91/32 label lo:1")
	w := f.takeWrites()
	// Every sysctl is written before the first VIP appears.
	firstAdd := slices.IndexFunc(w, func(s string) bool { return strings.HasPrefix(s, "add ") })
	lastSysctl := -1
	for i, s := range w {
		if strings.HasPrefix(s, "sysctl ") {
			lastSysctl = i
		}
	}
	if firstAdd < lastSysctl || len(w) != 7 {
		t.Errorf("writes = %q: want 4 sysctls then 3 addresses", w)
	}

	st, err := LoadState(a.Spec().StateFile)
	if err != nil {
		t.Fatal(err)
	}
	wantOrig := map[string]string{loIgnore: "0", allIgnore: "0", loAnnounce: "0", allAnnounce: "1"}
	if diff := cmp.Diff(wantOrig, st.Sysctls); diff != "" {
		t.Errorf("recorded originals (-want +got):\n%s", diff)
	}

	// Second apply: a node in shape gets zero writes.
	if err := a.Apply(ctx); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if w := f.takeWrites(); len(w) != 0 {
		t.Errorf("second Apply wrote %q, want nothing", w)
	}

	if err := a.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	wantSysctls(t, f, loIgnore, "0", allIgnore, "0", loAnnounce, "0", allAnnounce, "1")
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo")
	w = f.takeWrites()
	// VIPs leave before ARP is relaxed again.
	if !strings.HasPrefix(w[0], "del ") || !strings.HasPrefix(w[len(w)-1], "sysctl ") {
		t.Errorf("restore order = %q: want deletions first, sysctls last", w)
	}
	if _, err := os.Stat(a.Spec().StateFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file after full restore: %v, want removed", err)
	}
	// A second restore has nothing to do.
	if err := a.Restore(ctx); err != nil {
		t.Fatalf("second Restore: %v", err)
	}
	if w := f.takeWrites(); len(w) != 0 {
		t.Errorf("second Restore wrote %q", w)
	}
}

func TestAgentPreexistingVIPLeft(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	f.externalAdd(Address{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo:0"})
	a, _ := newAgent(t, drSpec("192.168.56.90", "192.168.56.91"), f)
	if err := a.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	// Deleted behind our back and put back by us: still not ours.
	f.externalDel("lo", pfx("192.168.56.90/32"))
	if _, err := a.Resync(ctx); err != nil {
		t.Fatal(err)
	}
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo", "192.168.56.91/32 label lo:1", "192.168.56.90/32 label lo:0")
	if err := a.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo", "192.168.56.90/32 label lo:0")
}

func TestAgentCrashRestartKeepsOriginals(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	spec := drSpec("192.168.56.90")
	spec.StateFile = filepath.Join(t.TempDir(), "state.json")
	first, _ := newAgent(t, spec, f)
	if err := first.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	f.takeWrites()
	// kill -9: no restore. Someone removes the VIP while we are down.
	f.externalDel("lo", pfx("192.168.56.90/32"))

	second, _ := newAgent(t, spec, f)
	if err := second.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if w := f.takeWrites(); !slices.Equal(w, []string{"add 192.168.56.90/32 lo:0 on lo"}) {
		t.Errorf("restart wrote %q, want only the missing VIP", w)
	}
	st, _ := LoadState(spec.StateFile)
	if st.Sysctls[allIgnore] != "0" {
		t.Errorf("original all.arp_ignore = %q after restart, want the pre-lbrs 0", st.Sysctls[allIgnore])
	}
	if err := second.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	wantSysctls(t, f, loIgnore, "0", allIgnore, "0", loAnnounce, "0", allAnnounce, "0")
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo")
}

func TestAgentRefusesPrimaryAddress(t *testing.T) {
	f := newFake()
	a, _ := newAgent(t, drSpec("192.168.56.90", "192.168.56.200"), f)
	err := a.Apply(context.Background())
	if err == nil || !strings.Contains(err.Error(), "192.168.56.200: it is this node's own primary address on eth0") {
		t.Fatalf("Apply = %v, want refusal naming the address and device", err)
	}
	if w := f.takeWrites(); len(w) != 0 {
		t.Errorf("refused apply wrote %q", w)
	}
	if _, err := os.Stat(a.Spec().StateFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused apply left a state file: %v", err)
	}
}

func TestAgentSysctlFailureKeepsVIPsOff(t *testing.T) {
	f := newFake()
	f.sysctls.FailSet(allIgnore, errors.New("permission denied"))
	a, _ := newAgent(t, drSpec("192.168.56.90"), f)
	err := a.Apply(context.Background())
	if err == nil || !strings.Contains(err.Error(), "net.ipv4.conf.all.arp_ignore") {
		t.Fatalf("Apply = %v, want the failed sysctl named", err)
	}
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo")
	// What was changed is still recorded, so restore undoes it.
	if err := a.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantSysctls(t, f, loIgnore, "0", loAnnounce, "0", allAnnounce, "0")
}

func TestAgentRestorePartialFailureKeepsRecord(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	a, _ := newAgent(t, drSpec("192.168.56.90"), f)
	if err := a.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	f.sysctls.FailSet(allAnnounce, errors.New("read-only file system"))
	if err := a.Restore(ctx); err == nil {
		t.Fatal("Restore succeeded despite a failed write")
	}
	st, err := LoadState(a.Spec().StateFile)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{allAnnounce: "0"}, st.Sysctls); diff != "" || len(st.Addresses) != 0 {
		t.Errorf("state after partial restore: sysctls diff %s, addresses %v; want only the failed key", diff, st.Addresses)
	}
	f.sysctls.FailSet(allAnnounce, nil)
	if err := a.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	wantSysctls(t, f, allAnnounce, "0")
}

func TestAgentTUN(t *testing.T) {
	tun := func() Spec {
		s := drSpec("10.0.0.1", "2001:db8::1")
		s.Mode = ModeTUN
		return s
	}
	t.Run("module brings tunl0", func(t *testing.T) {
		ctx := context.Background()
		f := newFake()
		f.tunnelModules = map[string]string{"ipip": "tunl0", "ip6_tunnel": "ip6tnl0"}
		a, _ := newAgent(t, tun(), f)
		if err := a.Apply(ctx); err != nil {
			t.Fatal(err)
		}
		wantSysctls(t, f, "net/ipv4/conf/tunl0/rp_filter", "0", "net/ipv4/conf/all/rp_filter", "0",
			"net/ipv4/conf/tunl0/arp_ignore", "1", allIgnore, "1")
		wantAddrs(t, f, "tunl0", "10.0.0.1/32 label tunl0")
		wantAddrs(t, f, "ip6tnl0", "2001:db8::1/128")
		if li, _ := f.Link("tunl0"); !li.Up {
			t.Error("tunl0 not up")
		}
		if err := a.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		wantSysctls(t, f, "net/ipv4/conf/all/rp_filter", "1", allIgnore, "0")
		if li, err := f.Link("tunl0"); err != nil || li.Up {
			t.Errorf("tunl0 after restore: %+v %v, want present and down", li, err)
		}
		wantAddrs(t, f, "tunl0")
	})
	t.Run("no module: created, deleted on restore", func(t *testing.T) {
		ctx := context.Background()
		f := newFake()
		f.canCreate = true
		s := tun()
		s.VIPs = s.VIPs[:1]
		a, _ := newAgent(t, s, f)
		if err := a.Apply(ctx); err != nil {
			t.Fatal(err)
		}
		st, _ := LoadState(a.Spec().StateFile)
		if !st.Links["tunl0"].Created {
			t.Errorf("state links = %+v, want tunl0 recorded as created", st.Links)
		}
		if err := a.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Link("tunl0"); !errors.Is(err, ErrLinkNotFound) {
			t.Errorf("tunl0 after restore: %v, want deleted", err)
		}
		wantSysctls(t, f, "net/ipv4/conf/all/rp_filter", "1", allIgnore, "0")
	})
	t.Run("no ipip at all: explained", func(t *testing.T) {
		f := newFake()
		s := tun()
		s.VIPs = s.VIPs[:1]
		a, _ := newAgent(t, s, f)
		err := a.Apply(context.Background())
		if err == nil || !strings.Contains(err.Error(), "tunl0 does not exist and cannot be made") || !strings.Contains(err.Error(), "modprobe ipip") {
			t.Fatalf("Apply = %v, want explanation", err)
		}
		if w := f.takeWrites(); len(w) != 0 {
			t.Errorf("failed apply wrote %q", w)
		}
		st, _ := LoadState(a.Spec().StateFile)
		if !st.Empty() {
			t.Errorf("state after failure = %+v, want nothing recorded", st)
		}
	})
}

func TestAgentReload(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	a, _ := newAgent(t, drSpec("192.168.56.90"), f)
	if err := a.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	next := a.Spec()
	next.VIPs = []netip.Addr{ip("192.168.56.91")}
	if err := a.Reload(ctx, next); err != nil {
		t.Fatal(err)
	}
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo", "192.168.56.91/32 label lo:0")

	bad := a.Spec()
	bad.VIPs = append(bad.VIPs, ip("192.168.56.200"))
	if err := a.Reload(ctx, bad); err == nil || !strings.Contains(err.Error(), "old one kept") {
		t.Fatalf("Reload(primary address) = %v, want refusal", err)
	}
	if got := a.Spec().VIPs; len(got) != 1 || got[0] != ip("192.168.56.91") {
		t.Errorf("spec after refused reload = %v", got)
	}
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo", "192.168.56.91/32 label lo:0")

	// IPv6 only now: the ARP sysctls go back to their originals.
	v6 := a.Spec()
	v6.VIPs = []netip.Addr{ip("2001:db8::90")}
	if err := a.Reload(ctx, v6); err != nil {
		t.Fatal(err)
	}
	wantSysctls(t, f, loIgnore, "0", allIgnore, "0", loAnnounce, "0", allAnnounce, "0")
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo", "2001:db8::90/128")
}

func TestAgentWatchRepairs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake()
	spec := drSpec("192.168.56.90")
	spec.ResyncInterval = 50 * time.Millisecond
	a, logs := newAgent(t, spec, f)
	if err := a.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Watch(ctx) }()
	waitFor(t, "subscription", func() bool { return f.subscriptions() == 1 })

	// ip addr del: repaired from the netlink event.
	f.externalDel("lo", pfx("192.168.56.90/32"))
	waitFor(t, "VIP back", func() bool { return slices.Contains(f.addrsOn("lo"), "192.168.56.90/32 label lo:0") })
	waitFor(t, "repair logged", func() bool {
		return strings.Contains(logs.String(), `level=WARN msg=repair action=add-addr what="address 192.168.56.90/32 lo:0 on lo" expected="192.168.56.90/32 label lo:0" found=absent`)
	})

	// sysctl changed: no event, repaired by the interval resync.
	f.externalSysctl(allIgnore, "0")
	waitFor(t, "sysctl back", func() bool { return f.sysctl(allIgnore) == "1" })
	waitFor(t, "sysctl repair logged", func() bool {
		return strings.Contains(logs.String(), `msg=repair action=write-sysctl what="sysctl net.ipv4.conf.all.arp_ignore" expected=1 found=0`)
	})

	// Subscription breaks, and a change slips in meanwhile: resubscribed and resynced.
	f.mu.Lock()
	f.links["lo"].addrs = slices.DeleteFunc(f.links["lo"].addrs, func(a Address) bool { return a.Prefix == pfx("192.168.56.90/32") })
	f.mu.Unlock()
	f.breakSubscriptions()
	waitFor(t, "resubscribed", func() bool { return f.subscriptions() == 2 })
	waitFor(t, "VIP back after resubscribe", func() bool { return slices.Contains(f.addrsOn("lo"), "192.168.56.90/32 label lo:0") })

	// After Restore the watcher no longer puts things back.
	if err := a.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * spec.ResyncInterval)
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Watch returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

func TestAgentWatchSubscribeFailureStillResyncs(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFake()
	f.subErr = errors.New("netlink: no buffer space")
	spec := drSpec("192.168.56.90")
	spec.ResyncInterval = 30 * time.Millisecond
	a, logs := newAgent(t, spec, f)
	if err := a.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	go a.Watch(ctx)
	f.externalDel("lo", pfx("192.168.56.90/32"))
	waitFor(t, "VIP back by interval", func() bool { return slices.Contains(f.addrsOn("lo"), "192.168.56.90/32 label lo:0") })
	if !strings.Contains(logs.String(), "subscribe to address changes failed") {
		t.Error("subscription failure not logged")
	}
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	f.externalAdd(Address{Link: "lo", Prefix: pfx("192.168.56.91/32")})
	a, _ := newAgent(t, drSpec("192.168.56.90", "192.168.56.91"), f)

	s, err := a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Differs() != 6 { // 4 sysctls, .90 absent, .91 without its label
		t.Errorf("before apply: %d differ, want 6:\n%v", s.Differs(), s.Items)
	}
	if err := a.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	f.externalSysctl(loAnnounce, "0")
	s, err = a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	s.WriteTo(&out)
	got := out.String()
	for _, want := range []string{
		"mode dr\n",
		"link     lo                                 up                    up                             OK       pre-existing (was up)",
		"sysctl   net.ipv4.conf.lo.arp_announce      2                     0                              DIFFERS  lbrs (original 0, restored on stop)",
		"sysctl   net.ipv4.conf.all.arp_ignore       1                     1                              OK       lbrs (original 0, restored on stop)",
		"address  192.168.56.90 on lo                192.168.56.90/32 label lo:0  192.168.56.90/32 label lo:0",
		"address  192.168.56.91 on lo                192.168.56.91/32 label lo:1  192.168.56.91/32 label lo    OK       pre-existing (left on restore)",
	} {
		if !strings.Contains(collapse(got), collapse(want)) {
			t.Errorf("status output lacks %q:\n%s", want, got)
		}
	}
	if s.Differs() != 1 {
		t.Errorf("after drift: %d differ, want 1", s.Differs())
	}

	// A VIP that is the node's own address shows as a warning.
	bad := a.Spec()
	bad.VIPs = append(bad.VIPs, ip("192.168.56.200"))
	b, _ := newAgent(t, bad, f)
	s, err = b.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "own primary address on eth0") {
		t.Errorf("warnings = %q", s.Warnings)
	}
}

// collapse squeezes runs of spaces so table assertions ignore column widths.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state.json")
	st, err := LoadState(path)
	if err != nil || !st.Empty() {
		t.Fatalf("LoadState(missing) = %+v, %v; want empty", st, err)
	}
	want := State{Version: 1, Sysctls: map[string]string{allIgnore: "0"},
		Addresses: []AddrRecord{{Link: "lo", Prefix: pfx("10.0.0.1/32"), Label: "lo:0"}},
		Links:     map[string]LinkRecord{"tunl0": {Created: true}}}
	if err := SaveState(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, prefixCmp()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the state file (no temporaries)", len(entries))
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"prefix": "10.0.0.1/32"`) {
		t.Errorf("state file is not readable JSON text:\n%s", b)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(path); !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), path+": not a state file lbrs wrote") {
		t.Errorf("LoadState(corrupt) = %v, want parse error", err)
	}
	if err := SaveState(path, State{Version: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("saving an empty state should remove the file: %v", err)
	}
}

func TestLockState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	release, err := LockState(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockState(path); !errors.Is(err, ErrLocked) {
		t.Errorf("second lock = %v, want ErrLocked", err)
	}
	release()
	release2, err := LockState(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release2()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAgentFailedAddNotClaimed(t *testing.T) {
	f := newFake()
	f.failAdd = map[netip.Addr]error{ip("2001:db8::90"): errors.New("permission denied (ipv6 disabled on lo)")}
	a, _ := newAgent(t, drSpec("192.168.56.90", "2001:db8::90"), f)
	if err := a.Apply(context.Background()); err == nil || !strings.Contains(err.Error(), "2001:db8::90") {
		t.Fatalf("Apply = %v, want the failed VIP named", err)
	}
	// The IPv4 VIP is in place all the same.
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo", "192.168.56.90/32 label lo:0")
	st, _ := LoadState(a.Spec().StateFile)
	if _, i := st.addr("lo", ip("2001:db8::90")); i >= 0 {
		t.Errorf("state claims the VIP that could not be added: %+v", st.Addresses)
	}
	// Someone else adds it later: restore leaves it.
	f.failAdd = nil
	f.externalAdd(Address{Link: "lo", Prefix: pfx("2001:db8::90/128")})
	if err := a.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo", "2001:db8::90/128")
}
