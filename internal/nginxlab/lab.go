package nginxlab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// The seed's addresses.
var (
	VIP        = netip.MustParseAddr("192.168.56.90")
	ClientAddr = netip.MustParsePrefix("192.168.56.10/24")
	D1Addr     = netip.MustParsePrefix("192.168.56.11/24")
	D2Addr     = netip.MustParsePrefix("192.168.56.12/24")
	Web1Addr   = netip.MustParsePrefix("192.168.56.200/24")
	Web2Addr   = netip.MustParsePrefix("192.168.56.201/24")
)

// Interface is the proxies' LAN interface, the seed's.
const Interface = "eth1"

// BackendPort is the backends' (the seed's tomcats') port.
const BackendPort = 8080

// Lab is the nginx pair's LAN. Close removes it.
type Lab struct {
	Dir    string
	Client *netnslab.Namespace
	D1, D2 *Proxy

	net      *netnslab.Lab
	backends []*http.Server
}

// Proxy is one of the two nginx boxes.
type Proxy struct {
	Name string // "d1" or "d2"
	NS   *netnslab.Namespace
	Dir  string // its files: nginx.conf, nginx.pid, error.log, the speaker's

	nginx *Proc
}

// New builds the LAN under dir (prefix names the namespaces: 1-8 lower-case
// letters or digits), starts the backends and nginx on both proxies, and
// waits until each nginx accepts connections.
func New(prefix, dir string) (l *Lab, err error) {
	nl, err := netnslab.New(prefix)
	if err != nil {
		return nil, err
	}
	l = &Lab{Dir: dir, net: nl}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
			l = nil
		}
	}()
	lan, err := nl.AddSwitch("lan")
	if err != nil {
		return nil, err
	}
	host := func(name string, addr netip.Prefix, iface string) (*netnslab.Namespace, error) {
		ns, err := nl.AddNamespace(name)
		if err != nil {
			return nil, err
		}
		_, err = nl.Connect(ns, lan, netnslab.Port{Name: iface, Addrs: []netip.Prefix{addr}})
		return ns, err
	}
	if l.Client, err = host("client", ClientAddr, "eth0"); err != nil {
		return nil, err
	}
	for i, addr := range []netip.Prefix{Web1Addr, Web2Addr} {
		name := fmt.Sprintf("web%d", i+1)
		ns, err := host(name, addr, "eth0")
		if err != nil {
			return nil, err
		}
		if err := l.startBackend(ns, name, addr.Addr()); err != nil {
			return nil, err
		}
	}
	for _, p := range []**Proxy{&l.D1, &l.D2} {
		name := "d1"
		addr := D1Addr
		if p == &l.D2 {
			name, addr = "d2", D2Addr
		}
		ns, err := host(name, addr, Interface)
		if err != nil {
			return nil, err
		}
		*p = &Proxy{Name: name, NS: ns, Dir: filepath.Join(dir, name)}
		if err := os.MkdirAll((*p).Dir, 0o755); err != nil {
			return nil, err
		}
		if err := (*p).StartNginx(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// startBackend serves "NAME\n" on addr:BackendPort in ns.
func (l *Lab) startBackend(ns *netnslab.Namespace, name string, addr netip.Addr) error {
	ln, err := ns.Listen("tcp", netip.AddrPortFrom(addr, BackendPort).String())
	if err != nil {
		return err
	}
	body := []byte(name + "\n")
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	l.backends = append(l.backends, srv)
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// Close stops nginx, the backends, and removes the namespaces. Stop the
// speakers first.
func (l *Lab) Close() error {
	var errs []error
	for _, p := range []*Proxy{l.D1, l.D2} {
		if p != nil && p.nginx != nil {
			p.nginx.Kill()
		}
	}
	for _, s := range l.backends {
		errs = append(errs, s.Close())
	}
	errs = append(errs, l.net.Close())
	return errors.Join(errs...)
}

// Proxies returns d1 and d2.
func (l *Lab) Proxies() []*Proxy { return []*Proxy{l.D1, l.D2} }

// HasVIP reports whether the VIP is on the proxy's LAN interface.
func (p *Proxy) HasVIP() (bool, error) {
	return p.NS.HasAddress(Interface, VIP)
}

// VIPHolders returns the names of the proxies holding the VIP, d1 first.
func (l *Lab) VIPHolders() ([]string, error) {
	var out []string
	for _, p := range l.Proxies() {
		has, err := p.HasVIP()
		if err != nil {
			return nil, err
		}
		if has {
			out = append(out, p.Name)
		}
	}
	return out, nil
}

// dialLocal reports whether something accepts on 127.0.0.1:port in the
// proxy's namespace.
func (p *Proxy) dialLocal(port int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := p.NS.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitUntil polls cond every 10 ms until it holds or limit passes.
func waitUntil(limit time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
