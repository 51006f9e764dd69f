package netnslab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Lab is a set of network namespaces joined by bridges. It owns everything
// it creates; Close removes it. A Lab is safe for use by several goroutines.
type Lab struct {
	id  string
	dir string

	mu       sync.Mutex
	closed   bool
	sw       *Namespace // private namespace holding the bridges; created lazily
	hosts    map[string]*Namespace
	order    []*Namespace
	switches map[string]*Switch
	links    []*Link
}

// Switch is a Linux bridge in the lab's private switch namespace.
type Switch struct {
	lab  *Lab
	name string
}

// Name is the bridge's interface name inside the switch namespace.
func (s *Switch) Name() string { return s.name }

// Link is one veth pair: Name in the host namespace NS, Port on the switch.
type Link struct {
	lab    *Lab
	NS     *Namespace
	Name   string           // interface name in NS, e.g. "eth0"
	Port   string           // the peer's name on the switch
	Switch *Switch          // the bridge Port is enslaved to
	MAC    net.HardwareAddr // the MAC of Name
}

// Port describes the interface Connect creates in a host namespace.
type Port struct {
	Name  string           // interface name; "eth0" when empty
	MAC   net.HardwareAddr // optional; the kernel picks a random one when nil
	MTU   int              // optional
	Addrs []netip.Prefix   // addresses to add, e.g. 192.168.56.10/24
}

