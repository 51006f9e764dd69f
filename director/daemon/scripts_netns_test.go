//go:build netns

package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/internal/netnslab"
	"github.com/lvsd/lb/internal/runas/runastest"
)

const scriptUserYAML = `
global: {state_dir: %[1]s, control_socket: %[1]s/lbd.sock, metrics_address: "", script_user: %[3]s, enable_script_security: true}
virtual_servers:
  - address: 192.168.56.90
    port: 80
    real_servers:
      - address: 192.168.56.201
        notify_down: [%[2]s, %[4]s]
        checks: [{type: tcp}]
`

// TestNetnsRootDaemonScriptUser: lbd runs a real server's notify_down as
// global.script_user; after a reload to script_user root with the
// script's directory writable by all, enable_script_security refuses it
// and the log says why.
func TestNetnsRootDaemonScriptUser(t *testing.T) {
	script, out := runastest.IDScript(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "lbd.yaml")
	write := func(user string) {
		if err := os.WriteFile(path, []byte(fmt.Sprintf(scriptUserYAML, dir, script, user, out)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("nobody")
	logs := &syncBuf{}
	d, err := New(path, Options{Kernel: fake.New(), LogOutput: logs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	apply := func(start bool) {
		cfg, err := config.LoadDirector(path)
		if err != nil {
			t.Fatal(err)
		}
		d.applyMu.Lock()
		defer d.applyMu.Unlock()
		mode := applyReload
		if start {
			mode = applyStart
		}
		if _, err := d.apply(ctx, cfg, mode, false); err != nil {
			t.Fatal(err)
		}
	}
	apply(true)
	var id healthcheck.ID
	for i := range d.subscriptions() {
		id = i
	}
	tr := func(up, initial bool) {
		d.onTransition(ctx, healthcheck.Transition{IDs: []healthcheck.ID{id}, Up: up, Initial: initial})
	}
	tr(true, true)
	tr(false, false)
	if got := runastest.ID(t, out, 10*time.Second); got != "65534:65534" {
		t.Fatalf("notify_down ran as %q, want 65534:65534 (script_user nobody)", got)
	}

	if err := os.WriteFile(out, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(script), 0o777); err != nil {
		t.Fatal(err)
	}
	write("root")
	apply(false)
	tr(true, false)
	tr(false, false)
	if got := runastest.ID(t, out, 300*time.Millisecond); got != "" {
		t.Fatalf("the insecure notify_down ran as %s", got)
	}
	if l := logs.String(); !strings.Contains(l, "notify command failed to start") || !strings.Contains(l, "enable_script_security") ||
		!strings.Contains(l, "is writable by others") {
		t.Fatalf("no refusal logged:\n%s", l)
	}
}

// TestNetnsDaemonVRRPScriptsAsUsers: in a namespace, lbd's VRRP component
// runs its track script as global.script_user and the instance's notify
// master command as notify.user/group (the daemon hands its runner to
// every router).
func TestNetnsDaemonVRRPScriptsAsUsers(t *testing.T) {
	track, trackOut := runastest.IDScript(t)
	notify, notifyOut := runastest.IDScript(t)
	_, _, nss := netnslab.LANT(t, "lbdscr", 1)
	ns := nss[0]
	dir := t.TempDir()
	yaml := fmt.Sprintf(`global:
  control_socket: %[1]s/lbd.sock
  state_dir: %[1]s
  metrics_address: ""
  script_user: nobody
  enable_script_security: true
vrrp:
  scripts:
    chk: {command: [%[2]s, %[3]s], interval: 1s}
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      priority: 100
      virtual_ipaddresses: [{address: 10.9.0.100/24}]
      track_scripts: [{name: chk}]
      notify: {master: [%[4]s, %[5]s], user: nobody, group: daemon}
`, dir, track, trackOut, notify, notifyOut)
	runNetnsDirector(t, ns, dir, yaml)
	if got := runastest.ID(t, trackOut, 20*time.Second); got != "65534:65534" {
		t.Fatalf("track script ran as %q, want 65534:65534 (script_user nobody)", got)
	}
	if got := runastest.ID(t, notifyOut, 30*time.Second); got != "65534:1" {
		t.Fatalf("notify master ran as %q, want 65534:1 (notify.user nobody, group daemon)", got)
	}
}
