package realserver

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/lvsd/lb/internal/sysctl"
)

// fakeSystem is an in-memory kernel: devices, addresses, sysctls (a
// sysctl.Map, which also fails chosen writes: sysctls.FailSet). It counts
// writes so tests can assert "no change on a node already in shape".
type fakeSystem struct {
	mu      sync.Mutex
	links   map[string]*fakeLink
	sysctls *sysctl.Map
	// tunnelModules lists modules whose loading makes a device appear.
	tunnelModules map[string]string // module -> device
	canCreate     bool              // CreateTunnel works
	failAdd       map[netip.Addr]error

	writes  []string // log of every mutation
	modules []string // modules loaded
	subs    []chan struct{}
	subErr  error
}

type fakeLink struct {
	kind  string // LinkInfo.Kind
	up    bool
	addrs []Address
}

func newFake() *fakeSystem {
	f := &fakeSystem{
		links:   map[string]*fakeLink{"lo": {kind: "loopback", up: true}, "eth0": {kind: "device", up: true}},
		sysctls: sysctl.NewMap(nil),
	}
	for _, dev := range []string{"lo", "all", "default", "eth0"} {
		f.sysctls.Put(confKey(dev, "arp_ignore"), "0")
		f.sysctls.Put(confKey(dev, "arp_announce"), "0")
		f.sysctls.Put(confKey(dev, "rp_filter"), "1")
	}
	f.links["lo"].addrs = []Address{{Link: "lo", Prefix: netip.MustParsePrefix("127.0.0.1/8"), Label: "lo", HostScope: true}}
	f.links["eth0"].addrs = []Address{{Link: "eth0", Prefix: netip.MustParsePrefix("192.168.56.200/24"), Label: "eth0"}}
	return f
}

func (f *fakeSystem) record(format string, args ...any) {
	f.writes = append(f.writes, fmt.Sprintf(format, args...))
}

func (f *fakeSystem) Link(name string) (LinkInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return LinkInfo{}, fmt.Errorf("%s: %w", name, ErrLinkNotFound)
	}
	return LinkInfo{Name: name, Up: l.up, Kind: l.kind}, nil
}

func (f *fakeSystem) SetLinkUp(name string, up bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[name]
	if !ok {
		return fmt.Errorf("%s: %w", name, ErrLinkNotFound)
	}
	l.up = up
	f.record("link %s %s", name, upDown(up))
	return nil
}

func (f *fakeSystem) LoadModule(_ context.Context, module string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dev, ok := f.tunnelModules[module]
	if !ok {
		return fmt.Errorf("modprobe %s: not found", module)
	}
	f.modules = append(f.modules, module)
	if _, exists := f.links[dev]; !exists {
		f.addLinkLocked(dev)
	}
	return nil
}

// addLinkLocked adds a tunnel device (ip6tnl if its name says so).
func (f *fakeSystem) addLinkLocked(dev string) {
	kind := "ipip"
	if strings.HasPrefix(dev, "ip6tnl") {
		kind = "ip6tnl"
	}
	f.links[dev] = &fakeLink{kind: kind}
	for _, k := range []string{"arp_ignore", "arp_announce"} {
		f.sysctls.Put(confKey(dev, k), "0")
	}
	rp, _ := f.sysctls.Get(confKey("default", "rp_filter"))
	f.sysctls.Put(confKey(dev, "rp_filter"), rp)
}

func (f *fakeSystem) CreateTunnel(name string, ipv6 bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.canCreate {
		return fmt.Errorf("create %s: operation not supported", name)
	}
	f.addLinkLocked(name)
	f.record("create %s", name)
	return nil
}

func (f *fakeSystem) DeleteLink(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.links[name]; !ok {
		return fmt.Errorf("%s: %w", name, ErrLinkNotFound)
	}
	delete(f.links, name)
	for _, k := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
		f.sysctls.Delete(confKey(name, k))
	}
	f.record("delete %s", name)
	return nil
}

func (f *fakeSystem) Addrs(link string) ([]Address, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[link]
	if !ok {
		return nil, fmt.Errorf("%s: %w", link, ErrLinkNotFound)
	}
	return slices.Clone(l.addrs), nil
}

func (f *fakeSystem) AllAddrs() ([]Address, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Address
	for _, name := range sortedKeys(f.links) {
		out = append(out, f.links[name].addrs...)
	}
	return out, nil
}

// kernelLabel is what the kernel reports as the label.
func kernelLabel(a Address) string {
	if !a.Prefix.Addr().Is4() {
		return ""
	}
	if a.Label == "" {
		return a.Link
	}
	return a.Label
}

func (f *fakeSystem) AddAddr(a Address) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failAdd[a.Prefix.Addr()]; err != nil {
		return err
	}
	l, ok := f.links[a.Link]
	if !ok {
		return fmt.Errorf("%s: %w", a.Link, ErrLinkNotFound)
	}
	a.Label = kernelLabel(a)
	l.addrs = append(l.addrs, a)
	f.record("add %s", a)
	f.notifyLocked()
	return nil
}

func (f *fakeSystem) DelAddr(a Address) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.links[a.Link]
	if !ok {
		return fmt.Errorf("%s: %w", a.Link, ErrLinkNotFound)
	}
	i := slices.IndexFunc(l.addrs, func(x Address) bool { return x.Prefix == a.Prefix })
	if i < 0 {
		return fmt.Errorf("%s: %w", a, ErrAddrNotFound)
	}
	l.addrs = slices.Delete(l.addrs, i, i+1)
	f.record("del %s", a.Prefix)
	f.notifyLocked()
	return nil
}

func (f *fakeSystem) ReadSysctl(key string) (string, error) {
	v, err := f.sysctls.Get(key)
	return v, sysctlErr(key, err)
}

func (f *fakeSystem) WriteSysctl(key, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.sysctls.Set(key, value); err != nil {
		return sysctlErr(key, err)
	}
	f.record("sysctl %s=%s", key, value)
	return nil
}

func (f *fakeSystem) Subscribe(ctx context.Context) (<-chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subErr != nil {
		return nil, f.subErr
	}
	ch := make(chan struct{}, 1)
	f.subs = append(f.subs, ch)
	return ch, nil
}

func (f *fakeSystem) notifyLocked() {
	for _, ch := range f.subs {
		if ch == nil {
			continue
		}
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// breakSubscriptions closes every open subscription, as a netlink receive
// error does.
func (f *fakeSystem) breakSubscriptions() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, ch := range f.subs {
		if ch != nil {
			close(ch)
			f.subs[i] = nil
		}
	}
}

func (f *fakeSystem) subscriptions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// Helpers that act "behind the agent's back": they change the fake without
// going through the recorded mutation log.
func (f *fakeSystem) externalDel(link string, p netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.links[link]
	l.addrs = slices.DeleteFunc(l.addrs, func(a Address) bool { return a.Prefix == p })
	f.notifyLocked()
}

func (f *fakeSystem) externalAdd(a Address) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a.Label = kernelLabel(a)
	f.links[a.Link].addrs = append(f.links[a.Link].addrs, a)
	f.notifyLocked()
}

func (f *fakeSystem) externalSysctl(key, v string) { f.sysctls.Put(key, v) }

// sysctl is the value of key, "" when it does not exist.
func (f *fakeSystem) sysctl(key string) string {
	v, _ := f.sysctls.Get(key)
	return v
}

func (f *fakeSystem) addrsOn(link string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	if l, ok := f.links[link]; ok {
		for _, a := range l.addrs {
			out = append(out, describeAddr(a))
		}
	}
	return out
}

func (f *fakeSystem) takeWrites() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.writes
	f.writes = nil
	return w
}
