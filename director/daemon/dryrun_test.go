package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
)

// recKernel is the fake kernel, recording every write as the op it makes
// (single writes and batches alike), for comparison with a plan.
type recKernel struct {
	*fake.Kernel
	mu  sync.Mutex
	ops []table.Op
}

func (k *recKernel) rec(kind table.OpKind, s table.Service, d table.Destination) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ops = append(k.ops, table.Op{Kind: kind, Service: s.WithoutDestinations(), Dest: d})
}

// rules returns the writes recorded since the last call, in ipvsadm form.
func (k *recKernel) rules() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, len(k.ops))
	for i, op := range k.ops {
		out[i] = opRule(op)
	}
	k.ops = nil
	return out
}

func (k *recKernel) CreateService(s table.Service) error {
	k.rec(table.OpCreateService, s, table.Destination{})
	return k.Kernel.CreateService(s)
}

func (k *recKernel) UpdateService(s table.Service) error {
	k.rec(table.OpUpdateService, s, table.Destination{})
	return k.Kernel.UpdateService(s)
}

func (k *recKernel) RemoveService(s table.Service) error {
	k.rec(table.OpRemoveService, s, table.Destination{})
	return k.Kernel.RemoveService(s)
}

func (k *recKernel) CreateDestination(s table.Service, d table.Destination) error {
	k.rec(table.OpCreateDest, s, d)
	return k.Kernel.CreateDestination(s, d)
}

func (k *recKernel) UpdateDestination(s table.Service, d table.Destination) error {
	k.rec(table.OpUpdateDest, s, d)
	return k.Kernel.UpdateDestination(s, d)
}

func (k *recKernel) RemoveDestination(s table.Service, d table.Destination) error {
	k.rec(table.OpRemoveDest, s, d)
	return k.Kernel.RemoveDestination(s, d)
}

func (k *recKernel) WriteBatch(ops []table.Op) []error {
	for _, op := range ops {
		k.rec(op.Kind, op.Service, op.Dest)
	}
	return k.Kernel.WriteBatch(ops)
}

// planSvc is one virtual server of planYAML.
type planSvc struct {
	addr, sched string
	servers     []string // "10.1.0.1:80 w=2"
	check       string   // a real server check's YAML flow, "" none
}

// planYAML is an lbd.yaml (state directory dir) of svcs.
func planYAML(dir string, svcs []planSvc, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  control_socket: %s/lbd.sock\n  state_dir: %s\n  metrics_address: \"\"\n  resync_interval: 1h\n", dir, dir)
	b.WriteString("virtual_servers:\n")
	for _, s := range svcs {
		fmt.Fprintf(&b, "  - address: %s\n    port: 80\n    scheduler: %s\n    real_servers:\n", s.addr, s.sched)
		for _, rs := range s.servers {
			var addr string
			var w int
			fmt.Sscanf(rs, "%s w=%d", &addr, &w)
			fmt.Fprintf(&b, "      - {address: %s, weight: %d", addr, w)
			if s.check != "" {
				fmt.Fprintf(&b, ", checks: [%s]", s.check)
			}
			b.WriteString("}\n")
		}
	}
	b.WriteString(extra)
	return b.String()
}

func planBase() []planSvc {
	return []planSvc{
		{addr: "10.0.0.1", sched: "wlc", servers: []string{"10.1.0.1 w=1", "10.1.0.2 w=1"}, check: "{type: tcp, connect_port: 1}"},
		{addr: "10.0.0.2", sched: "rr", servers: []string{"10.1.0.3 w=1"}},
		{addr: "10.0.0.3", sched: "rr", servers: []string{"10.1.0.4 w=5"}},
	}
}

