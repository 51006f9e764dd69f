//go:build netns

package daemon

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lvsd/lb/internal/netnslab"
	"github.com/lvsd/lb/internal/proctest"
)

// TestNetnsDaemonTracking: lbd (in a namespace, as in production in its
// own) follows a tracked file and a tracked process of lbd.yaml; the
// control socket shows the effective priority they make.
func TestNetnsDaemonTracking(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root")
	}
	_, _, nss := netnslab.LANT(t, "lbdtrk", 1)
	ns := nss[0]
	dir := t.TempDir()
	bin, comm := proctest.CopiedSleep(t, dir, "lbdd")
	yaml := fmt.Sprintf(`global:
  control_socket: %[1]s/lbd.sock
  state_dir: %[1]s
  metrics_address: ""
vrrp:
  track_files:
    w: {file: %[1]s/weight, init_file: 20}
  track_processes:
    p: {process: %[2]s, weight: -50}
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      priority: 100
      virtual_ipaddresses: [{address: 10.9.0.100/24}]
      track_files: [{name: w}]
      track_processes: [{name: p}]
`, dir, comm)
	n := runNetnsDirector(t, ns, dir, yaml)
	prio := func() int {
		in, err := n.vrrpInstance()
		if err != nil {
			return -1
		}
		return in.EffectivePriority
	}
	waitFor(t, "priority 100+20-50 (file 20, no process)", func() bool { return prio() == 70 })
	p := exec.Command(bin, "3600")
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Process.Kill(); _, _ = p.Process.Wait() })
	waitFor(t, "priority 120 (the process runs)", func() bool { return prio() == 120 })
	if err := os.WriteFile(filepath.Join(dir, "weight"), []byte("-40\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "priority 60 (file -40)", func() bool { return prio() == 60 })
	_ = p.Process.Kill()
	waitFor(t, "priority 10 (the process is gone)", func() bool { return prio() == 10 })
}
