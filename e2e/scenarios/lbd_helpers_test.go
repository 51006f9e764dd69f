//go:build testbed_guest

package scenarios

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/internal/netnslab"
)

// Helpers of the lbd scenarios: the director daemon "lbd run" programs
// IPVS from an lbd.yaml written per scenario, in the director's namespace;
// the real servers are Go HTTP servers (lbdWeb) whose health page the
// scenario can break; DR and TUN real servers get the VIP from lbrs.

// healthBody is what a healthy real server answers on /health.html, as
// deploy/examples/lbd-master.yaml expects it ("OK\n").
const healthBody = "OK\n"

// healthDigest is the MD5 of healthBody, the digest of the HTTP checks.
func healthDigest() string {
	sum := md5.Sum([]byte(healthBody))
	return hex.EncodeToString(sum[:])
}

// The NAT real-server network behind the director.
const (
	natGateway = "10.0.1.1"
	natPrefix  = 24
)

// lbdWeb is one real server: an HTTP server on 0.0.0.0:80 in its own
// namespace that answers its name on every path but /health.html, where it
// answers the current health body.
type lbdWeb struct {
	name   string
	addr   string // its own address (on the LAN, or on the NAT network)
	ns     *netnslab.Namespace
	health atomic.Pointer[string]

	mu     sync.Mutex
	served []healthServed // every /health.html answer
}

// healthServed is one answer of /health.html.
type healthServed struct {
	at   time.Time // just before it was written
	body string
}

// setHealth changes what /health.html answers.
func (w *lbdWeb) setHealth(body string) { w.health.Store(&body) }

// servedSince returns the /health.html answers with body given from since
// to until.
func (w *lbdWeb) servedSince(body string, since, until time.Time) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Time
	for _, s := range w.served {
		if s.body == body && !s.at.Before(since) && !s.at.After(until) {
			out = append(out, s.at)
		}
	}
	return out
}

// serve starts w's HTTP server; it stops at the end of the test.
func (w *lbdWeb) serve(t *testing.T) {
	t.Helper()
	w.setHealth(healthBody)
	serveHTTP(t, w.ns, "0.0.0.0:80", func(rw http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // a client's upload, read to the end
		if r.URL.Path == "/download" {
			w.download(rw, r) // a long download (lbd_drain_test.go)
			return
		}
		if r.URL.Path == "/health.html" {
			body := *w.health.Load()
			w.mu.Lock()
			w.served = append(w.served, healthServed{time.Now(), body})
			w.mu.Unlock()
			io.WriteString(rw, body)
			return
		}
		fmt.Fprintln(rw, w.name)
	})
}

// lbdLab is a director, a client and two real servers for one forwarding
// method. DR and TUN: everything on the seed's LAN 192.168.56.0/24, the
// real servers made ready by "lbrs run" (mode dr / tun). NAT: the real
// servers on 10.0.1.0/24 behind the director's eth1, routing through it.
// The VIP is on the director's eth0 as eth0:0 (no VRRP here).
type lbdLab struct {
	fwd string // DR, NAT or TUN
	lab *netnslab.Lab
	lan *netnslab.Switch // the client's LAN
	// srcPort is the last source port a client of this lab used: see dial.
	srcPort  atomic.Uint32
	client   *netnslab.Namespace
	director *netnslab.Namespace
	webs     []*lbdWeb
}

// forwardName is the Forward column of ipvsadm -ln for a method.
func forwardName(fwd string) string {
	return map[string]string{"DR": "Route", "NAT": "Masq", "TUN": "Tunnel"}[fwd]
}

