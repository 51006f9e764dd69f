package netnslab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/lvsd/lb/internal/sysctl"
)

// Namespace is one named network namespace of a Lab.
type Namespace struct {
	lab  *Lab
	name string
	full string
	path string
	fd   netns.NsHandle
	nl   *netlink.Handle
}

// Name is the namespace's name within the lab ("client", "web1"...).
func (n *Namespace) Name() string { return n.name }

// FullName is the name under /run/netns ("<lab id>-<name>"), the one to
// give "ip netns exec" or "ip -n".
func (n *Namespace) FullName() string { return n.full }

// Path is the namespace's bind mount, e.g. for "nsenter --net=PATH".
func (n *Namespace) Path() string { return n.path }

// Handle is a netlink handle whose sockets live in the namespace, for
// anything this package does not wrap (neighbours, link stats...). It is
// closed by Lab.Close.
func (n *Namespace) Handle() *netlink.Handle { return n.nl }

func (n *Namespace) release() {
	if n.nl != nil {
		n.nl.Close()
		n.nl = nil
	}
	if n.fd.IsOpen() {
		n.fd.Close()
	}
}

// Do runs fn on the calling goroutine with its OS thread locked and switched
// into the namespace, then switches back. Sockets created inside fn stay in
// the namespace; goroutines started inside fn do not run in it. fn may call
// t.Fatal: the thread is restored on the way out.
func (n *Namespace) Do(fn func() error) error {
	if !n.fd.IsOpen() {
		return fmt.Errorf("namespace %s is closed", n.name)
	}
	return doIn(n.fd, fn)
}

// Listen is net.Listen with the socket created in the namespace.
func (n *Namespace) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s %s in namespace %s: %w", network, addr, n.name, err)
	}
	return l, nil
}

// ListenPacket is net.ListenPacket with the socket created in the namespace.
func (n *Namespace) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.Do(func() error {
		var err error
		c, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s %s in namespace %s: %w", network, addr, n.name, err)
	}
	return c, nil
}

// DialContext dials from the namespace. addr must hold an IP literal (no
// name resolution: a resolver could dial from another thread). Its
// signature fits http.Transport.DialContext.
func (n *Namespace) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dialing %s %s from namespace %s: %w", network, addr, n.name, err)
	}
	return c, nil
}

// Command returns an exec.Cmd that runs name in the namespace through
// nsenter --net. name is resolved with exec.LookPath first, so the full
// path reaches nsenter and busybox applets never shadow real tools. When
// nsenter or name cannot be found, the returned Cmd's Start reports it. The
// context kills the process as exec.CommandContext does.
func (n *Namespace) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	nsenter, nerr := exec.LookPath("nsenter")
	bin, berr := exec.LookPath(name)
	cmd := exec.CommandContext(ctx, nsenter, append([]string{"--net=" + n.path, "--", bin}, args...)...)
	switch {
	case nerr != nil:
		cmd.Err = fmt.Errorf("running %s in namespace %s needs nsenter (apt-get install util-linux): %w", name, n.name, nerr)
	case berr != nil:
		cmd.Err = fmt.Errorf("running %s in namespace %s: %w", name, n.name, berr)
	}
	return cmd
}

