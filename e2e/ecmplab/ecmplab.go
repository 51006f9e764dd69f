// Package ecmplab builds issue 16's BGP/ECMP topology in network
// namespaces, shared by the VM scenarios (e2e/scenarios, TestScenarioBGP*)
// and the benchmark (e2e/cmd/ecmpbench): a client behind a router, and on
// the router's LAN three directors and three DR real servers. It makes the
// namespaces, links, addresses, routes and sysctls only; the callers start
// the daemons (bird2 on the router with RouterConf, lbd with LbdBody).
//
//	client 10.20.0.2 --front-- router 10.20.0.1 | 10.9.0.254 --lan-- d1..d3 10.9.0.1-3
//	                                                                 web1..3 10.9.0.11-13
package ecmplab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/lvsd/lb/internal/birdconf"
	"github.com/lvsd/lb/internal/netnslab"
	"github.com/vishvananda/netlink"
)

// The topology's addresses.
const (
	VIP      = "192.0.2.10"
	Router   = "10.9.0.254"
	ClientGW = "10.20.0.1"
	Client   = "10.20.0.2"
	// Size is the number of directors, and of real servers.
	Size = 3
)

// DirectorAddr is director i's address (1-based).
func DirectorAddr(i int) string { return fmt.Sprintf("10.9.0.%d", i) }

// WebAddr is real server w's address (1-based).
func WebAddr(w int) string { return fmt.Sprintf("10.9.0.%d", 10+w) }

// DirectorAddrs lists the directors' addresses, d1 first.
func DirectorAddrs() []string {
	var out []string
	for i := 1; i <= Size; i++ {
		out = append(out, DirectorAddr(i))
	}
	return out
}

// Director is one director's namespace and its link to the LAN (eth0).
type Director struct {
	ID   int
	Addr string
	NS   *netnslab.Namespace
	Link *netnslab.Link
}

// Web is one real server's namespace (eth0 on the LAN), named web1, ...
type Web struct {
	Name string
	Addr string
	NS   *netnslab.Namespace
}

// Topology is the built lab.
type Topology struct {
	Router    *netnslab.Namespace // eth0 on the front, eth1 on the LAN
	Client    *netnslab.Namespace
	Directors []*Director
	Webs      []*Web
}

// Build makes the topology in l. The router forwards with
// fib_multipath_hash_policy=1 (an L4 hash: different source ports take
// different next hops of one multipath route). The client's packets reach
// the router still carrying its socket's hash (veth keeps skb->hash), and
// policy 1 uses an L4 hash already there instead of the headers'; the
// socket draws a new one on every retransmission timeout, which would move
// a flow to another director with the same route. A real router hashes the
// headers: so the client's net.core.txrehash is 0 and Dial sets
// SO_TXREHASH 0, and only a route change moves a flow, as on a real
// network.
func Build(l *netnslab.Lab) (*Topology, error) {
	front, err := l.AddSwitch("front")
	if err != nil {
		return nil, err
	}
	lan, err := l.AddSwitch("lan")
	if err != nil {
		return nil, err
	}
	tp := &Topology{}
	if tp.Client, err = l.AddHost("client", front, netip.MustParsePrefix(Client+"/24")); err != nil {
		return nil, err
	}
	if err := tp.Client.AddRoute(netip.MustParsePrefix("0.0.0.0/0"), netip.MustParseAddr(ClientGW), ""); err != nil {
		return nil, err
	}
	if err := tp.Client.Sysctl("net.core.txrehash", "0"); err != nil {
		return nil, err
	}
	if tp.Router, err = l.AddHost("router", front, netip.MustParsePrefix(ClientGW+"/24")); err != nil {
		return nil, err
	}
	if _, err := l.Connect(tp.Router, lan, netnslab.Port{Name: "eth1", Addrs: []netip.Prefix{netip.MustParsePrefix(Router + "/24")}}); err != nil {
		return nil, err
	}
	for k, v := range map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.fib_multipath_hash_policy": "1"} {
		if err := tp.Router.Sysctl(k, v); err != nil {
			return nil, err
		}
	}
	for w := 1; w <= Size; w++ {
		web := &Web{Name: fmt.Sprintf("web%d", w), Addr: WebAddr(w)}
		if web.NS, err = l.AddHost(web.Name, lan, netip.MustParsePrefix(web.Addr+"/24")); err != nil {
			return nil, err
		}
		if err := web.NS.AddRoute(netip.MustParsePrefix("0.0.0.0/0"), netip.MustParseAddr(Router), ""); err != nil {
			return nil, err
		}
		tp.Webs = append(tp.Webs, web)
	}
	for i := 1; i <= Size; i++ {
		d := &Director{ID: i, Addr: DirectorAddr(i)}
		if d.NS, err = l.AddNamespace(fmt.Sprintf("d%d", i)); err != nil {
			return nil, err
		}
		if d.Link, err = l.Connect(d.NS, lan, netnslab.Port{Addrs: []netip.Prefix{netip.MustParsePrefix(d.Addr + "/24")}}); err != nil {
			return nil, err
		}
		if err := d.NS.AddRoute(netip.MustParsePrefix("0.0.0.0/0"), netip.MustParseAddr(Router), ""); err != nil {
			return nil, err
		}
		tp.Directors = append(tp.Directors, d)
	}
	return tp, nil
}