// buildLbdLab builds the lab for fwd and checks every real server answers
// at its own address.
func buildLbdLab(t *testing.T, n *narrator, prefix, fwd string) *lbdLab {
	t.Helper()
	lab := netnslab.NewT(t, prefix)
	lan, err := lab.AddSwitch("lan")
	must(t, err)
	host := func(name string, sw *netnslab.Switch, addr string, ifName string) *netnslab.Namespace {
		ns, _ := addSeedHost(t, lab, sw, name, ifName, addr)
		n.Note("%-8s %s %s/24", name, ifName, addr)
		return ns
	}
	l := &lbdLab{fwd: fwd, lab: lab, lan: lan}
	switch fwd {
	case "DR", "TUN":
		n.Step("LAN 192.168.56.0/24 (%s): client, director and web1/web2 on one bridge", fwd)
		l.client = host("client", lan, seedClient, "eth0")
		l.director = host("director", lan, seedDirector, "eth0")
		for _, w := range seedWebs() {
			l.webs = append(l.webs, &lbdWeb{name: w.name, addr: w.addr, ns: host(w.name, lan, w.addr, "eth0")})
		}
	case "NAT":
		n.Step("NAT: client and director on 192.168.56.0/24; director eth1 %s/24 on a second bridge with web1/web2 (default route via the director)", natGateway)
		rsnet, err := lab.AddSwitch("rsnet")
		must(t, err)
		l.client = host("client", lan, seedClient, "eth0")
		l.director = host("director", lan, seedDirector, "eth0")
		host("director", rsnet, natGateway, "eth1")
		for i, name := range []string{"web1", "web2"} {
			addr := fmt.Sprintf("10.0.1.%d", 200+i)
			ns := host(name, rsnet, addr, "eth0")
			must(t, ns.AddRoute(netip.MustParsePrefix("0.0.0.0/0"), netip.MustParseAddr(natGateway), ""))
			l.webs = append(l.webs, &lbdWeb{name: name, addr: addr, ns: ns})
		}
	default:
		t.Fatalf("unknown forwarding method %q", fwd)
	}
	must(t, l.director.AddAddress("eth0", netip.MustParsePrefix(seedVIP+"/32"), "eth0:0"))
	n.Note("VIP %s/32 on the director's eth0 as eth0:0 (by hand: no VRRP in this scenario)", seedVIP)
	for _, w := range l.webs {
		w.serve(t)
	}
	// Each real server answers at its own address (from the director, the
	// one host that reaches every network) before anything goes through
	// the VIP: a failure later is the load balancer's.
	direct := newHTTPClient(l.director, settle)
	for _, w := range l.webs {
		got, err := get(direct, "http://"+w.addr+"/")
		if err != nil || got != w.name {
			t.Fatalf("real server %s at its own address: answer %q, error %v; want %q", w.name, got, err, w.name)
		}
	}
	n.Note("web1 and web2 serve HTTP on :80 (their name; /health.html answers %q)", healthBody)

	if fwd == "NAT" {
		return l
	}
	mode, dev := "dr", "lo"
	if fwd == "TUN" {
		mode, dev = "tun", "tunl0"
	}
	n.Step("lbrs run (mode %s) on web1 and web2: VIP %s/32 on %s, ARP sysctls", mode, seedVIP, dev)
	var ds []*lbrsDaemon
	for _, w := range l.webs {
		ds = append(ds, startLbrs(t, newLbrsNode(t, w.name, w.ns, mode, "")))
	}
	for i, d := range ds {
		_, took := d.waitApplied(t)
		n.Note("%s: lbrs applied in %v", l.webs[i].name, took.Round(time.Millisecond))
	}
	return l
}

// addClient adds another client on the LAN at addr/24.
func (l *lbdLab) addClient(t *testing.T, n *narrator, name, addr string) *netnslab.Namespace {
	t.Helper()
	ns, _ := addSeedHost(t, l.lab, l.lan, name, "eth0", addr)
	n.Note("%-8s eth0 %s/24", name, addr)
	return ns
}

// dial connects from ns to addr from a source port never used before in
// this lab (20000, 20001, ..., below the kernel's ephemeral range). The
// kernel's own choice does come back to a port used seconds earlier, and
// with DR or TUN the director still holds that port's old connection in
// FIN_WAIT (120 s): IPVS does not reschedule a SYN that matches it
// (net.ipv4.vs.conn_reuse_mode=1 reschedules TIME_WAIT entries only), so
// the new connection goes to the old connection's real server, whatever
// the scheduler or the weights say. Fresh ports keep the counts exact.
func (l *lbdLab) dial(ctx context.Context, ns *netnslab.Namespace, addr string) (net.Conn, error) {
	port := 20000 + int(l.srcPort.Add(1))
	var c net.Conn
	err := ns.Do(func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{Port: port}}
		var err error
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dialing %s from %s port %d: %w", addr, ns.Name(), port, err)
	}
	return c, nil
}