// Run runs name with args in the namespace and returns its combined output.
// A failure's error names the command and holds its output.
func (n *Namespace) Run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := n.Command(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s in namespace %s: %w\n%s", name, strings.Join(args, " "), n.name, err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// Sysctl writes value to the sysctl key ("net.ipv4.conf.all.arp_ignore") in
// the namespace. A missing key gives an error that is os.ErrNotExist.
func (n *Namespace) Sysctl(key, value string) error {
	if err := n.Do(func() error { return sysctl.Proc{}.Set(key, value) }); err != nil {
		return fmt.Errorf("setting %s=%s in namespace %s: %w", key, value, n.name, err)
	}
	return nil
}

// ReadSysctl reads the sysctl key in the namespace, without the newline.
func (n *Namespace) ReadSysctl(key string) (string, error) {
	var v string
	err := n.Do(func() error {
		var err error
		v, err = sysctl.Proc{}.Get(key)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("reading %s in namespace %s: %w", key, n.name, err)
	}
	return v, nil
}

func (n *Namespace) link(dev string) (netlink.Link, error) {
	if n.nl == nil {
		return nil, fmt.Errorf("namespace %s is closed", n.name)
	}
	lk, err := n.nl.LinkByName(dev)
	if err != nil {
		return nil, fmt.Errorf("finding interface %s in namespace %s: %w", dev, n.name, err)
	}
	return lk, nil
}

// SetLinkUp sets interface dev administratively up or down.
func (n *Namespace) SetLinkUp(dev string, up bool) error {
	lk, err := n.link(dev)
	if err != nil {
		return err
	}
	if up {
		err = n.nl.LinkSetUp(lk)
	} else {
		err = n.nl.LinkSetDown(lk)
	}
	if err != nil {
		return fmt.Errorf("setting %s up=%t in namespace %s: %w", dev, up, n.name, err)
	}
	return nil
}

// AddAddress adds prefix (e.g. 192.168.56.90/32) to dev, with an IPv4
// label such as "lo:0" when label is not empty (a label must start with
// the device name and be at most 15 characters).
func (n *Namespace) AddAddress(dev string, prefix netip.Prefix, label string) error {
	lk, err := n.link(dev)
	if err != nil {
		return err
	}
	a, err := netlinkAddr(prefix, label, dev)
	if err != nil {
		return err
	}
	if err := n.nl.AddrAdd(lk, a); err != nil {
		return fmt.Errorf("adding %s to %s in namespace %s: %w", prefix, dev, n.name, err)
	}
	return nil
}

// DelAddress removes prefix from dev.
func (n *Namespace) DelAddress(dev string, prefix netip.Prefix) error {
	lk, err := n.link(dev)
	if err != nil {
		return err
	}
	a, err := netlinkAddr(prefix, "", dev)
	if err != nil {
		return err
	}
	if err := n.nl.AddrDel(lk, a); err != nil {
		return fmt.Errorf("removing %s from %s in namespace %s: %w", prefix, dev, n.name, err)
	}
	return nil
}

// HasAddress reports whether ip is one of dev's addresses.
func (n *Namespace) HasAddress(dev string, ip netip.Addr) (bool, error) {
	ps, err := n.Addresses(dev)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.Addr() == ip {
			return true, nil
		}
	}
	return false, nil
}

// Addresses lists the addresses on dev (all families).
func (n *Namespace) Addresses(dev string) ([]netip.Prefix, error) {
	lk, err := n.link(dev)
	if err != nil {
		return nil, err
	}
	as, err := n.nl.AddrList(lk, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s in namespace %s: %w", dev, n.name, err)
	}
	out := make([]netip.Prefix, 0, len(as))
	for _, a := range as {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out, nil
}

func netlinkAddr(prefix netip.Prefix, label, dev string) (*netlink.Addr, error) {
	if !prefix.IsValid() {
		return nil, fmt.Errorf("address %v: not a valid prefix", prefix)
	}
	if label != "" {
		if !prefix.Addr().Is4() {
			return nil, fmt.Errorf("label %q on %s: labels are IPv4-only", label, prefix)
		}
		if len(label) > 15 || !strings.HasPrefix(label, dev) {
			return nil, fmt.Errorf("label %q: must start with %q and be at most 15 characters", label, dev)
		}
	}
	return &netlink.Addr{IPNet: prefixToIPNet(prefix), Label: label}, nil
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

// AddRoute adds a route to dst, through gateway via when it is valid, out
// of dev when dev is not empty. Use 0.0.0.0/0 (or ::/0) for a default route.
func (n *Namespace) AddRoute(dst netip.Prefix, via netip.Addr, dev string) error {
	if !dst.IsValid() {
		return fmt.Errorf("route destination %v: not a valid prefix", dst)
	}
	r := &netlink.Route{Dst: prefixToIPNet(dst.Masked())}
	if via.IsValid() {
		r.Gw = via.AsSlice()
	}
	if dev != "" {
		lk, err := n.link(dev)
		if err != nil {
			return err
		}
		r.LinkIndex = lk.Attrs().Index
	}
	if !via.IsValid() && dev == "" {
		return errors.New("a route needs a gateway or a device")
	}
	if err := n.nl.RouteAdd(r); err != nil {
		return fmt.Errorf("adding route to %s via %v dev %q in namespace %s: %w", dst, via, dev, n.name, err)
	}
	return nil
}