// The acceptance of issue 17's plan: lbctl reload --dry-run says exactly
// the writes the reload then makes, for each kind of change; and a plan
// that the removal guard refuses says so, and the reload writes nothing.
func TestDryRunMatchesTheReloadsWrites(t *testing.T) {
	tests := []struct {
		name      string
		change    func([]planSvc) []planSvc
		wantRules []string
		checks    [2]int // added, removed
		refused   bool
	}{
		{name: "nothing", change: func(s []planSvc) []planSvc { return s }},
		{name: "weight", change: func(s []planSvc) []planSvc { s[2].servers[0] = "10.1.0.4 w=7"; return s },
			wantRules: []string{"-e -t 10.0.0.3:80 -r 10.1.0.4:80 -g -w 7"}},
		{name: "add a server", change: func(s []planSvc) []planSvc { s[1].servers = append(s[1].servers, "10.1.0.9 w=2"); return s },
			wantRules: []string{"-a -t 10.0.0.2:80 -r 10.1.0.9:80 -g -w 2"}},
		{name: "remove a checked server", change: func(s []planSvc) []planSvc { s[0].servers = s[0].servers[:1]; return s },
			wantRules: []string{"-d -t 10.0.0.1:80 -r 10.1.0.2:80"}, checks: [2]int{0, 1}},
		{name: "scheduler", change: func(s []planSvc) []planSvc { s[1].sched = "wrr"; return s },
			wantRules: []string{"-E -t 10.0.0.2:80 -s wrr"}},
		{name: "remove a service", change: func(s []planSvc) []planSvc { return s[:2] },
			wantRules: []string{"-D -t 10.0.0.3:80"}},
		{name: "add a service", change: func(s []planSvc) []planSvc {
			return append(s, planSvc{addr: "10.0.0.4", sched: "sh", servers: []string{"10.1.0.5 w=1"}})
		}, wantRules: []string{"-A -t 10.0.0.4:80 -s sh", "-a -t 10.0.0.4:80 -r 10.1.0.5:80 -g -w 1"}},
		{name: "check change", change: func(s []planSvc) []planSvc { s[0].check = "{type: tcp, connect_port: 2}"; return s },
			checks: [2]int{2, 2}},
		// Refused: the plan says so, and what the reload would do with --force.
		{name: "removal guard", change: func(s []planSvc) []planSvc { return s[:1] }, refused: true,
			wantRules: []string{"-D -t 10.0.0.2:80", "-D -t 10.0.0.3:80"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			k := &recKernel{Kernel: fake.New()}
			d, logs, err := planDaemon(t, k, dir, planYAML(dir, planBase(), ""))
			if err != nil {
				t.Fatal(err)
			}
			k.rules()
			path := filepath.Join(dir, "lbd.yaml")
			if err := os.WriteFile(path, []byte(planYAML(dir, tt.change(planBase()), "")), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			dry, err := d.Reload(ctx, control.ReloadRequest{DryRun: true})
			if err != nil || dry.Plan == nil {
				t.Fatalf("dry run: %v, %+v", err, dry)
			}
			pl := *dry.Plan
			if got := k.rules(); len(got) != 0 {
				t.Fatalf("the dry run wrote %q", got)
			}
			var planned []string
			for _, w := range pl.Writes {
				planned = append(planned, w.Rule)
			}
			if !slices.Equal(planned, tt.wantRules) {
				t.Errorf("plan writes %q, want %q", planned, tt.wantRules)
			}
			if got := [2]int{len(pl.ChecksAdd), len(pl.ChecksRemove)}; got != tt.checks {
				t.Errorf("checks added, removed = %v, want %v (%+v)", got, tt.checks, pl)
			}
			if (pl.Refused != "") != tt.refused {
				t.Errorf("refused %q, want refused %v", pl.Refused, tt.refused)
			}
			wantExit := control.PlanNoChanges
			switch {
			case tt.refused:
				wantExit = control.PlanError
			case len(tt.wantRules) > 0 || tt.checks != [2]int{}:
				wantExit = control.PlanChanges
			}
			if pl.ExitStatus() != wantExit {
				t.Errorf("exit status %d, want %d: %s", pl.ExitStatus(), wantExit, pl.Summary())
			}

			res, err := d.Reload(ctx, control.ReloadRequest{})
			if (err != nil) != tt.refused {
				t.Fatalf("reload: %v", err)
			}
			written := k.rules()
			if tt.refused {
				if len(written) != 0 {
					t.Errorf("refused reload wrote %q", written)
				}
				return
			}
			if !slices.Equal(planned, written) {
				t.Errorf("the reload wrote %q, the plan said %q", written, planned)
			}
			if res.Apply != nil && len(res.Apply.Ops) != len(planned) {
				t.Errorf("reload result ops %q, plan %q", res.Apply.Ops, planned)
			}
			if !strings.Contains(logs.String(), pl.Summary()) {
				t.Errorf("the reload's log lacks the plan's summary %q:\n%s", pl.Summary(), logs)
			}
		})
	}
}

// planDaemon is a daemon on k that has applied the lbd.yaml yaml in dir
// (not running: its checks never report, so the table changes only by
// reload).
func planDaemon(t *testing.T, k Kernel, dir, yaml string) (*Daemon, *syncBuf, error) {
	t.Helper()
	path := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	d, err := New(path, Options{Kernel: k, LogOutput: logs, Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	_, err = d.apply(context.Background(), d.loaded, applyStart, false)
	return d, logs, err
}

// lbd plan without a running lbd: a start of the file against the
// kernel's table, the same writes the start then makes (the kernel holds
// a managed service with another weight and one the file drops).
func TestPlanStartMatchesTheStartsWrites(t *testing.T) {
	dir := t.TempDir()
	k := &recKernel{Kernel: fake.New()}
	old := planBase()
	old[2].servers[0] = "10.1.0.4 w=1"
	if _, _, err := planDaemon(t, k, dir, planYAML(dir, old, "")); err != nil {
		t.Fatal(err)
	}
	k.rules()
	path := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(path, []byte(planYAML(dir, planBase()[1:], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	pl, err := PlanStart(path, Options{Kernel: k, LogOutput: &syncBuf{}})
	if err != nil {
		t.Fatal(err)
	}
	var planned []string
	for _, w := range pl.Writes {
		planned = append(planned, w.Rule)
	}
	want := []string{"-D -t 10.0.0.1:80", "-e -t 10.0.0.3:80 -r 10.1.0.4:80 -g -w 5"}
	if !slices.Equal(planned, want) || pl.Against != "kernel" || len(pl.ChecksAdd) != 0 || pl.Refused != "" || len(pl.Restart) != 0 {
		t.Fatalf("plan %q, want %q (%+v)", planned, want, pl)
	}
	if got := k.rules(); len(got) != 0 {
		t.Fatalf("the plan wrote %q", got)
	}
	if _, _, err := planDaemon(t, k, dir, planYAML(dir, planBase()[1:], "")); err != nil {
		t.Fatal(err)
	}
	if got := k.rules(); !slices.Equal(got, planned) {
		t.Errorf("the start wrote %q, the plan said %q", got, planned)
	}
}

// The plan's VRRP lines come from PlanApply's components: a changed
// instance is restarted (not started and stopped), a new one started, a
// removed one stopped, the others kept.
func TestDryRunVRRPLines(t *testing.T) {
	old := parse(t, baseYAML)
	changed := strings.Replace(baseYAML, "priority: 200", "priority: 150", 1)
	changed = strings.Replace(changed, `    VI_3:
      interface: eth1
      virtual_router_id: 53
      virtual_ipaddresses: [{address: 10.0.1.90}]
`, "", 1)
	changed = strings.Replace(changed, "G: {instances: [VI_2, VI_3]}", "G: {instances: [VI_2]}", 1)
	changed = strings.Replace(changed, "  scripts:", `    VI_4:
      interface: eth2
      virtual_router_id: 54
      virtual_ipaddresses: [{address: 10.0.2.90}]
  scripts:`, 1)
	next := parse(t, changed)
	var pl control.Plan
	fillPlan(&pl, PlanApply(old, next))
	got := fmt.Sprintf("start %v restart %v stop %v keep %v", pl.VRRPStart, pl.VRRPRestart, pl.VRRPStop, pl.VRRPKeep)
	if want := "start [VI_2 VI_4] restart [VI_1] stop [VI_2,VI_3] keep []"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var same control.Plan
	fillPlan(&same, PlanApply(old, parse(t, baseYAML)))
	if same.Changed() || len(same.VRRPKeep) != 2 || same.ChecksKeep != 3 {
		t.Errorf("same file: %+v", same)
	}
}
