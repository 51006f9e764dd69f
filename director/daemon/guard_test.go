package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/director/table/tabletest"
	"github.com/lvsd/lb/internal/config"
)

func TestGuardRemovals(t *testing.T) {
	names := func(prefix string, n int) []string {
		var out []string
		for i := 1; i <= n; i++ {
			out = append(out, fmt.Sprintf("%s%d", prefix, i))
		}
		return out
	}
	svcs := func(managed, removed int) Removal {
		return Removal{What: "IPVS services", Managed: managed, Removed: names("TCP 10.0.0.", removed)}
	}
	insts := func(managed, removed int) Removal {
		return Removal{What: "VRRP instances", Managed: managed, Removed: names("VI_", removed)}
	}
	def := config.RemovalGuard{MaxPercent: config.DefaultRemovalMaxPercent}
	tests := []struct {
		name  string
		g     config.RemovalGuard
		force bool
		rs    []Removal
		want  []string // substrings of the refusal; nil: allowed
	}{
		{name: "nothing managed", g: def, rs: []Removal{svcs(0, 0), insts(0, 0)}},
		{name: "nothing removed", g: def, rs: []Removal{svcs(10, 0), insts(2, 0)}},
		{name: "the one service", g: def, rs: []Removal{svcs(1, 1)},
			want: []string{"would remove 1 of the 1 IPVS services lbd manages (all of them): TCP 10.0.0.1. Nothing was changed."}},
		{name: "half is not more than half", g: def, rs: []Removal{svcs(2, 1), insts(4, 2)}},
		{name: "two of three", g: def, rs: []Removal{svcs(3, 2)},
			want: []string{"2 of the 3 IPVS services lbd manages (67%, more than removal_guard.max_percent 50%): TCP 10.0.0.1, TCP 10.0.0.2."}},
		{name: "one of three", g: def, rs: []Removal{svcs(3, 1)}},
		{name: "51 of 100", g: def, rs: []Removal{svcs(100, 51)}, want: []string{"(51%, more than"}},
		{name: "max 0 refuses any removal", g: config.RemovalGuard{}, rs: []Removal{svcs(10, 1)}, want: []string{"1 of the 10"}},
		{name: "max 100 allows all but all", g: config.RemovalGuard{MaxPercent: 100}, rs: []Removal{svcs(10, 9)}},
		{name: "max 100 still refuses all", g: config.RemovalGuard{MaxPercent: 100}, rs: []Removal{svcs(10, 10)}, want: []string{"(all of them)"}},
		{name: "allow_remove_all", g: config.RemovalGuard{MaxPercent: 50, AllowRemoveAll: true}, rs: []Removal{svcs(10, 10), insts(1, 1)}},
		{name: "force", g: def, force: true, rs: []Removal{svcs(10, 10), insts(1, 1)}},
		{name: "the one VRRP instance", g: def, rs: []Removal{svcs(3, 0), insts(1, 1)},
			want: []string{"would remove 1 of the 1 VRRP instances lbd manages (all of them): VI_1."}},
		{name: "both kinds", g: def, rs: []Removal{svcs(4, 4), insts(2, 2)},
			want: []string{"4 of the 4 IPVS services", "; and 2 of the 2 VRRP instances lbd manages (all of them): VI_1, VI_2."}},
		{name: "names bounded", g: def, rs: []Removal{svcs(1000, 1000)},
			want: []string{"TCP 10.0.0.9, TCP 10.0.0.10 and 990 more.", "If the removal is intended: lbctl reload --force, or removal_guard.allow_remove_all: true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := GuardRemovals(tt.g, tt.force, "lbctl reload --force", tt.rs...)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var rr *RemovalRefused
			if !errors.As(err, &rr) {
				t.Fatalf("allowed (%v), want a refusal", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q\nlacks %q", err, w)
				}
			}
			if len(err.Error()) > 1000 {
				t.Errorf("refusal of %d bytes: not bounded", len(err.Error()))
			}
		})
	}
}

