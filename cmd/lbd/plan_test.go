package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/daemon"
	"github.com/lvsd/lb/director/kernel/fake"
)

// lbd plan with an lbd running: the plan is that lbd's dry run (its state),
// said on the first line; a file the running lbd does not run is refused.
func TestPlanAgainstARunningLbd(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "lbd.yaml")
	yaml := func(weight int) string {
		return fmt.Sprintf("global:\n  control_socket: %s/lbd.sock\n  state_dir: %s\n  metrics_address: \"\"\n"+
			"virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    real_servers: [{address: 10.1.0.1, weight: %d}]\n", dir, dir, weight)
	}
	if err := os.WriteFile(file, []byte(yaml(1)), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(file, daemon.Options{Kernel: fake.New(), LogOutput: &strings.Builder{}, Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	sock := filepath.Join(dir, "lbd.sock")
	cl := control.NewClient(sock)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := cl.Status(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lbd did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(file, []byte(yaml(4)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	code := runPlan(ctx, []string{"-c", file}, &out, &errb)
	if code != control.PlanChanges || !strings.HasPrefix(out.String(), "# plan of "+file+" against the running lbd\n-e -t 10.0.0.1:80 -r 10.1.0.1:80 -g -w 4\t# weight 1 -> 4\n") {
		t.Errorf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte(yaml(4)), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := runPlan(ctx, []string{"-c", other}, &out, &errb); code != control.PlanError || !strings.Contains(errb.String(), "runs "+file+", not "+other) {
		t.Errorf("another file: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if code := runPlan(ctx, []string{"-c", file, "extra"}, &out, &errb); code != 2 {
		t.Errorf("usage: exit %d", code)
	}
}
