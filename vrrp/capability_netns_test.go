//go:build netns

package vrrp

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// childEnv marks the child of TestNetnsLinuxEnvWithoutSysAdmin.
const childEnv = "VRRP_TEST_NO_SYS_ADMIN"

// TestNetnsLinuxEnvWithoutSysAdmin opens the real environment (netlink
// handle, address and link subscriptions) in a process without
// CAP_SYS_ADMIN, as lbd.service runs lbd (issue 18: under systemd VRRP
// failed with "failed to set into network namespace ... operation not
// permitted"). The child is this test binary, run in a new network
// namespace (unshare --net) with CAP_SYS_ADMIN dropped from its bounding
// set (setpriv). Needs root, unshare and setpriv (util-linux).
func TestNetnsLinuxEnvWithoutSysAdmin(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		linuxEnvChild(t)
		return
	}
	cmd := exec.CommandContext(t.Context(), "unshare", "--net", "setpriv", "--bounding-set", "-sys_admin", "--",
		os.Args[0], "-test.run", "^TestNetnsLinuxEnvWithoutSysAdmin$", "-test.v", "-test.count", "1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNetnsLinuxEnvWithoutSysAdmin") {
		t.Fatalf("the child without CAP_SYS_ADMIN: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

// linuxEnvChild checks that CAP_SYS_ADMIN is gone, then opens LinuxEnv and
// its two watches.
func linuxEnvChild(t *testing.T) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil || eff&(1<<21) != 0 {
				t.Fatalf("CapEff %s: CAP_SYS_ADMIN (21) was not dropped (%v)", strings.TrimSpace(v), err)
			}
		}
	}
	env, err := LinuxEnv(nil)
	if err != nil {
		t.Fatalf("LinuxEnv without CAP_SYS_ADMIN: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := env.Addresses.Watch(ctx); err != nil {
		t.Errorf("watching addresses without CAP_SYS_ADMIN: %v", err)
	}
	if _, err := env.Links.Watch(ctx); err != nil {
		t.Errorf("watching links without CAP_SYS_ADMIN: %v", err)
	}
}