// RouterConf is the router's bird.conf: a passive BGP session with each
// director (AS 65001, hold 3 s), merge paths, and with bfd BFD 100ms x 3.
func RouterConf(bfd bool) string { return birdconf.Router(Router, DirectorAddrs(), bfd) }

// LbdOptions are what LbdBody varies.
type LbdOptions struct {
	Sloppy bool // ipvs.sysctls.sloppy_tcp
	BFD    bool // BFD 100ms x 3 with the router
	// CheckFrom sends each director's health checks from its check address
	// (CheckAddr), which the director must have (AddCheckAddr) and a
	// scenario can take away to fail all its checks at once.
	CheckFrom bool
	Sync      bool // ipvs.sync_daemon with role both (connection sync among the directors)
	// Drained is a real server (1-Size) given weight 0: its connections go
	// on, mh-fallback sends new ones elsewhere; 0 drains none.
	Drained int
}

// CheckAddr is director i's second LAN address, the source of its health
// checks with LbdOptions.CheckFrom.
func CheckAddr(i int) string { return fmt.Sprintf("10.9.0.%d", 20+i) }

// AddCheckAddr gives the director its check address (CheckAddr/24 on
// eth0, after its own address).
func (d *Director) AddCheckAddr() error {
	if err := d.NS.AddAddress("eth0", netip.MustParsePrefix(CheckAddr(d.ID)+"/24"), ""); err != nil {
		return fmt.Errorf("d%d's check address: %w", d.ID, err)
	}
	return nil
}

// LbdBody is director i's lbd.yaml after the global section: BGP with the
// router (hold 3 s, drain period 2 s), the VIP's service mh with
// mh-fallback and mh-port, DR to the three real servers with TCP checks,
// announced.
func LbdBody(i int, o LbdOptions) string {
	check := "{type: tcp}"
	if o.CheckFrom {
		check = fmt.Sprintf("{type: tcp, bindto: %s}", CheckAddr(i))
	}
	var rs strings.Builder
	for w := 1; w <= Size; w++ {
		weight := ""
		if w == o.Drained {
			weight = "\n        weight: 0"
		}
		fmt.Fprintf(&rs, "      - address: %s%s\n        checks: [%s]\n", WebAddr(w), weight, check)
	}
	bfd := ""
	if o.BFD {
		bfd = "      bfd: {min_rx: 100ms, min_tx: 100ms, multiplier: 3}\n"
	}
	syncd := ""
	if o.Sync {
		syncd = "\n  sync_daemon: {interface: eth0, sync_id: 52, role: both}"
	}
	return fmt.Sprintf(`ipvs:
  sysctls:
    sloppy_tcp: %t%s
bgp:
  asn: 65001
  router_id: %s
  drain_period: 2s
  peers:
    - address: %s
      asn: 65000
      hold_time: 3s
%svirtual_servers:
  - address: %s
    port: 80
    scheduler: mh
    scheduler_flags: [mh-fallback, mh-port]
    forwarding: DR
    announce: true
    delay_loop: 1s
    real_servers:
%s`, o.Sloppy, syncd, DirectorAddr(i), Router, bfd, VIP, rs.String())
}

