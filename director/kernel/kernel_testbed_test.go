//go:build testbed_guest

// These tests run inside the testbed VM (tag testbed_guest, like
// e2e/scenarios): they need a kernel with IPVS, root, and ipvsadm and ip in
// PATH, and they flush the IPVS table of the namespace they run in.
// Build: CGO_ENABLED=0 go test -c -tags testbed_guest -o kernel.test ./director/kernel
package kernel_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/sysctl"
)

func open(t *testing.T) *kernel.Handle {
	t.Helper()
	h, err := kernel.Open()
	if err != nil {
		t.Fatalf("IPVS not available: %v", err)
	}
	t.Cleanup(func() { h.Flush(); h.Close() })
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	return h
}

func ipvsadm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("ipvsadm", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("ipvsadm %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func a(s string) netip.Addr { return netip.MustParseAddr(s) }

func svc4(proto table.Protocol, addr string, port uint16, sched string) table.Service {
	return table.Service{
		ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: proto, Address: a(addr), Port: port},
		Scheduler:  sched, Netmask: 0xffffffff,
	}
}

func dst(addr string, port uint16, fwd table.Forward, w uint32) table.Destination {
	ad := a(addr)
	return table.Destination{Address: ad, Port: port, Family: table.FamilyOf(ad), Forward: fwd, Weight: w}
}

// fullTable has every forwarding method, tunnel type, the schedulers the
// testbed kernel loads, flags, persistence, fwmark, IPv6, SCTP, thresholds.
func fullTable() table.Table {
	var t table.Table
	s := svc4(table.ProtoTCP, "192.168.56.90", 80, "rr")
	s.Destinations = []table.Destination{dst("192.168.56.200", 80, table.ForwardRoute, 1), dst("192.168.56.201", 80, table.ForwardRoute, 3)}
	t.Services = append(t.Services, s)

	s = svc4(table.ProtoTCP, "192.168.1.100", 443, "wlc")
	s.Flags, s.Timeout, s.Netmask = table.FlagPersistent, 300, 0xffffff00
	d := dst("10.0.0.11", 8443, table.ForwardMasq, 2)
	d.UpperThreshold, d.LowerThreshold = 100, 10
	s.Destinations = []table.Destination{d, dst("10.0.0.12", 8443, table.ForwardMasq, 0)}
	t.Services = append(t.Services, s)

	s = svc4(table.ProtoUDP, "10.1.1.1", 53, "sh")
	s.Flags = table.FlagSHFallback | table.FlagSHPort | table.FlagOnePacket
	s.Destinations = []table.Destination{dst("10.0.0.5", 53, table.ForwardMasq, 1)}
	t.Services = append(t.Services, s)

	s = svc4(table.ProtoTCP, "10.1.1.2", 80, "mh")
	s.Flags = table.FlagMHPort
	s.Destinations = []table.Destination{dst("10.0.0.6", 80, table.ForwardRoute, 1)}
	t.Services = append(t.Services, s)

	s = svc4(table.ProtoTCP, "10.2.2.2", 80, "wrr")
	ipip := dst("10.0.1.1", 80, table.ForwardTunnel, 1)
	gue := dst("10.0.1.2", 80, table.ForwardTunnel, 2)
	gue.TunnelType, gue.TunnelPort, gue.TunnelFlags = table.TunnelGUE, 6080, table.TunnelCsum
	gre := dst("10.0.1.3", 80, table.ForwardTunnel, 3)
	gre.TunnelType, gre.TunnelFlags = table.TunnelGRE, table.TunnelCsum // ipvsadm refuses remcsum with gre
	s.Destinations = []table.Destination{ipip, gue, gre}
	t.Services = append(t.Services, s)

	s = svc4(table.ProtoSCTP, "10.3.3.3", 3868, "lc")
	s.Destinations = []table.Destination{dst("10.0.2.1", 3868, table.ForwardMasq, 1)}
	t.Services = append(t.Services, s)

	for i, sched := range []string{"dh", "lblc", "lblcr", "sed", "nq", "fo", "ovf"} {
		s = svc4(table.ProtoTCP, "10.4.4.4", uint16(1000+i), sched)
		s.Destinations = []table.Destination{dst("10.0.3.1", uint16(1000+i), table.ForwardRoute, 1)}
		t.Services = append(t.Services, s)
	}

	s = svc4(table.ProtoTCP, "10.5.5.5", 0, "rr")
	s.Flags, s.Timeout = table.FlagPersistent, 360
	s.Destinations = []table.Destination{dst("10.0.4.1", 0, table.ForwardRoute, 1)}
	t.Services = append(t.Services, s)

	fw := table.Service{ServiceKey: table.ServiceKey{FWMark: 5, Family: table.FamilyIPv4}, Scheduler: "rr", Netmask: 0xffffffff}
	fw.Destinations = []table.Destination{dst("10.0.0.7", 0, table.ForwardRoute, 1)}
	t.Services = append(t.Services, fw)

	fw6 := table.Service{ServiceKey: table.ServiceKey{FWMark: 6, Family: table.FamilyIPv6}, Scheduler: "wrr",
		Flags: table.FlagPersistent, Timeout: 60, Netmask: 64}
	fw6.Destinations = []table.Destination{dst("2001:db8::7", 0, table.ForwardRoute, 1)}
	t.Services = append(t.Services, fw6)

	s6 := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv6, Protocol: table.ProtoTCP, Address: a("2001:db8::90"), Port: 80},
		Scheduler: "lc", Netmask: 128}
	s6.Destinations = []table.Destination{dst("2001:db8::200", 80, table.ForwardMasq, 5), dst("2001:db8::1:0:0:201", 8080, table.ForwardMasq, 1),
		dst("10.0.1.9", 80, table.ForwardTunnel, 1)}
	t.Services = append(t.Services, s6)

	// Addresses more than 2^31 apart: ipvsadm's comparator wraps.
	for _, ad := range []string{"200.1.1.1", "10.9.9.9", "192.168.0.1"} {
		s = svc4(table.ProtoUDP, ad, 9999, "rr")
		s.Destinations = []table.Destination{dst("172.16.0.1", 9999, table.ForwardRoute, 1), dst("10.0.0.1", 9999, table.ForwardRoute, 1),
			dst("200.0.0.1", 9999, table.ForwardRoute, 1)}
		t.Services = append(t.Services, s)
	}
	return t
}