// guardYAML is an lbd.yaml (state directory dir) with the services
// TCP 10.0.0.i:80 for i in svcs, each with one real server and no check,
// and extra appended.
func guardYAML(dir string, svcs []int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  control_socket: %s/lbd.sock\n  state_dir: %s\n  metrics_address: \"\"\n  resync_interval: 1h\n", dir, dir)
	if len(svcs) > 0 {
		b.WriteString("virtual_servers:\n")
	}
	for _, i := range svcs {
		fmt.Fprintf(&b, "  - address: 10.0.0.%d\n    port: 80\n    real_servers: [{address: 10.1.0.%d}]\n", i, i)
	}
	b.WriteString(extra)
	return b.String()
}

// guardDaemon is a daemon on k that has applied lbd.yaml in dir (not
// running: no listeners, no scheduler), with force for its start.
func guardDaemon(t *testing.T, k *fake.Kernel, dir, yaml string, force bool) (*Daemon, *syncBuf, error) {
	t.Helper()
	path := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	d, err := New(path, Options{Kernel: k, LogOutput: logs, ForceStart: force})
	if err != nil {
		t.Fatal(err)
	}
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	_, err = d.apply(context.Background(), d.loaded, applyStart, d.opts.ForceStart)
	return d, logs, err
}

// table1 is a table of one wlc service at addr.
func table1(addr string) table.Table {
	return table.Table{Services: []table.Service{tabletest.Service(table.ProtoTCP, addr, "wlc")}}
}

// serviceNames lists the kernel's services in ipvsadm's order.
func serviceNames(k *fake.Kernel) string {
	var keys []table.ServiceKey
	for _, s := range k.Table().Services {
		keys = append(keys, s.Key())
	}
	slices.SortFunc(keys, table.ServiceKey.Compare)
	out := make([]string, len(keys))
	for i, key := range keys {
		out[i] = key.String()
	}
	return strings.Join(out, ", ")
}

const fourServices = "TCP 10.0.0.1:80, TCP 10.0.0.2:80, TCP 10.0.0.3:80, TCP 10.0.0.4:80"

