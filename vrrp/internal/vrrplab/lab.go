// Package vrrplab is the VRRP test bench on network namespaces: hosts on one
// bridge (internal/netnslab), our instances run as vrrpd processes or as
// lbd itself (VRRP only: StartLbd), keepalived as a peer, a sniffer with
// kernel timestamps on the bridge, a pinger standing for a client, and an
// injector of hand-made packets. The netns tests and vrrpbench share it.
// It needs root.
package vrrplab

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// Lab is a set of hosts on one LAN.
type Lab struct {
	Topo  *netnslab.Lab
	LAN   *netnslab.Switch
	Dir   string // configuration files and logs
	Vrrpd string // path to the vrrpd binary
	Lbd   string // path to the lbd binary (StartLbd), if any
	// Wrap, if set, prefixes the command line of every VRRP speaker the
	// lab starts (e.g. chrt -f 10), the same for ours and keepalived.
	Wrap []string
	// RecordHeard makes vrrpd record the datagrams it receives (Proc.Heard).
	RecordHeard bool
	hosts       []*Host
}

// Host is a namespace plugged into the LAN as eth0.
type Host struct {
	Name string
	NS   *netnslab.Namespace
	Link *netnslab.Link
	Addr netip.Prefix
	MAC  net.HardwareAddr
}

// IP returns the host's address.
func (h *Host) IP() netip.Addr { return h.Addr.Addr() }

// New creates a lab whose namespaces are prefixed with prefix (1-8 lower
// case letters or digits), writing its files under dir.
func New(prefix, dir, vrrpd string) (*Lab, error) {
	tl, err := netnslab.New(prefix)
	if err != nil {
		return nil, fmt.Errorf("creating lab: %w", err)
	}
	lan, err := tl.AddSwitch("lan")
	if err != nil {
		tl.Close()
		return nil, fmt.Errorf("creating the LAN: %w", err)
	}
	return &Lab{Topo: tl, LAN: lan, Dir: dir, Vrrpd: vrrpd}, nil
}

// Close removes the namespaces.
func (l *Lab) Close() error { return l.Topo.Close() }

// AddHost adds a host with addr on eth0 (and IPv6 link-local, DAD off).
func (l *Lab) AddHost(name string, addrs ...netip.Prefix) (*Host, error) {
	ns, err := l.Topo.AddNamespace(name)
	if err != nil {
		return nil, err
	}
	lk, err := l.Topo.Connect(ns, l.LAN, netnslab.Port{Name: "eth0", Addrs: addrs})
	if err != nil {
		return nil, err
	}
	h := &Host{Name: name, NS: ns, Link: lk, MAC: lk.MAC}
	if len(addrs) > 0 {
		h.Addr = addrs[0]
	}
	l.hosts = append(l.hosts, h)
	return h, nil
}

// Isolate puts the host's switch port in (or out of) bridge port isolation:
// isolated ports do not hear each other, but the links stay up. Isolating
// two hosts partitions them without a link going down.
func (l *Lab) Isolate(h *Host, on bool) error {
	sw, err := l.Topo.SwitchNamespace()
	if err != nil {
		return err
	}
	port, err := sw.Handle().LinkByName(h.Link.Port)
	if err != nil {
		return fmt.Errorf("finding port %s: %w", h.Link.Port, err)
	}
	if err := sw.Handle().LinkSetIsolated(port, on); err != nil {
		return fmt.Errorf("setting isolation of %s: %w", h.Link.Port, err)
	}
	return nil
}

// Neighbour returns the MAC address host h has for ip (empty if none).
func (l *Lab) Neighbour(h *Host, ip netip.Addr) (net.HardwareAddr, error) {
	lk, err := h.NS.Handle().LinkByName("eth0")
	if err != nil {
		return nil, err
	}
	neighs, err := h.NS.Handle().NeighList(lk.Attrs().Index, 0)
	if err != nil {
		return nil, fmt.Errorf("listing neighbours: %w", err)
	}
	for _, n := range neighs {
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == ip {
			return n.HardwareAddr, nil
		}
	}
	return nil, nil
}

// HasAddr reports whether host h holds ip on eth0.
func (l *Lab) HasAddr(h *Host, ip netip.Addr) (bool, error) {
	return h.NS.HasAddress("eth0", ip)
}

// BuildVrrpd compiles vrrpd into dir and returns its path.
func BuildVrrpd(dir string) (string, error) {
	return netnslab.GoBuild(dir, "github.com/lvsd/lb/vrrp/cmd/vrrpd")
}

func (l *Lab) writeFile(name string, v any) (string, error) {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.MarshalIndent(v, "", "  "); err != nil {
			return "", err
		}
	}
	p := filepath.Join(l.Dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}

// Eventually polls f until it returns nil or timeout passes.
func Eventually(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