func newRec(t *testing.T, h *kernel.Handle) *director.Reconciler {
	t.Helper()
	r, err := director.NewReconciler(director.ReconcilerConfig{Kernel: h})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTestbedRoundTripAndAdopt(t *testing.T) {
	h := open(t)
	want := fullTable()
	r := newRec(t, h)
	w0 := h.Writes()
	if _, err := r.Apply(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	rules := 0
	for _, s := range want.Services {
		rules += 1 + len(s.Destinations)
	}
	if got := h.Writes() - w0; got != uint64(rules) {
		t.Errorf("apply from empty: %d writes, want %d", got, rules)
	}
	got, err := table.Read(h)
	if err != nil {
		t.Fatal(err)
	}
	if ops := table.Diff(want, got, table.DiffOptions{Purge: true}); len(ops) > 0 {
		t.Fatalf("read back differs: %v", ops)
	}
	// A new daemon on the same table: zero writes.
	w0 = h.Writes()
	if _, err := newRec(t, h).Apply(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if n := h.Writes() - w0; n != 0 {
		t.Errorf("adopt: %d writes, want 0", n)
	}
	// One weight changed: one write.
	changed := want.Clone()
	changed.Services[0].Destinations[1].Weight = 9
	w0 = h.Writes()
	if _, err := r.Apply(context.Background(), changed); err != nil {
		t.Fatal(err)
	}
	if n := h.Writes() - w0; n != 1 {
		t.Errorf("one weight change: %d writes, want 1", n)
	}
}

// TestTestbedPrinterMatchesIpvsadm compares our printer with ipvsadm on
// the same kernel table, byte for byte, in every list format.
func TestTestbedPrinterMatchesIpvsadm(t *testing.T) {
	h := open(t)
	if _, err := newRec(t, h).Apply(context.Background(), fullTable()); err != nil {
		t.Fatal(err)
	}
	info, err := h.Info()
	if err != nil {
		t.Fatal(err)
	}
	formats := []struct {
		args []string
		f    table.Format
	}{
		{[]string{"-ln"}, table.FormatNumeric},
		{[]string{"-ln", "--stats"}, table.FormatNumeric | table.FormatStats},
		{[]string{"-ln", "--rate"}, table.FormatNumeric | table.FormatRate},
		{[]string{"-ln", "--thresholds"}, table.FormatNumeric | table.FormatThresholds},
		{[]string{"-ln", "--persistent-conn"}, table.FormatNumeric | table.FormatPersistentConn},
		{[]string{"-ln", "--tun-info"}, table.FormatNumeric | table.FormatTunInfo},
		{[]string{"-ln", "--stats", "--exact"}, table.FormatNumeric | table.FormatStats | table.FormatExact},
		{[]string{"-ln", "--nosort"}, table.FormatNumeric | table.FormatNoSort},
		{[]string{"-Sn"}, table.FormatNumeric | table.FormatRule},
	}
	for _, f := range formats {
		tb, err := table.Read(h)
		if err != nil {
			t.Fatal(err)
		}
		want := ipvsadm(t, f.args...)
		var got bytes.Buffer
		if err := table.WriteList(&got, info, tb, f.f, nil); err != nil {
			t.Fatal(err)
		}
		if got.String() != want {
			t.Errorf("ipvsadm %s differs:\n--- ipvsadm\n%s--- ours\n%s", strings.Join(f.args, " "), want, got.String())
		}
	}
	// Timeouts, as the seed sets them.
	if err := h.SetTimeouts(table.Timeouts{TCP: 1, TCPFin: 1, UDP: 1}); err != nil {
		t.Fatal(err)
	}
	to, err := h.Timeouts()
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	table.WriteTimeouts(&got, to)
	if want := ipvsadm(t, "-L", "--timeout"); got.String() != want {
		t.Errorf("timeouts: ipvsadm %q, ours %q", want, got.String())
	}
	h.SetTimeouts(table.Timeouts{TCP: 900, TCPFin: 120, UDP: 300})
}

// TestTestbedSaveRestore: our -S output restored by ipvsadm -R gives the
// same table.
func TestTestbedSaveRestore(t *testing.T) {
	h := open(t)
	want := fullTable()
	var save bytes.Buffer
	if err := table.WriteSave(&save, want, table.FormatNumeric, nil); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ipvsadm", "-R")
	cmd.Stdin = &save
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ipvsadm -R: %v: %s", err, out)
	}
	got, err := table.Read(h)
	if err != nil {
		t.Fatal(err)
	}
	// ipvsadm -S has no thresholds (nor does our copy of its format).
	for i := range want.Services {
		for j := range want.Services[i].Destinations {
			want.Services[i].Destinations[j].UpperThreshold = 0
			want.Services[i].Destinations[j].LowerThreshold = 0
		}
	}
	if ops := table.Diff(want, got, table.DiffOptions{Purge: true}); len(ops) > 0 {
		t.Fatalf("restored table differs: %v", ops)
	}
}

// TestTestbedWriteBatch: the batched encoder builds the same table as
// cloudflare/ipvs, and failures come back on the right ops.
func TestTestbedWriteBatch(t *testing.T) {
	h := open(t)
	want := fullTable()
	ops := table.Diff(want, table.Table{}, table.DiffOptions{})
	w0 := h.Writes()
	for i, err := range h.WriteBatch(ops) {
		if err != nil {
			t.Errorf("op %d %s: %v", i, ops[i], err)
		}
	}
	if n := h.Writes() - w0; n != uint64(len(ops)) {
		t.Errorf("%d writes counted for %d ops", n, len(ops))
	}
	got, err := table.Read(h)
	if err != nil {
		t.Fatal(err)
	}
	if d := table.Diff(want, got, table.DiffOptions{Purge: true}); len(d) > 0 {
		t.Fatalf("batched table differs: %v", d)
	}

	s := want.Services[0]
	bad := svc4(table.ProtoTCP, "10.9.0.2", 80, "nosuchsched")
	newSvc := svc4(table.ProtoTCP, "10.9.0.3", 80, "rr")
	upd := s.Destinations[0]
	upd.Weight = 42
	mixed := []table.Op{
		{Kind: table.OpCreateService, Service: s.WithoutDestinations()},                               // EEXIST
		{Kind: table.OpCreateService, Service: bad},                                                   // ENOENT
		{Kind: table.OpCreateService, Service: newSvc},                                                // ok
		{Kind: table.OpCreateDest, Service: newSvc, Dest: dst("10.9.1.1", 80, table.ForwardRoute, 1)}, // ok
		{Kind: table.OpUpdateDest, Service: s, Dest: dst("10.99.99.99", 80, table.ForwardRoute, 1)},   // ENOENT
		{Kind: table.OpUpdateDest, Service: s, Dest: upd},                                             // ok
		{Kind: table.OpRemoveService, Service: bad},                                                   // ESRCH
	}
	errs := h.WriteBatch(mixed)
	wantErr := []error{syscall.EEXIST, syscall.ENOENT, nil, nil, syscall.ENOENT, nil, syscall.ESRCH}
	for i, e := range errs {
		if !errors.Is(e, wantErr[i]) {
			t.Errorf("op %d %s: err %v, want %v", i, mixed[i], e, wantErr[i])
		}
	}
	got, _ = table.Read(h)
	if sv, ok := got.Find(s.Key()); !ok || sv.Destinations[0].Weight != 42 && sv.Destinations[1].Weight != 42 {
		t.Errorf("update in a batch after failures not applied: %+v", sv.Destinations)
	}
	if _, ok := got.Find(newSvc.Key()); !ok {
		t.Error("service created in a batch after failures missing")
	}
}

func TestTestbedHandEditRepaired(t *testing.T) {
	h := open(t)
	want := fullTable()
	r := newRec(t, h)
	if _, err := r.Apply(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	ipvsadm(t, "-d", "-t", "192.168.56.90:80", "-r", "192.168.56.201")
	ipvsadm(t, "-e", "-t", "192.168.1.100:443", "-r", "10.0.0.11:8443", "-m", "-w", "7")
	ipvsadm(t, "-a", "-t", "192.168.56.90:80", "-r", "192.168.56.250", "-g")
	ipvsadm(t, "-A", "-t", "203.0.113.1:80", "-s", "rr") // not ours: left alone
	res, err := r.Resync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ops) != 3 {
		t.Errorf("resync: %d repairs, want 3: %v", len(res.Ops), res.Ops)
	}
	got, err := table.Read(h)
	if err != nil {
		t.Fatal(err)
	}
	if ops := table.Diff(want, got, table.DiffOptions{}); len(ops) > 0 {
		t.Fatalf("after resync: %v", ops)
	}
	if _, ok := got.Find(table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: a("203.0.113.1"), Port: 80}); !ok {
		t.Error("unmanaged service was removed")
	}
}

// TestTestbedConformance runs against the real kernel the script that
// director/kernel/fake's TestConformance runs against the fake: the errnos
// and reports the fake promises are the kernel's, through single calls and
// through WriteBatch.
func TestTestbedConformance(t *testing.T) {
	h := open(t)
	veth(t, "lbconf0", "lbconf1")
	t.Cleanup(func() {
		h.StopDaemon(table.DaemonMaster)
		h.StopDaemon(table.DaemonBackup)
	})
	env := fake.Env{Interface: "lbconf0", Local: a("127.0.0.1"), DaemonStarted: masterThreadsSleeping}
	if err := fake.Conform(h, env); err != nil {
		t.Error(err)
	}
}

// veth creates a veth pair, up, removed at the end of the test.
func veth(t *testing.T, name, peer string) {
	t.Helper()
	if out, err := exec.Command("ip", "link", "add", name, "type", "veth", "peer", "name", peer).CombinedOutput(); err != nil {
		t.Fatalf("create veth: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
	if out, err := exec.Command("ip", "link", "set", name, "up").CombinedOutput(); err != nil {
		t.Fatalf("set %s up: %v: %s", name, err, out)
	}
}

func TestTestbedSyncDaemon(t *testing.T) {
	h := open(t)
	veth(t, "lbsync0", "lbsync1")
	want := &table.Daemon{State: table.DaemonMaster, Interface: "lbsync0", SyncID: 51}
	ch, err := director.EnsureSyncDaemon(h, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 1 {
		t.Errorf("changes %v", ch)
	}
	ds, err := h.Daemons()
	if err != nil || len(ds) != 1 || ds[0].State != table.DaemonMaster || ds[0].Interface != "lbsync0" || ds[0].SyncID != 51 {
		t.Fatalf("daemons %+v %v", ds, err)
	}
	var got bytes.Buffer
	table.WriteDaemons(&got, ds)
	if w := ipvsadm(t, "-L", "--daemon"); got.String() != w {
		t.Errorf("daemon listing: ipvsadm %q, ours %q", w, got.String())
	}
	if ch, err := director.EnsureSyncDaemon(h, want); err != nil || len(ch) != 0 {
		t.Errorf("second ensure: %v %v", ch, err)
	}
	if err := masterThreadsSleeping(); err != nil {
		t.Fatal(err)
	}
	if _, err := director.EnsureSyncDaemon(h, nil); err != nil {
		t.Fatal(err)
	}
	if ds, _ := h.Daemons(); len(ds) != 0 {
		t.Errorf("daemons left: %+v", ds)
	}
}

func TestTestbedSysctl(t *testing.T) {
	s := sysctl.Proc{}
	old, err := s.Get("net.ipv4.vs.expire_nodest_conn")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Set("net.ipv4.vs.expire_nodest_conn", old)
	if err := s.Set("net.ipv4.vs.expire_nodest_conn", "1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get("net.ipv4.vs.expire_nodest_conn"); v != "1" {
		t.Errorf("got %q", v)
	}
	if _, err := os.Stat("/proc/net/ip_vs_conn"); err != nil {
		t.Fatal(err)
	}
	if _, err := kernel.ReadConns(""); err != nil {
		t.Fatal(err)
	}
}

// masterThreadsSleeping waits until the kernel's master sync threads
// (ipvs-m:GEN:ID) exist and sleep, waiting for work: started. Stopping a
// master daemon the kernel was still starting hung the VM's kernel (6.1,
// qemu TCG on a loaded host) in DEL_DAEMON, 2 times in 4 runs of the
// conformance script; with this wait, 0 in 8.
func masterThreadsSleeping() error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, sleeping := 0, 0
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			comm, err := os.ReadFile(d + "/comm")
			if err != nil || !strings.HasPrefix(string(comm), "ipvs-m:") {
				continue
			}
			n++
			stat, err := os.ReadFile(d + "/stat")
			// pid (comm) STATE ...
			if i := strings.LastIndexByte(string(stat), ')'); err == nil && i >= 0 && i+2 < len(stat) && (stat[i+2] == 'S' || stat[i+2] == 'I') {
				sleeping++
			}
		}
		if n > 0 && sleeping == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("master sync threads: %d found, %d sleeping after 60 s", n, sleeping)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
