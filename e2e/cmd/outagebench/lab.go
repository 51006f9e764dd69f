package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// The LAN and the VRRP timers both stacks are given.
const (
	clientAddr = "10.77.0.10"
	d1Addr     = "10.77.0.1"
	d2Addr     = "10.77.0.2"
	web1Addr   = "10.77.0.201"
	web2Addr   = "10.77.0.202"
	vipAddr    = "10.77.0.100"
	vrid       = 51
	advert     = time.Second
	healthPath = "/health.html"
	healthBody = "OK\n"
	// skew and masterDown are d2's (priority 100): (256-100)/256 s and
	// 3 adverts plus the skew.
	skew       = 609375 * time.Microsecond
	masterDown = 3*advert + skew
)

// lab is the LAN: a client, two directors and two web nodes.
type lab struct {
	lab    *netnslab.Lab
	client *netnslab.Namespace
	d      [2]*netnslab.Namespace // d1, d2
	link1  *netnslab.Link         // d1's cable
	web    []*netnslab.Namespace  // web1, web2
	mac    [2]net.HardwareAddr    // d1's and d2's eth0
	webs   []*http.Server
}

func buildLab() (l *lab, err error) {
	nl, err := netnslab.New("outage")
	if err != nil {
		return nil, err
	}
	l = &lab{lab: nl}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	lan, err := nl.AddSwitch("lan")
	if err != nil {
		return nil, err
	}
	host := func(name, addr string) (*netnslab.Namespace, *netnslab.Link, error) {
		ns, err := nl.AddNamespace(name)
		if err != nil {
			return nil, nil, err
		}
		lk, err := nl.Connect(ns, lan, netnslab.Port{Name: "eth0", Addrs: []netip.Prefix{netip.MustParsePrefix(addr + "/24")}})
		return ns, lk, err
	}
	if l.client, _, err = host("client", clientAddr); err != nil {
		return nil, err
	}
	if l.d[0], l.link1, err = host("d1", d1Addr); err != nil {
		return nil, err
	}
	var link2 *netnslab.Link
	if l.d[1], link2, err = host("d2", d2Addr); err != nil {
		return nil, err
	}
	l.mac = [2]net.HardwareAddr{l.link1.MAC, link2.MAC}
	for _, d := range l.d {
		if err := d.Sysctl("net.ipv4.ip_forward", "1"); err != nil {
			return nil, err
		}
	}
	for i, addr := range []string{web1Addr, web2Addr} {
		name := fmt.Sprintf("web%d", i+1)
		ns, _, err := host(name, addr)
		if err != nil {
			return nil, err
		}
		l.web = append(l.web, ns)
		if err := l.addWeb(ns, name); err != nil {
			return nil, err
		}
	}
	return l, l.checkWebs()
}

// addWeb makes ns a DR real server: the VIP on lo, the ARP sysctls, and an
// HTTP server answering its name (and healthBody on healthPath).
func (l *lab) addWeb(ns *netnslab.Namespace, name string) error {
	if err := ns.AddAddress("lo", netip.MustParsePrefix(vipAddr+"/32"), "lo:0"); err != nil {
		return err
	}
	for _, k := range []string{"net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.lo.arp_ignore"} {
		if err := ns.Sysctl(k, "1"); err != nil {
			return err
		}
	}
	for _, k := range []string{"net.ipv4.conf.all.arp_announce", "net.ipv4.conf.lo.arp_announce"} {
		if err := ns.Sysctl(k, "2"); err != nil {
			return err
		}
	}
	ln, err := ns.Listen("tcp4", "0.0.0.0:80")
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == healthPath {
			_, _ = io.WriteString(w, healthBody)
			return
		}
		_, _ = io.WriteString(w, name+"\n")
	})}
	srv.SetKeepAlivesEnabled(false)
	l.webs = append(l.webs, srv)
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// checkWebs requires each web node to answer the client directly.
func (l *lab) checkWebs() error {
	for _, addr := range []string{web1Addr, web2Addr} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := get(ctx, l.client, addr)
		cancel()
		if err != nil {
			return fmt.Errorf("web node %s does not answer the client: %w", addr, err)
		}
	}
	return nil
}

func (l *lab) close() {
	for _, s := range l.webs {
		_ = s.Close()
	}
	if err := l.lab.Close(); err != nil {
		fmt.Println("outagebench: removing the lab:", err)
	}
}

// get sends one GET / to addr:80 from ns over a new connection and
// returns the answer's body.
func get(ctx context.Context, ns *netnslab.Namespace, addr string) (string, error) {
	body, _, err := getTimed(ctx, ns, addr)
	return body, err
}

// getTimed is get that also says when the connection was established.
func getTimed(ctx context.Context, ns *netnslab.Namespace, addr string) (body string, dialed time.Time, err error) {
	c, err := ns.DialContext(ctx, "tcp4", net.JoinHostPort(addr, "80"))
	if err != nil {
		return "", dialed, err
	}
	dialed = time.Now()
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: vip\r\n\r\n"); err != nil {
		return "", dialed, err
	}
	b, err := io.ReadAll(io.LimitReader(c, 4096))
	if err != nil {
		return "", dialed, err
	}
	s := string(b)
	if !strings.HasPrefix(s, "HTTP/1.0 200 ") && !strings.HasPrefix(s, "HTTP/1.1 200 ") {
		return "", dialed, errors.New("not a 200 answer")
	}
	_, body, _ = strings.Cut(s, "\r\n\r\n")
	return body, dialed, nil
}
