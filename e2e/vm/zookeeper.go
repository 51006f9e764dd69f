package vm

import (
	"fmt"
	"maps"
	"net/netip"
	"strings"
)

// The VM's ZooKeeper: the host runs the ensemble (internal/zklab, on its
// loopback) and the guest reaches it through qemu's user network.
const (
	// HostFromGuest is the host's loopback as the guest sees it on qemu's
	// user network (RunOptions.HostNet).
	HostFromGuest = "10.0.2.2"
	// guestNetAddr is the guest's own address on that network (static:
	// the image has no DHCP client running).
	guestNetAddr = "10.0.2.15/24"
	// ZooKeeperEnv is the guest variable holding the ensemble's client
	// addresses as the guest dials them, comma-separated
	// ("10.0.2.2:41801,10.0.2.2:41803,10.0.2.2:41805").
	ZooKeeperEnv = "E2E_ZK"
	// ZooKeeperTestMark marks the guest tests that need the ensemble: a
	// run whose plan selects a test whose name holds it gets one
	// (TestScenarioZooKeeperMembers...).
	ZooKeeperTestMark = "ZooKeeper"
)

// hostNIC is qemu's NIC for HostNet: virtio (the image carries virtio_pci
// and virtio_net) on the user network, IPv4 only, without the iPXE option
// ROM (it would cost the boot seconds under TCG).
var hostNIC = []string{"-netdev", "user,id=host,ipv6=off", "-device", "virtio-net-pci,netdev=host,romfile="}

// NeedsZooKeeper reports whether a plan selects a test that needs the
// host's ZooKeeper ensemble (its name holds ZooKeeperTestMark).
func NeedsZooKeeper(plan []PlannedGuest) bool {
	for _, pg := range plan {
		if pg.BuildError != nil {
			continue
		}
		for _, t := range pg.Selected {
			if strings.Contains(t, ZooKeeperTestMark) {
				return true
			}
		}
	}
	return false
}

// WithZooKeeper returns opts giving the guest the ensemble whose client
// addresses on the host are servers (loopback host:port, as zklab's
// Ensemble.Servers): the NIC on (HostNet) and ZooKeeperEnv naming each
// server as HostFromGuest:port.
func WithZooKeeper(opts RunOptions, servers []string) (RunOptions, error) {
	if len(servers) == 0 {
		return opts, fmt.Errorf("no ZooKeeper servers to give the guest")
	}
	var guest []string
	for _, s := range servers {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return opts, fmt.Errorf("ZooKeeper server %q: %w", s, err)
		}
		if !ap.Addr().IsLoopback() {
			return opts, fmt.Errorf("ZooKeeper server %s: the guest reaches only the host's loopback (%s)", s, HostFromGuest)
		}
		guest = append(guest, fmt.Sprintf("%s:%d", HostFromGuest, ap.Port()))
	}
	env := maps.Clone(opts.Env)
	if env == nil {
		env = map[string]string{}
	}
	env[ZooKeeperEnv] = strings.Join(guest, ",")
	opts.Env = env
	opts.HostNet = true
	return opts, nil
}