// web returns the real server called name.
func (l *lbdLab) web(name string) *lbdWeb {
	for _, w := range l.webs {
		if w.name == name {
			return w
		}
	}
	panic("no real server " + name)
}

// lbdServiceYAML is the virtual_servers section of one service on the VIP
// port 80 with web1 and web2 at the given weights. svcExtra (keys of the
// service) and rsExtra (keys of each real server) are YAML written without
// indentation of their own.
func lbdServiceYAML(l *lbdLab, sched string, weights [2]int, svcExtra, rsExtra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `virtual_servers:
  - address: %s
    port: 80
    protocol: TCP
    scheduler: %s
    forwarding: %s
`, seedVIP, sched, l.fwd)
	b.WriteString(indentYAML(svcExtra, "    "))
	b.WriteString("    real_servers:\n")
	for i, w := range l.webs {
		fmt.Fprintf(&b, "      - address: %s\n        weight: %d\n", w.addr, weights[i])
		b.WriteString(indentYAML(rsExtra, "        "))
	}
	return b.String()
}

// indentYAML prefixes every non-empty line of s with prefix.
func indentYAML(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString(prefix + line + "\n")
		}
	}
	return b.String()
}

// lbdIPVSYAML is the ipvs section: ip_forward on (NAT needs it for the
// replies; DR and TUN do not mind).
const lbdIPVSYAML = `ipvs:
  sysctls:
    ip_forward: true
`

// wantService reports whether svcs holds the VIP service with scheduler
// sched (and flags), and web1/web2 with the lab's forwarding and weights.
func (l *lbdLab) wantService(svcs map[string]*ipvsService, schedFlags string, weights [2]int) bool {
	s := svcs["TCP "+seedVIP+":80"]
	if s == nil || s.line != "TCP  "+seedVIP+":80 "+schedFlags || len(s.dests) != 2 {
		return false
	}
	for i, w := range l.webs {
		r, ok := s.dest(w.addr + ":80")
		if !ok || r.fwd != forwardName(l.fwd) || r.weight != weights[i] {
			return false
		}
	}
	return true
}

// lbdNode is one director's lbd files: config, control socket and state
// directory in a directory of its own, short enough for a unix socket
// path (all namespaces share the VM's file system).
type lbdNode struct {
	name   string
	ns     *netnslab.Namespace
	dir    string
	config string
	socket string
	state  string
	yaml   string
}

func newLbdNode(t *testing.T, name string, ns *netnslab.Namespace) *lbdNode {
	t.Helper()
	commandPath(t, "lbd")
	commandPath(t, "lbctl")
	dir, err := os.MkdirTemp("/tmp", "lbd")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &lbdNode{name: name, ns: ns, dir: dir, config: dir + "/lbd.yaml", socket: dir + "/lbd.sock", state: dir + "/state"}
}

// writeConfig writes lbd.yaml: a global section with this node's socket,
// state directory and no metrics listener, plus globalExtra (lines
// "key: value" of the global section) and body (the other sections).
func (l *lbdNode) writeConfig(t *testing.T, globalExtra, body string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  router_id: %s\n  control_socket: %s\n  state_dir: %s\n  metrics_address: \"\"\n  log_level: info\n",
		l.name, l.socket, l.state)
	for _, line := range strings.Split(strings.TrimSpace(globalExtra), "\n") {
		if line != "" {
			b.WriteString("  " + strings.TrimSpace(line) + "\n")
		}
	}
	b.WriteString(strings.TrimLeft(body, "\n"))
	l.yaml = b.String()
	must(t, os.WriteFile(l.config, []byte(l.yaml), 0o644))
}

// lbdDaemon is "lbd run" running in a node's namespace.
type lbdDaemon struct {
	*daemon
	node *lbdNode
}

