package vm

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNeedsZooKeeper(t *testing.T) {
	tests := []struct {
		name string
		plan []PlannedGuest
		want bool
	}{
		{"no test", nil, false},
		{"other scenarios", []PlannedGuest{{Guest: Guest{Name: ScenarioGuest}, Selected: []string{"TestScenarioSeedDR", "TestScenarioLBDKill"}}}, false},
		{"a ZooKeeper scenario", []PlannedGuest{{Guest: Guest{Name: ScenarioGuest}, Selected: []string{"TestScenarioSeedDR", "TestScenarioZooKeeperMembers"}}}, true},
		{"known but not selected", []PlannedGuest{{Guest: Guest{Name: ScenarioGuest, Tests: []string{"TestScenarioZooKeeperMembers"}}, Selected: []string{"TestScenarioSeedDR"}}}, false},
		{"its binary did not build", []PlannedGuest{{Guest: Guest{Name: ScenarioGuest, BuildError: errors.New("x")}, Selected: []string{"TestScenarioZooKeeperMembers"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsZooKeeper(tt.plan); got != tt.want {
				t.Errorf("NeedsZooKeeper = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestWithZooKeeper(t *testing.T) {
	tests := []struct {
		name    string
		servers []string
		env     map[string]string
		want    string // E2E_ZK, "" for an error
	}{
		{"three loopback nodes", []string{"127.0.0.1:4180", "127.0.0.1:4181", "127.0.0.1:4182"}, nil, "10.0.2.2:4180,10.0.2.2:4181,10.0.2.2:4182"},
		{"caller env kept", []string{"127.0.0.1:5000"}, map[string]string{"E2E_DEMO": "1"}, "10.0.2.2:5000"},
		{"none", nil, nil, ""},
		{"not loopback", []string{"192.0.2.1:4180"}, nil, ""},
		{"no port", []string{"127.0.0.1"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := RunOptions{Mode: ModeTest, Env: tt.env}
			got, err := WithZooKeeper(in, tt.servers)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("accepted %v: %+v", tt.servers, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Env[ZooKeeperEnv] != tt.want || !got.HostNet {
				t.Errorf("env %v HostNet %t, want %s=%s and HostNet", got.Env, got.HostNet, ZooKeeperEnv, tt.want)
			}
			for k, v := range tt.env {
				if got.Env[k] != v {
					t.Errorf("caller's %s lost: %v", k, got.Env)
				}
			}
			if _, ok := in.Env[ZooKeeperEnv]; ok {
				t.Error("the caller's Env map was changed")
			}
			vars, err := guestVars(got, 60)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kernelCmdline(vars, got.Env)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []string{"E2E_NET=1", ZooKeeperEnv + "=" + tt.want} {
				if !strings.Contains(cl, w) {
					t.Errorf("command line %q lacks %q", cl, w)
				}
			}
		})
	}
}

func TestQemuNIC(t *testing.T) {
	img := &Image{Kernel: Kernel{Image: "/boot/vmlinuz"}, Initrd: "/tmp/i.cpio"}
	for _, tt := range []struct {
		hostNet bool
		want    []string
	}{
		{false, []string{"-nic", "none"}},
		{true, []string{"-netdev", "user,id=host,ipv6=off", "-device", "virtio-net-pci,netdev=host,romfile="}},
	} {
		args := qemuArgs(img, 1024, 1, tt.hostNet, "console=ttyS0")
		i := slices.Index(args, tt.want[0])
		if i < 0 || i+len(tt.want) > len(args) || !slices.Equal(args[i:i+len(tt.want)], tt.want) {
			t.Errorf("HostNet %t: args %v, want %v", tt.hostNet, args, tt.want)
		}
		if tt.hostNet && slices.Contains(args, "-nic") {
			t.Errorf("HostNet: args %v hold -nic as well", args)
		}
	}
	if _, err := kernelCmdline(map[string]string{}, map[string]string{"E2E_NET": "1"}); err == nil {
		t.Error("the caller may not set E2E_NET: the testbed does (HostNet)")
	}
}