// Issue 12, defect 1: ": > lbd.yaml; lbctl reload" deleted the whole IPVS
// table, and a truncated file part of it. A reload that would remove every
// managed service, or more than removal_guard.max_percent of them, is
// refused with no write, unless the file says so or the reload forces it.
func TestReloadRemovalGuard(t *testing.T) {
	tests := []struct {
		name      string
		file      func(dir string) string
		force     bool
		wantErr   []string // nil: applied
		wantTable string
		wantOps   int
	}{
		{name: "emptied file", file: func(string) string { return "" },
			wantErr: []string{"lbd.yaml: no virtual_servers and no vrrp instances: the file is empty or truncated?"}, wantTable: fourServices},
		{name: "truncated after global", file: func(dir string) string { return guardYAML(dir, nil, "") },
			wantErr: []string{"empty or truncated"}, wantTable: fourServices},
		{name: "truncated after the first service", file: func(dir string) string { return guardYAML(dir, []int{1}, "") },
			wantErr: []string{"would remove 3 of the 4 IPVS services lbd manages (75%, more than removal_guard.max_percent 50%): " +
				"TCP 10.0.0.2:80, TCP 10.0.0.3:80, TCP 10.0.0.4:80. Nothing was changed.", "lbctl reload --force"},
			wantTable: fourServices},
		{name: "every service replaced", file: func(dir string) string { return guardYAML(dir, []int{5, 6, 7, 8}, "") },
			wantErr: []string{"would remove 4 of the 4 IPVS services lbd manages (all of them)"}, wantTable: fourServices},
		{name: "half removed: applied", file: func(dir string) string { return guardYAML(dir, []int{1, 2}, "") },
			wantTable: "TCP 10.0.0.1:80, TCP 10.0.0.2:80", wantOps: 2},
		{name: "one replaced: applied", file: func(dir string) string { return guardYAML(dir, []int{1, 2, 3, 5}, "") },
			wantTable: "TCP 10.0.0.1:80, TCP 10.0.0.2:80, TCP 10.0.0.3:80, TCP 10.0.0.5:80", wantOps: 3},
		{name: "truncated, forced", force: true, file: func(dir string) string { return guardYAML(dir, []int{1}, "") },
			wantTable: "TCP 10.0.0.1:80", wantOps: 3},
		{name: "three of four under max_percent 75", file: func(dir string) string {
			return guardYAML(dir, []int{1}, "removal_guard: {max_percent: 75}\n")
		}, wantTable: "TCP 10.0.0.1:80", wantOps: 3},
		{name: "an intended empty file", file: func(dir string) string {
			return guardYAML(dir, nil, "removal_guard:\n  allow_remove_all: true\n")
		}, wantOps: 4},
		{name: "an emptied file, forced: still invalid", force: true, file: func(string) string { return "" },
			wantErr: []string{"empty or truncated"}, wantTable: fourServices},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k := fake.New()
			d, logs, err := guardDaemon(t, k, dir, guardYAML(dir, []int{1, 2, 3, 4}, ""), false)
			if err != nil {
				t.Fatal(err)
			}
			before := d.Config()
			if err := os.WriteFile(d.path, []byte(tt.file(dir)), 0o600); err != nil {
				t.Fatal(err)
			}
			k.ResetCounters()
			res, err := d.Reload(context.Background(), control.ReloadRequest{Force: tt.force})
			if got := serviceNames(k); got != tt.wantTable {
				t.Errorf("kernel after the reload: %q, want %q", got, tt.wantTable)
			}
			// lbd_reloads_total counts it by result.
			want := "applied"
			switch {
			case tt.wantErr != nil && strings.Contains(tt.wantErr[0], "empty or truncated"):
				want = "invalid"
			case tt.wantErr != nil:
				want = "refused"
			}
			if got := d.Reloads(); got[want] != 1 || len(got) != 1 {
				t.Errorf("reloads counted %v, want %s: 1", got, want)
			}
			if tt.wantErr == nil {
				if err != nil || k.Writes() != tt.wantOps {
					t.Errorf("reload: %v, %d writes %v; want applied in %d", err, k.Writes(), k.Log(), tt.wantOps)
				}
				return
			}
			if err == nil {
				t.Fatalf("reload applied (%d writes %v), want refused", k.Writes(), k.Log())
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if k.Writes() != 0 || d.Config() != before || res.Apply != nil {
				t.Errorf("a refused reload changed something: %d writes %v, config replaced %v, apply %+v",
					k.Writes(), k.Log(), d.Config() != before, res.Apply)
			}
			if !strings.Contains(logs.String(), "reload refused") {
				t.Errorf("refusal not logged:\n%s", logs)
			}
		})
	}
}