var viaRE = regexp.MustCompile(`via 10\.9\.0\.(\d+)`)

// ParseNextHops reads "ip route show VIP/32" and returns its next hops as
// director ids, sorted.
func ParseNextHops(out string) []int {
	var ids []int
	for _, m := range viaRE.FindAllStringSubmatch(out, -1) {
		id, _ := strconv.Atoi(m[1])
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// NextHops is the router's next hops for the VIP, as director ids,
// sorted, read over netlink (cheap enough to poll every few ms).
func (tp *Topology) NextHops() ([]int, error) {
	routes, err := tp.Router.Handle().RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Dst: &net.IPNet{IP: net.ParseIP(VIP).To4(), Mask: net.CIDRMask(32, 32)}}, netlink.RT_FILTER_DST)
	if err != nil {
		return nil, fmt.Errorf("the router's routes to %s: %w", VIP, err)
	}
	var ids []int
	add := func(gw net.IP) {
		if gw4 := gw.To4(); gw4 != nil && gw4[0] == 10 && gw4[1] == 9 && gw4[2] == 0 {
			ids = append(ids, int(gw4[3]))
		}
	}
	for _, r := range routes {
		add(r.Gw)
		for _, nh := range r.MultiPath {
			add(nh.Gw)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Conn is one IPVS connection entry from the client.
type Conn struct {
	Port  int    // the client's source port
	State string // e.g. ESTABLISHED
	Dest  string // the real server's address
}

var ipvsConnRE = regexp.MustCompile(`(?m)^TCP\s+\S+\s+(\S+)\s+` + regexp.QuoteMeta(Client) + `:(\d+)\s+` + regexp.QuoteMeta(VIP) + `:80\s+(\S+):80`)

// ParseConns reads "ipvsadm -Lnc" and returns the client's connections to
// the VIP by source port.
func ParseConns(out string) map[int]Conn {
	m := map[int]Conn{}
	for _, f := range ipvsConnRE.FindAllStringSubmatch(out, -1) {
		port, _ := strconv.Atoi(f[2])
		m[port] = Conn{Port: port, State: f[1], Dest: f[3]}
	}
	return m
}

// Conns lists director d's IPVS connections from the client.
func (d *Director) Conns(ctx context.Context) (map[int]Conn, error) {
	out, err := d.NS.Run(ctx, "ipvsadm", "-Lnc")
	if err != nil {
		return nil, err
	}
	return ParseConns(out), nil
}

// Dial connects from the client's source port to the VIP's port 80, with
// SO_TXREHASH 0 (see Build).
func (tp *Topology) Dial(ctx context.Context, port int) (*net.TCPConn, error) {
	var c net.Conn
	err := tp.Client.Do(func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{Port: port}, Control: NoTxRehash}
		var err error
		c, err = d.DialContext(ctx, "tcp", VIP+":80")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dialing %s:80 from port %d: %w", VIP, port, err)
	}
	return c.(*net.TCPConn), nil
}

// soTxRehash is SO_TXREHASH (Linux 5.17): 0 keeps the socket's hash for
// its life.
const soTxRehash = 74

// NoTxRehash is a net.Dialer Control setting SO_TXREHASH 0.
func NoTxRehash(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soTxRehash, 0) }); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setsockopt SO_TXREHASH 0: %w", serr)
	}
	return nil
}