var (
	labPrefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,7}$`)
	nsNameRE    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,31}$`)
	ifNameRE    = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$`)
)

// New creates an empty lab. prefix (1-8 lower-case letters or digits,
// starting with a letter) is combined with random hex into the lab id that
// prefixes every namespace name, so concurrent labs in several test
// processes never collide.
func New(prefix string) (*Lab, error) {
	return newLabIn(NetnsDir, prefix)
}

// NewT is New for tests: it fails tb at once on error and registers Close
// with tb.Cleanup, reporting teardown errors.
func NewT(tb testing.TB, prefix string) *Lab {
	tb.Helper()
	l, err := New(prefix)
	if err != nil {
		tb.Fatalf("creating network lab: %v", err)
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("tearing down network lab %s: %v", l.ID(), err)
		}
	})
	return l
}

// LANT is NewT with one switch, "lan", and hosts d1..dN on it at
// 10.9.0.1/24..10.9.0.N/24 (the directors of the lbd tests): it fails tb
// at once on error.
func LANT(tb testing.TB, prefix string, hosts int) (*Lab, *Switch, []*Namespace) {
	tb.Helper()
	l := NewT(tb, prefix)
	lan, err := l.AddSwitch("lan")
	if err != nil {
		tb.Fatal(err)
	}
	nss := make([]*Namespace, hosts)
	for i := range nss {
		addr := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 9, 0, byte(i + 1)}), 24)
		if nss[i], err = l.AddHost(fmt.Sprintf("d%d", i+1), lan, addr); err != nil {
			tb.Fatal(err)
		}
	}
	return l, lan, nss
}

func newLabIn(dir, prefix string) (*Lab, error) {
	if !labPrefixRE.MatchString(prefix) {
		return nil, fmt.Errorf("lab prefix %q: want 1-8 lower-case letters or digits starting with a letter", prefix)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("network namespaces need root (run as root, e.g. sudo go test -tags netns ...)")
	}
	if err := prepareNetnsDir(dir); err != nil {
		return nil, err
	}
	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("choosing a lab id: %w", err)
	}
	return &Lab{
		id:       prefix + hex.EncodeToString(rnd[:]),
		dir:      dir,
		hosts:    map[string]*Namespace{},
		switches: map[string]*Switch{},
	}, nil
}

// ID is the lab's unique id, the prefix of its namespace names.
func (l *Lab) ID() string { return l.id }

// AddNamespace creates a network namespace called name within the lab
// (name: letters, digits, '-' or '_', at most 32), with lo up.
func (l *Lab) AddNamespace(name string) (*Namespace, error) {
	if !nsNameRE.MatchString(name) {
		return nil, fmt.Errorf("namespace name %q: want letters, digits, '-' or '_', at most 32", name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	if _, ok := l.hosts[name]; ok {
		return nil, fmt.Errorf("namespace %q already exists in lab %s", name, l.id)
	}
	ns, err := l.newNamespace(name, l.id+"-"+name)
	if err != nil {
		return nil, err
	}
	l.hosts[name] = ns
	l.order = append(l.order, ns)
	return ns, nil
}

// Namespace returns the lab's namespace called name, or nil.
func (l *Lab) Namespace(name string) *Namespace {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hosts[name]
}

// SwitchNamespace returns the lab's private namespace that holds the
// bridges (created on first use), e.g. to run tcpdump on a bridge.
func (l *Lab) SwitchNamespace() (*Namespace, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	return l.switchNS()
}

// switchNS returns the switch namespace, creating it. l.mu must be held.
func (l *Lab) switchNS() (*Namespace, error) {
	if l.sw != nil {
		return l.sw, nil
	}
	sw, err := l.newNamespace("switch", l.id+"--switch")
	if err != nil {
		return nil, err
	}
	l.sw = sw
	return sw, nil
}

func (l *Lab) newNamespace(name, full string) (*Namespace, error) {
	path := filepath.Join(l.dir, full)
	if err := createNamedNetns(path); err != nil {
		return nil, fmt.Errorf("creating namespace %s: %w", name, err)
	}
	ns := &Namespace{lab: l, name: name, full: full, path: path}
	fail := func(err error) (*Namespace, error) {
		ns.release()
		return nil, errors.Join(err, deleteNamedNetns(path))
	}
	h, err := netns.GetFromPath(path)
	if err != nil {
		return fail(fmt.Errorf("opening namespace %s: %w", name, err))
	}
	ns.fd = h
	nh, err := netlink.NewHandleAt(h, unix.NETLINK_ROUTE)
	if err != nil {
		return fail(fmt.Errorf("opening netlink in namespace %s: %w", name, err))
	}
	ns.nl = nh
	if err := ns.SetLinkUp("lo", true); err != nil {
		return fail(err)
	}
	for _, key := range []string{"net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"} {
		if err := ns.Sysctl(key, "0"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(err)
		}
	}
	return ns, nil
}

// AddSwitch creates a bridge called name (at most 15 characters) in the
// lab's switch namespace, with STP and multicast snooping off, and up.
func (l *Lab) AddSwitch(name string) (*Switch, error) {
	if !ifNameRE.MatchString(name) {
		return nil, fmt.Errorf("switch name %q: not a valid interface name (at most 15 characters)", name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	if _, ok := l.switches[name]; ok {
		return nil, fmt.Errorf("switch %q already exists in lab %s", name, l.id)
	}
	sw, err := l.switchNS()
	if err != nil {
		return nil, err
	}
	off := false
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}, MulticastSnooping: &off}
	if err := sw.nl.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("creating bridge %s: %w", name, err)
	}
	if err := sw.SetLinkUp(name, true); err != nil {
		return nil, err
	}
	s := &Switch{lab: l, name: name}
	l.switches[name] = s
	return s, nil
}

// Connect plugs ns into sw with a new veth pair: p.Name (default "eth0")
// in ns, with p.MAC, p.MTU and p.Addrs, and its peer on the bridge. Both
// ends are up when Connect returns.
func (l *Lab) Connect(ns *Namespace, sw *Switch, p Port) (*Link, error) {
	if p.Name == "" {
		p.Name = "eth0"
	}
	if !ifNameRE.MatchString(p.Name) {
		return nil, fmt.Errorf("interface name %q: not valid (at most 15 characters)", p.Name)
	}
	if ns == nil || ns.lab != l || sw == nil || sw.lab != l {
		return nil, errors.New("connect: namespace and switch must belong to this lab")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return nil, err
	}
	swns := l.sw
	port := l.portName(ns.name, p.Name)
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: port, MTU: p.MTU},
		PeerName:         p.Name,
		PeerHardwareAddr: p.MAC,
		PeerNamespace:    netlink.NsFd(int(ns.fd)),
	}
	if p.MTU > 0 {
		veth.PeerMTU = uint32(p.MTU)
	}
	if err := swns.nl.LinkAdd(veth); err != nil {
		return nil, fmt.Errorf("creating veth %s (switch %s) <-> %s (namespace %s): %w", port, sw.name, p.Name, ns.name, err)
	}
	portLink, err := swns.nl.LinkByName(port)
	if err != nil {
		return nil, fmt.Errorf("finding switch port %s: %w", port, err)
	}
	bridge, err := swns.nl.LinkByName(sw.name)
	if err != nil {
		return nil, fmt.Errorf("finding bridge %s: %w", sw.name, err)
	}
	if err := swns.nl.LinkSetMaster(portLink, bridge); err != nil {
		return nil, fmt.Errorf("enslaving %s to bridge %s: %w", port, sw.name, err)
	}
	if err := swns.nl.LinkSetUp(portLink); err != nil {
		return nil, fmt.Errorf("setting switch port %s up: %w", port, err)
	}
	hostLink, err := ns.link(p.Name)
	if err != nil {
		return nil, err
	}
	if err := ns.nl.LinkSetUp(hostLink); err != nil {
		return nil, fmt.Errorf("setting %s up in %s: %w", p.Name, ns.name, err)
	}
	for _, a := range p.Addrs {
		if err := ns.AddAddress(p.Name, a, ""); err != nil {
			return nil, err
		}
	}
	lk := &Link{lab: l, NS: ns, Name: p.Name, Port: port, Switch: sw, MAC: hostLink.Attrs().HardwareAddr}
	l.links = append(l.links, lk)
	return lk, nil
}

// AddHost is AddNamespace plus Connect(ns, sw, Port{Name: "eth0", Addrs: addrs}).
func (l *Lab) AddHost(name string, sw *Switch, addrs ...netip.Prefix) (*Namespace, error) {
	ns, err := l.AddNamespace(name)
	if err != nil {
		return nil, err
	}
	if _, err := l.Connect(ns, sw, Port{Name: "eth0", Addrs: addrs}); err != nil {
		return nil, err
	}
	return ns, nil
}

// portName names the switch side of a veth: "<ns>-<if>" when that fits in
// 15 characters and is free, else "p<N>". l.mu must be held.
func (l *Lab) portName(nsName, ifName string) string {
	taken := func(n string) bool {
		for _, lk := range l.links {
			if lk.Port == n {
				return true
			}
		}
		_, isSwitch := l.switches[n]
		return isSwitch
	}
	if n := nsName + "-" + ifName; len(n) <= 15 && ifNameRE.MatchString(n) && !taken(n) {
		return n
	}
	for i := len(l.links); ; i++ {
		if n := fmt.Sprintf("p%d", i); !taken(n) {
			return n
		}
	}
}

// Links returns the links Connect created, in order.
func (l *Lab) Links() []*Link {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Link(nil), l.links...)
}

// Cut takes the switch side of the link down: the host keeps its address and
// its interface stays administratively up but loses carrier, as if its
// cable were pulled.
func (lk *Link) Cut() error {
	return lk.setPort(false)
}

// Restore undoes Cut.
func (lk *Link) Restore() error {
	return lk.setPort(true)
}

func (lk *Link) setPort(up bool) error {
	lk.lab.mu.Lock()
	defer lk.lab.mu.Unlock()
	if err := lk.lab.usable(); err != nil {
		return err
	}
	return lk.lab.sw.SetLinkUp(lk.Port, up)
}

// usable reports an error once the lab is closed. l.mu must be held.
func (l *Lab) usable() error {
	if l.closed {
		return fmt.Errorf("lab %s is closed", l.id)
	}
	return nil
}

// Close deletes every namespace of the lab, the switch namespace last (which
// destroys the bridges and all veths). Processes still running in a
// namespace keep it alive until they exit: stop them first (cancel the
// context given to Namespace.Command). Close is idempotent.
func (l *Lab) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	all := append([]*Namespace(nil), l.order...)
	if l.sw != nil {
		all = append(all, l.sw)
	}
	for _, ns := range all {
		ns.release()
		if err := deleteNamedNetns(ns.path); err != nil {
			errs = append(errs, fmt.Errorf("deleting namespace %s: %w", ns.name, err))
		}
	}
	return errors.Join(errs...)
}