// A reload that stops every running VRRP instance (or too many) is refused
// like one that empties the table: the VIPs would go with them.
func TestReloadRemovalGuardVRRP(t *testing.T) {
	const vrrpYAML = `vrrp:
  instances:
%s`
	inst := func(name string, vrid int) string {
		return fmt.Sprintf("    %s:\n      interface: eth0\n      virtual_router_id: %d\n      virtual_ipaddresses: [{address: 192.0.2.%d}]\n", name, vrid, vrid)
	}
	tests := []struct {
		name    string
		running []string // instances in force
		next    string   // the vrrp section of the new file
		force   bool
		wantErr string
	}{
		{name: "the one instance dropped", running: []string{"VI_1"}, next: "",
			wantErr: "would remove 1 of the 1 VRRP instances lbd manages (all of them): VI_1."},
		{name: "two of three dropped", running: []string{"VI_1", "VI_2", "VI_3"}, next: fmt.Sprintf(vrrpYAML, inst("VI_1", 1)),
			wantErr: "would remove 2 of the 3 VRRP instances lbd manages (67%, more than removal_guard.max_percent 50%): VI_2, VI_3."},
		{name: "renamed", running: []string{"VI_1"}, next: fmt.Sprintf(vrrpYAML, inst("VI_9", 9)),
			wantErr: "1 of the 1 VRRP instances"},
		{name: "one of two dropped: allowed", running: []string{"VI_1", "VI_2"}, next: fmt.Sprintf(vrrpYAML, inst("VI_1", 1))},
		{name: "forced", running: []string{"VI_1"}, next: "", force: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k := fake.New()
			d, _, err := guardDaemon(t, k, dir, guardYAML(dir, []int{1}, ""), false)
			if err != nil {
				t.Fatal(err)
			}
			// The instances in force (their routers are not started: the
			// guard decides before anything is stopped).
			var running strings.Builder
			for i, n := range tt.running {
				running.WriteString(inst(n, i+1))
			}
			inForce, err := config.ParseDirector("lbd.yaml", []byte(guardYAML(dir, []int{1}, fmt.Sprintf(vrrpYAML, running.String()))))
			if err != nil {
				t.Fatal(err)
			}
			d.mu.Lock()
			d.cfg = inForce
			d.mu.Unlock()
			if err := os.WriteFile(d.path, []byte(guardYAML(dir, []int{1}, tt.next)), 0o600); err != nil {
				t.Fatal(err)
			}
			k.ResetCounters()
			if tt.wantErr == "" {
				// Allowed: the guard alone (applying would start VRRP
				// routers on the host).
				if _, err := d.guardOnly(tt.force); err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			_, err = d.Reload(context.Background(), control.ReloadRequest{Force: tt.force})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v\nwant %q", err, tt.wantErr)
			}
			if d.Config() != inForce || k.Writes() != 0 {
				t.Errorf("a refused reload changed something: config replaced %v, %d writes", d.Config() != inForce, k.Writes())
			}
		})
	}
}

// guardOnly loads the file and runs the guard of a reload, as Reload does
// first (the VRRP components of these tests have no routers to stop).
func (d *Daemon) guardOnly(force bool) (*config.Director, error) {
	next, err := config.LoadDirector(d.path)
	if err != nil {
		return nil, err
	}
	return next, d.guard(d.ipvsNow(), d.Config(), next, false, force)
}

// At start lbd manages the services its state directory remembers: a
// start whose file would remove them is refused like a reload (lbd run
// exits with the refusal, nothing written), unless lbd run --force; what
// the kernel no longer holds (after a reboot) and what lbd never put there
// do not count, except with purge_unmanaged, which would remove it.
func TestStartRemovalGuard(t *testing.T) {
	tests := []struct {
		name      string
		reboot    bool   // the kernel lost the table since the last run
		foreign   bool   // a service lbd never managed is in the kernel
		extra     string // appended to the new file
		force     bool
		wantErr   string
		wantTable string
	}{
		{name: "truncated file", wantErr: "would remove 3 of the 4 IPVS services lbd manages (75%", wantTable: fourServices},
		{name: "truncated file, forced", force: true, wantTable: "TCP 10.0.0.1:80"},
		{name: "after a reboot nothing is removed", reboot: true, wantTable: "TCP 10.0.0.1:80"},
		{name: "a foreign service is not lbd's", reboot: true, foreign: true, wantTable: "TCP 10.0.0.1:80, TCP 10.9.9.9:80"},
		{name: "purge_unmanaged would remove it", reboot: true, foreign: true, extra: "  purge_unmanaged: true\n",
			wantErr: "would remove 1 of the 1 IPVS services lbd manages (all of them): TCP 10.9.9.9:80", wantTable: "TCP 10.9.9.9:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k := fake.New()
			if _, _, err := guardDaemon(t, k, dir, guardYAML(dir, []int{1, 2, 3, 4}, ""), false); err != nil {
				t.Fatal(err)
			}
			if tt.reboot {
				k = fake.New()
			}
			if tt.foreign {
				k.Load(table1("10.9.9.9:80"))
			}
			k.ResetCounters()
			next := strings.Replace(guardYAML(dir, []int{1}, ""), "  resync_interval: 1h\n", "  resync_interval: 1h\n"+tt.extra, 1)
			_, logs, err := guardDaemon(t, k, dir, next, tt.force)
			if got := serviceNames(k); got != tt.wantTable {
				t.Errorf("kernel after the start: %q, want %q", got, tt.wantTable)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("start refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "lbd run --force") {
				t.Fatalf("start: %v\nwant %q (and the hint lbd run --force)", err, tt.wantErr)
			}
			if k.Writes() != 0 || !strings.Contains(logs.String(), "start refused") {
				t.Errorf("refused start: %d writes %v; logs:\n%s", k.Writes(), k.Log(), logs)
			}
		})
	}
}