// start starts "lbd run -c CONFIG" in the node's namespace. At the end of
// the test a daemon still running gets SIGTERM, then SIGKILL; its log is
// shown when the test failed.
func (l *lbdNode) start(t *testing.T) *lbdDaemon {
	t.Helper()
	d := startDaemon(t, l.ns, "lbd run on "+l.name, commandPath(t, "lbd"), "run", "-c", l.config)
	return &lbdDaemon{daemon: d, node: l}
}

// status asks this daemon's control socket for its status.
func (d *lbdDaemon) status(t *testing.T) (control.Status, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return control.NewClient(d.node.socket).Status(ctx)
}

// waitReady waits until this very process answers on the control socket
// with its first apply done and the kernel in sync with what it wants, and
// returns that status and how long it took. It also checks that the
// process is lbd itself (signals must reach it, not nsenter).
func (d *lbdDaemon) waitReady(t *testing.T) (control.Status, time.Duration) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	var last string
	for {
		if d.exited() {
			t.Fatalf("lbd run on %s exited: %v\n%s", d.node.name, d.err, d.log.String())
		}
		st, err := d.status(t)
		switch {
		case err != nil:
			last = err.Error()
		case st.Daemon.PID != d.cmd.Process.Pid:
			last = fmt.Sprintf("pid %d answers, want %d", st.Daemon.PID, d.cmd.Process.Pid)
		case st.IPVS.LastApply == nil:
			last = "no apply done yet"
		case !st.IPVS.InSync:
			last = fmt.Sprintf("not in sync, pending %q", st.IPVS.Pending)
		default:
			d.requireComm(t, "lbd")
			return st, time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("lbd run on %s not ready after 20 s (%s); log:\n%s", d.node.name, last, d.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signal sends sig to the daemon.
func (d *lbdDaemon) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	must(t, d.cmd.Process.Signal(sig))
}

// lbctl runs "lbctl -s SOCKET ARGS..." in the node's namespace and returns
// its stdout, stderr and exit status.
func (l *lbdNode) lbctl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := l.ns.Command(ctx, commandPath(t, "lbctl"), append([]string{"-s", l.socket}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("lbctl %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	return "", "", -1
}

// ipvsRow is one destination row of ipvsadm -ln.
type ipvsRow struct {
	addr     string
	fwd      string
	weight   int
	active   int
	inactive int
}

// ipvsService is one service of ipvsadm -ln: its line and its rows.
type ipvsService struct {
	line  string // "TCP  192.168.56.90:80 rr"
	dests []ipvsRow
}

var ipvsRowRE = regexp.MustCompile(`^  -> (\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)

// parseIPVS parses "ipvsadm -ln" into services keyed by "PROTO ADDR"
// ("TCP 192.168.56.90:80", "FWM 5").
func parseIPVS(t *testing.T, out string) map[string]*ipvsService {
	t.Helper()
	svcs := map[string]*ipvsService{}
	var cur *ipvsService
	for _, l := range strings.Split(out, "\n") {
		switch {
		case l == "", strings.HasPrefix(l, "IP Virtual Server"), strings.HasPrefix(l, "Prot "), strings.HasPrefix(l, "  -> RemoteAddress"):
		case strings.HasPrefix(l, "  -> "):
			m := ipvsRowRE.FindStringSubmatch(l)
			if m == nil || cur == nil {
				t.Fatalf("ipvsadm -ln: cannot parse row %q in:\n%s", l, out)
			}
			r := ipvsRow{addr: m[1], fwd: m[2]}
			r.weight, _ = strconv.Atoi(m[3])
			r.active, _ = strconv.Atoi(m[4])
			r.inactive, _ = strconv.Atoi(m[5])
			cur.dests = append(cur.dests, r)
		default:
			f := strings.Fields(l)
			if len(f) < 2 {
				t.Fatalf("ipvsadm -ln: cannot parse service %q in:\n%s", l, out)
			}
			cur = &ipvsService{line: strings.TrimSpace(l)}
			svcs[f[0]+" "+f[1]] = cur
		}
	}
	return svcs
}

// dest returns the row of addr ("10.0.1.200:80"), if any.
func (s *ipvsService) dest(addr string) (ipvsRow, bool) {
	if s == nil {
		return ipvsRow{}, false
	}
	for _, r := range s.dests {
		if r.addr == addr {
			return r, true
		}
	}
	return ipvsRow{}, false
}

// ipvsadmList runs "ipvsadm -ln" in ns.
func ipvsadmList(t *testing.T, ns *netnslab.Namespace) string {
	t.Helper()
	return run(t, ns, "ipvsadm", "-ln")
}

// waitIPVS polls "ipvsadm -ln" in ns every 100 ms until ok holds, for at
// most timeout. It returns the last table, the time it took and whether ok
// held.
func waitIPVS(t *testing.T, ns *netnslab.Namespace, timeout time.Duration, ok func(svcs map[string]*ipvsService) bool) (string, time.Duration, bool) {
	t.Helper()
	start := time.Now()
	for {
		out := ipvsadmList(t, ns)
		if ok(parseIPVS(t, out)) {
			return out, time.Since(start), true
		}
		if time.Since(start) > timeout {
			return out, time.Since(start), false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vipURL is the URL the client fetches through the VIP.
const vipURL = "http://" + seedVIP + "/"

// sendRequests sends requests to url from ns, a new connection each (from
// a fresh source port, see dial), and returns how many each server
// answered and the sequence of answers.
func (l *lbdLab) sendRequests(t *testing.T, ns *netnslab.Namespace, url string, requests int) (map[string]int, string) {
	t.Helper()
	c := &http.Client{
		Timeout: settle, // a request that must be answered: the bound stops a lost one
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return l.dial(ctx, ns, addr)
			},
			DisableKeepAlives: true,
		},
	}
	counts := map[string]int{}
	var seq []string
	for i := 1; i <= requests; i++ {
		got, err := get(c, url)
		if err != nil {
			t.Errorf("request %d to %s: %v", i, url, err)
			seq = append(seq, "FAIL")
			continue
		}
		counts[got]++
		seq = append(seq, got)
	}
	return counts, strings.Join(seq, " ")
}

// heldConn is a client's long-lived HTTP/1.1 keep-alive connection through
// the VIP: every request on it reaches the same real server.
type heldConn struct {
	c      net.Conn
	br     *bufio.Reader
	server string // who answered the first request
}

// holdConn opens a connection (fresh source port, see dial) from ns to addr and sends one request on it
// to learn which real server holds it.
func (l *lbdLab) holdConn(t *testing.T, ns *netnslab.Namespace, addr string) *heldConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), settle)
	defer cancel()
	c, err := l.dial(ctx, ns, addr)
	must(t, err)
	h := &heldConn{c: c, br: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	if h.server, err = h.get(); err != nil {
		t.Fatalf("first request on a held connection to %s: %v", addr, err)
	}
	return h
}

// get sends one request on the held connection and returns the answer. A
// connection the director broke is reset at once; one it black-holes never
// answers: settle only ends that wait, a slow answer is still an answer.
func (h *heldConn) get() (string, error) {
	h.c.SetDeadline(time.Now().Add(settle))
	if _, err := io.WriteString(h.c, "GET / HTTP/1.1\r\nHost: "+seedVIP+"\r\n\r\n"); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return "", fmt.Errorf("read answer: %w", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("answer %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// sameOutput runs ipvsadm with ipvsArgs, lbctl with lbctlArgs, and ipvsadm
// again, until both ipvsadm outputs agree (counters may move between
// reads: the kernel folds them every 2 s), and returns the ipvsadm and
// lbctl outputs of that round. It gives up after 8 rounds and returns the
// last.
func sameOutput(t *testing.T, l *lbdNode, ipvsArgs, lbctlArgs []string) (ipvs, lbctl string) {
	t.Helper()
	for round := 1; ; round++ {
		before := run(t, l.ns, "ipvsadm", ipvsArgs...)
		out, errOut, code := l.lbctl(t, lbctlArgs...)
		after := run(t, l.ns, "ipvsadm", ipvsArgs...)
		if code != 0 || errOut != "" {
			t.Errorf("lbctl %s: exit %d, stderr %q", strings.Join(lbctlArgs, " "), code, errOut)
		}
		if before == after || round == 8 {
			return after, out
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// diffLines shows where two outputs differ, line by line, with the bytes
// quoted so trailing spaces show.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  ipvsadm %q\n  lbctl   %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}