// Run returns the refusal: lbd run exits non-zero and systemd sees it.
func TestRunRefusedStartExits(t *testing.T) {
	dir := t.TempDir()
	k := fake.New()
	if _, _, err := guardDaemon(t, k, dir, guardYAML(dir, []int{1, 2, 3, 4}, ""), false); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(path, []byte(guardYAML(dir, []int{1}, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	k.ResetCounters()
	d, err := New(path, Options{Kernel: k, LogOutput: &syncBuf{}, Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = d.Run(ctx)
	var rr *RemovalRefused
	if !errors.As(err, &rr) || k.Writes() != 0 || serviceNames(k) != fourServices {
		t.Errorf("Run: %v, %d writes, kernel %q", err, k.Writes(), serviceNames(k))
	}
	if _, err := os.Stat(filepath.Join(dir, "lbd.sock")); err == nil {
		t.Error("a refused start listens on the control socket")
	}
}

// The reproduction over the control socket: lbd runs one service;
// ": > lbd.yaml; lbctl reload" deleted it (services 1 -> 0, one write).
// Now the emptied file, a file whose one service changed address, and a
// file truncated after global are refused, nothing written; lbctl reload
// --force applies the changed one (the emptied file stays invalid).
func TestReloadEmptiedFileOverTheSocket(t *testing.T) {
	f := start(t, false)
	waitFor(t, "table programmed", func() bool { return len(f.k.Table().Services) == 1 })
	cl := control.NewClient(f.sock)
	good, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	global, _, _ := strings.Cut(string(good), "virtual_servers:")
	moved := strings.Replace(string(good), "address: 192.0.2.10", "address: 192.0.2.11", 1)
	for _, file := range []struct{ name, yaml, want string }{
		{"emptied", "", "empty or truncated"},
		{"truncated after global", global, "empty or truncated"},
		{"the one service moved", moved, "would remove 1 of the 1 IPVS services lbd manages (all of them): TCP 192.0.2.10:80"},
	} {
		if err := os.WriteFile(f.cfg, []byte(file.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		f.k.ResetCounters()
		_, err := cl.Reload(context.Background(), control.ReloadRequest{})
		if err == nil || !strings.Contains(err.Error(), file.want) {
			t.Errorf("%s file: reload error %v, want %q", file.name, err, file.want)
		}
		if n := len(f.k.Table().Services); n != 1 || f.k.Writes() != 0 {
			t.Errorf("%s file: services 1 -> %d, %d writes %v", file.name, n, f.k.Writes(), f.k.Log())
		}
	}
	f.k.ResetCounters()
	if _, err := cl.Reload(context.Background(), control.ReloadRequest{Force: true}); err != nil {
		t.Fatalf("forced reload of the moved service: %v", err)
	}
	if got := serviceNames(f.k); got != "TCP 192.0.2.11:80" {
		t.Errorf("after the forced reload: %q", got)
	}
}
