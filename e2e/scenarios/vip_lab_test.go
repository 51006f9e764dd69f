//go:build testbed_guest

package scenarios

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/deploy/examples"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/internal/netnslab"
)

// The director pair of deploy/examples on a real kernel, shared by the VIP
// takeover scenario and the demo: a client, two directors running "lbd run"
// with lbd-master.yaml and lbd-backup.yaml (adapted by visible
// substitutions), and the two web nodes of the examples running "lbrs run"
// with lbrs-web.yaml and an HTTP server whose /health.html is the page the
// examples' digest expects.

// Addresses and VRRP parameters of the examples. The examples do not name
// the directors' own addresses: the master takes the seed's director
// address, the backup the next one.
const (
	vipAddr        = "192.168.56.90"
	vipMasterAddr  = "192.168.56.100"
	vipBackupAddr  = "192.168.56.101"
	vipInstance    = "VI_1"
	vipVRID        = 51
	vipLabel       = "eth0:0"
	vipHealthPath  = "/health.html"
	vipHealthyBody = "OK\n"
	vipBrokenBody  = "MAINTENANCE\n"
	// Master_Down_Interval of the backup (priority 100, advert 1 s):
	// 3 x 1 s + skew (256-100)/256 s.
	vipBackupSkew       = 609375 * time.Microsecond
	vipBackupMasterDown = 3*time.Second + vipBackupSkew
	// Health-check timing the lab substitutes for the examples' (delay_loop
	// 6, retry 3, delay_before_retry 3: down after 4 failures over ~15 s).
	vipDelayLoop        = time.Second
	vipRetry            = 1
	vipDelayBeforeRetry = time.Second
	vipConnectTimeout   = 3 * time.Second // the examples' connect_timeout
	// vipDetectMax is the longest the protocol takes to take a failing
	// real server out: up to delay_loop until the next check, then retry+1
	// attempts of at most connect_timeout, delay_before_retry apart (8 s).
	// vipRecoverMax is delay_loop and one attempt (4 s).
	vipDetectMax  = vipDelayLoop + (vipRetry+1)*vipConnectTimeout + vipRetry*vipDelayBeforeRetry
	vipRecoverMax = vipDelayLoop + vipConnectTimeout
)

// vipLab is the running pair.
type vipLab struct {
	lab    *netnslab.Lab
	client *netnslab.Namespace
	master *vipDirector // d1: lbd-master.yaml, priority 200
	backup *vipDirector // d2: lbd-backup.yaml, priority 100, nopreempt
	webs   []*vipWeb
}

// vipDirector is one director namespace and its lbd.
type vipDirector struct {
	name    string
	example string // the deploy/examples file its lbd.yaml comes from
	addr    string
	mac     net.HardwareAddr
	ns      *netnslab.Namespace
	link    *netnslab.Link
	dir     string
	config  string
	socket  string
	changes []string // the substitutions made to the example, for humans
	lbd     *daemon  // lbd run
}

// vipWeb is one web node: lbrs, and an HTTP server answering its name on
// every path but /health.html.
type vipWeb struct {
	name   string
	addr   string
	ns     *netnslab.Namespace
	broken atomic.Bool // /health.html serves vipBrokenBody
	down   atomic.Bool // every path answers 503 Service Unavailable (the soak's dead server)
	lbrs   *lbrsDaemon

	mu     sync.Mutex
	served []vipServed // every /health.html answer
}

// vipServed is one answer of /health.html.
type vipServed struct {
	at     time.Time // just before it was written
	to     string    // the checker's address
	broken bool
}

// brokenServed returns when the broken page was served to the checker at
// addr from since to until.
func (w *vipWeb) brokenServed(addr string, since, until time.Time) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Time
	for _, s := range w.served {
		if s.broken && s.to == addr && !s.at.Before(since) && !s.at.After(until) {
			out = append(out, s.at)
		}
	}
	return out
}

// vipSubst is one textual change to an example file: re must match exactly
// n times.
type vipSubst struct {
	re   string
	repl string
	n    int
	why  string // for humans; "" when an earlier change's says it
}

// vipAdapt applies subs to the example called name.
func vipAdapt(name string, subs []vipSubst) (string, []string, error) {
	b, err := examples.Files.ReadFile(name)
	if err != nil {
		return "", nil, fmt.Errorf("no example %s: %w", name, err)
	}
	text := string(b)
	var changes []string
	for _, s := range subs {
		re := regexp.MustCompile(s.re)
		if got := len(re.FindAllStringIndex(text, -1)); got != s.n {
			return "", nil, fmt.Errorf("deploy/examples/%s: %q matches %d times, want %d: the example changed, adapt the lab", name, s.re, got, s.n)
		}
		text = re.ReplaceAllString(text, s.repl)
		if s.why != "" {
			changes = append(changes, s.why)
		}
	}
	return text, changes, nil
}

// vipExampleDigest returns the digests the example's http checks expect.
func vipExampleDigest(t *testing.T, name string) []string {
	t.Helper()
	b, err := examples.Files.ReadFile(name)
	if err != nil {
		t.Fatalf("deploy/examples/%s: %v", name, err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^\s+digest: ([0-9a-f]{32})\b`).FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatalf("deploy/examples/%s has no digest", name)
	}
	return out
}

// buildVIPLab builds the LAN, starts lbrs and the HTTP servers on the web
// nodes and lbd on both directors, and waits for the master to be MASTER
// and the backup BACKUP. prefix names the lab.
func buildVIPLab(t *testing.T, n *narrator, prefix string) *vipLab {
	t.Helper()
	return buildVIPLabWith(t, n, prefix, nil)
}

// buildVIPLabWith is buildVIPLab with extra substitutions made to both
// directors' lbd.yaml after the lab's own.
func buildVIPLabWith(t *testing.T, n *narrator, prefix string, extra []vipSubst) *vipLab {
	t.Helper()
	for _, bin := range []string{"lbrs", "lbd", "lbctl"} {
		commandPath(t, bin)
	}
	n.Step("Building the examples' LAN 192.168.56.0/24: one bridge, one namespace per machine")
	lab := netnslab.NewT(t, prefix)
	lan, err := lab.AddSwitch("lan")
	must(t, err)
	host := func(name, addr, role string) (*netnslab.Namespace, *netnslab.Link) {
		ns, lk := addSeedHost(t, lab, lan, name, "eth0", addr)
		n.Note("%-7s eth0 %-15s mac %s  %s", name, addr, seedMAC(addr), role)
		return ns, lk
	}
	l := &vipLab{lab: lab}
	l.client, _ = host("client", seedClient, "client")
	l.master = &vipDirector{name: "d1", example: "lbd-master.yaml", addr: vipMasterAddr, mac: seedMAC(vipMasterAddr)}
	l.backup = &vipDirector{name: "d2", example: "lbd-backup.yaml", addr: vipBackupAddr, mac: seedMAC(vipBackupAddr)}
	l.master.ns, l.master.link = host("d1", vipMasterAddr, "director, lbd with deploy/examples/lbd-master.yaml")
	l.backup.ns, l.backup.link = host("d2", vipBackupAddr, "director, lbd with deploy/examples/lbd-backup.yaml")
	for _, w := range seedWebs() {
		ns, _ := host(w.name, w.addr, "web node, lbrs with deploy/examples/lbrs-web.yaml + HTTP server")
		l.webs = append(l.webs, &vipWeb{name: w.name, addr: w.addr, ns: ns})
	}

	// The web nodes: the page the examples' checks expect, then lbrs.
	digests := vipExampleDigest(t, "lbd-master.yaml")
	sum := md5.Sum([]byte(vipHealthyBody))
	for _, d := range digests {
		if d != hex.EncodeToString(sum[:]) {
			t.Fatalf("deploy/examples/lbd-master.yaml expects digest %s, but MD5(%q) is %x", d, vipHealthyBody, sum)
		}
	}
	n.Step("Web nodes: an HTTP server on :80 and lbrs run")
	n.Note("each answers its own name; %s serves %q, whose MD5 %x is the examples' digest", vipHealthPath, vipHealthyBody, sum)
	for _, w := range l.webs {
		w.serve(t)
		lbrsYAML, changes, err := vipAdapt("lbrs-web.yaml", []vipSubst{{
			re: `(?m)^log_level: info$`, n: 1,
			repl: "state_file: " + filepath.Join(t.TempDir(), "state.json") + "\nlog_level: info",
			why:  "own state_file",
		}})
		must(t, err)
		nd := &lbrsNode{name: w.name, ns: w.ns, yaml: lbrsYAML}
		dir := t.TempDir()
		nd.config = filepath.Join(dir, "lbrs.yaml")
		nd.state = regexp.MustCompile(`(?m)^state_file: (\S+)$`).FindStringSubmatch(lbrsYAML)[1]
		must(t, os.WriteFile(nd.config, []byte(lbrsYAML), 0o644))
		w.lbrs = startLbrs(t, nd)
		_, took := w.lbrs.waitApplied(t)
		if got := ipv4Addrs(t, w.ns, "lo"); !hasAddr(got, vipAddr+"/32 lo:0") {
			t.Fatalf("lbrs on %s applied, but lo has %v, not %s/32 as lo:0", w.name, got, vipAddr)
		}
		n.Note("%s: lbrs run with deploy/examples/lbrs-web.yaml (%s): VIP on lo:0, arp_ignore=1, arp_announce=2 in %s",
			w.name, strings.Join(changes, "; "), took.Round(time.Millisecond))
	}
	requireDirectAnswers(t, l.client, seedWebs())

	// The directors.
	for _, d := range []*vipDirector{l.master, l.backup} {
		d.configure(t, extra)
	}
	n.Step("Directors: lbd.yaml = deploy/examples/lbd-master.yaml on d1, lbd-backup.yaml on d2, with:")
	for _, c := range l.master.changes {
		n.Note("- %s", c)
	}
	for _, d := range []*vipDirector{l.master, l.backup} {
		out := run(t, d.ns, "lbd", "check", "-c", d.config)
		n.Note("%s: lbd check -c lbd.yaml: %s", d.name, strings.TrimPrefix(vipFirstLine(out, "OK"), d.config+": "))
	}

	n.Step("Starting lbd run on d1 (priority 200, state MASTER) and d2 (priority 100, state BACKUP, nopreempt)")
	start := time.Now()
	l.master.start(t)
	l.backup.start(t)
	l.waitStates(t, vipTakeoverWait, map[*vipDirector]string{l.master: "MASTER", l.backup: "BACKUP"})
	n.Note("d1 MASTER, d2 BACKUP %s after start (d1 waits one advert interval for a better master first)",
		time.Since(start).Round(10*time.Millisecond))
	l.checkVIPOn(t, l.master)
	return l
}

// vipFirstLine returns the first non-empty line of out, or def.
func vipFirstLine(out, def string) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return def
}

// serve starts the web node's HTTP server.
func (w *vipWeb) serve(t *testing.T) {
	t.Helper()
	serveHTTP(t, w.ns, "0.0.0.0:80", func(rw http.ResponseWriter, r *http.Request) {
		if w.down.Load() {
			rw.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(rw, w.name)
			return
		}
		if r.URL.Path == vipHealthPath {
			broken := w.broken.Load()
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			w.mu.Lock()
			w.served = append(w.served, vipServed{time.Now(), host, broken})
			w.mu.Unlock()
			if broken {
				io.WriteString(rw, vipBrokenBody)
				return
			}
			io.WriteString(rw, vipHealthyBody)
			return
		}
		fmt.Fprintln(rw, w.name)
	})
}

// configure writes the director's lbd.yaml from its example.
func (d *vipDirector) configure(t *testing.T, extra []vipSubst) {
	t.Helper()
	d.dir = t.TempDir()
	d.socket = filepath.Join(d.dir, "lbd.sock")
	text, changes, err := vipAdapt(d.example, append([]vipSubst{
		{re: `(?m)^  # control_socket: .*$`, n: 1,
			repl: "  control_socket: " + d.socket + "\n  state_dir: " + d.dir,
			why:  "control_socket and state_dir in a directory per director (the directors share the VM's file system)"},
		{re: `(?m)^(\s+delay_loop:) 6\b`, n: 1, repl: fmt.Sprintf("${1} %d", int(vipDelayLoop.Seconds())),
			why: fmt.Sprintf("health checks at demo speed: delay_loop 6 -> %s, retry 3 -> %d, delay_before_retry 3 -> %s (down after %d failed checks %s apart, not 4 over ~15 s)",
				vipDelayLoop, vipRetry, vipDelayBeforeRetry, vipRetry+1, vipDelayBeforeRetry)},
		{re: `(?m)^(\s+retry:) 3\b`, n: 2, repl: fmt.Sprintf("${1} %d", vipRetry)},
		{re: `(?m)^(\s+delay_before_retry:) 3\b`, n: 2, repl: fmt.Sprintf("${1} %d", int(vipDelayBeforeRetry.Seconds()))},
	}, extra...))
	must(t, err)
	d.changes = changes
	d.config = filepath.Join(d.dir, "lbd.yaml")
	must(t, os.WriteFile(d.config, []byte(text), 0o644))
}

// start runs "lbd run -c CONFIG" in the director's namespace. At the end of
// the test a daemon still running gets SIGTERM, then SIGKILL after 10 s;
// its log is shown when the test failed.
func (d *vipDirector) start(t *testing.T) {
	t.Helper()
	d.lbd = startDaemon(t, d.ns, "lbd run on "+d.name, "lbd", "run", "-c", d.config)
}

// signal sends sig to lbd, after checking that the process is lbd itself
// (nsenter must have exec'd it, or the signal would hit nsenter).
func (d *vipDirector) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	d.lbd.requireComm(t, "lbd")
	must(t, d.lbd.cmd.Process.Signal(sig))
}

// waitExit waits up to limit for lbd to exit and returns its exit error;
// exited is false when it is still running.
func (d *vipDirector) waitExit(limit time.Duration) (exited bool, err error) {
	select {
	case <-d.lbd.done:
		return true, d.lbd.err
	case <-time.After(limit):
		return false, nil
	}
}

// lbctl runs lbctl against the director's lbd and returns its output.
func (d *vipDirector) lbctl(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, d.ns, "lbctl", append([]string{"-s", d.socket}, args...)...)
}

// status asks lbd for its status through "lbctl status --json".
func (d *vipDirector) status(ctx context.Context) (control.Status, error) {
	var st control.Status
	out, err := d.ns.Run(ctx, "lbctl", "-s", d.socket, "status", "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("lbctl status --json on %s: %w\n%s", d.name, err, out)
	}
	return st, nil
}

// vrrpState returns the state of VI_1 as lbd reports it.
func (d *vipDirector) vrrpState(ctx context.Context) (string, error) {
	if d.lbd != nil && d.lbd.exited() {
		return "", fmt.Errorf("lbd run on %s exited: %v\n%s", d.name, d.lbd.err, d.lbd.log.String())
	}
	st, err := d.status(ctx)
	if err != nil {
		return "", err
	}
	for _, in := range st.VRRP {
		if in.Name == vipInstance {
			return in.State, nil
		}
	}
	return "", fmt.Errorf("lbd on %s reports no VRRP instance %s: %+v", d.name, vipInstance, st.VRRP)
}

// hasVIP reports whether the director holds the VIP as eth0:0.
func (d *vipDirector) hasVIP(t *testing.T) bool {
	t.Helper()
	return hasAddr(ipv4Addrs(t, d.ns, "eth0"), vipAddr+"/32 "+vipLabel)
}

// waitStates polls lbd on each director until VI_1 is in the wanted state
// on all of them, and returns how long that took.
func (l *vipLab) waitStates(t *testing.T, limit time.Duration, want map[*vipDirector]string) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	for {
		ok := true
		var got []string
		var lastErr error
		for _, d := range []*vipDirector{l.master, l.backup} {
			w, care := want[d]
			if !care {
				continue
			}
			s, err := d.vrrpState(ctx)
			if err != nil {
				if d.lbd.exited() {
					t.Fatal(err)
				}
				lastErr = err
			}
			got = append(got, d.name+" "+s)
			ok = ok && s == w
		}
		if ok {
			return time.Since(start)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("VRRP states after %s: %v; want %v (last error %v)", limit, got, vipWantString(want), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func vipWantString(want map[*vipDirector]string) string {
	var s []string
	for d, st := range want {
		s = append(s, d.name+" "+st)
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

// checkVIPOn requires the VIP on owner (as eth0:0) and on no other
// director.
func (l *vipLab) checkVIPOn(t *testing.T, owner *vipDirector) {
	t.Helper()
	for _, d := range []*vipDirector{l.master, l.backup} {
		if has := d.hasVIP(t); has != (d == owner) {
			t.Errorf("%s holds the VIP: %t, want %t (%s's eth0: %v)", d.name, has, d == owner, d.name, ipv4Addrs(t, d.ns, "eth0"))
		}
	}
}

// checkHealthText requires "lbctl status -n --health" on d to show VI_1
// in state with priority prio and returns the output.
func (d *vipDirector) checkHealthText(t *testing.T, state string, prio int) string {
	t.Helper()
	out := d.lbctl(t, "status", "-n", "--health")
	re := regexp.MustCompile(fmt.Sprintf(`(?m)^\s+%s\s+eth0\s+51\s+%s\s+%d\b`, vipInstance, state, prio))
	if !re.MatchString(out) {
		t.Errorf("lbctl status -n --health on %s shows no %s eth0 51 %s %d row:\n%s", d.name, vipInstance, state, prio, out)
	}
	if !strings.Contains(out, "TCP  "+vipAddr+":80 rr") {
		t.Errorf("lbctl status -n --health on %s shows no TCP  %s:80 rr service:\n%s", d.name, vipAddr, out)
	}
	return out
}

// vipRequests sends count requests to the VIP, a new connection each, and
// returns who answered each ("" for a failure, the error in errs).
func vipRequests(ctx context.Context, client *netnslab.Namespace, count int) (answers []string, errs []error) {
	for range count {
		got, err := vipProbe(ctx, client, settle)
		answers = append(answers, got)
		errs = append(errs, err)
	}
	return answers, errs
}

// vipSpread sends count requests and requires them answered as want
// (web name -> count); it prints who answered each and returns the counts.
func vipSpread(t *testing.T, n *narrator, client *netnslab.Namespace, count int, want map[string]int) map[string]int {
	t.Helper()
	answers, errs := vipRequests(t.Context(), client, count)
	counts := map[string]int{}
	var row []string
	var rows []string
	for i, a := range answers {
		who := a
		if errs[i] != nil {
			who = "FAILED"
			t.Errorf("request %d to the VIP: %v", i+1, errs[i])
			counts["failed"]++
		} else {
			counts[a]++
		}
		row = append(row, fmt.Sprintf("#%-2d %-6s", i+1, who))
		if len(row) == 5 || i == len(answers)-1 {
			rows = append(rows, strings.TrimRight(strings.Join(row, "  "), " "))
			row = nil
		}
	}
	n.Block(strings.Join(rows, "\n"))
	var tot []string
	for _, w := range seedWebs() {
		tot = append(tot, fmt.Sprintf("%s %d", w.name, counts[w.name]))
	}
	if counts["failed"] > 0 {
		tot = append(tot, fmt.Sprintf("failed %d", counts["failed"]))
	}
	n.Note("answers: %s", strings.Join(tot, ", "))
	for _, w := range seedWebs() {
		if counts[w.name] != want[w.name] {
			t.Errorf("answers %v: want %v", counts, want)
			break
		}
	}
	return counts
}

// vipFirstAnswer probes the VIP from the client with a new connection every
// 50 ms until one is answered, and returns how long after since that answer
// came and who gave it. It fails the test after limit. Each probe gets
// 900 ms, less than TCP's first SYN retransmission (1 s): a probe sends one
// SYN, and when vipFirstAnswer returns no probe is left that could still
// reach IPVS and shift the round robin of the requests that follow.
func vipFirstAnswer(t *testing.T, client *netnslab.Namespace, since time.Time, limit time.Duration) (time.Duration, string) {
	t.Helper()
	type answer struct {
		at  time.Time
		who string
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	answers := make(chan answer, 1)
	probe := func() {
		defer wg.Done()
		who, err := vipProbe(ctx, client, 900*time.Millisecond)
		if err != nil {
			return
		}
		select {
		case answers <- answer{time.Now(), who}:
		default:
		}
	}
	deadline := time.NewTimer(time.Until(since.Add(limit)))
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	wg.Add(1)
	go probe()
	for {
		select {
		case a := <-answers:
			return a.at.Sub(since), a.who
		case <-tick.C:
			wg.Add(1)
			go probe()
		case <-deadline.C:
			t.Fatalf("no answer from the VIP within %s", limit)
			return 0, ""
		}
	}
}

// vipProbe sends one HTTP/1.0 request to the VIP on a new connection, all
// within timeout, and returns the answer's body. Unlike http.Client, whose
// Transport may finish a dial in the background after the request gave
// up, it returns only once its socket is closed.
func vipProbe(ctx context.Context, client *netnslab.Namespace, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := client.DialContext(ctx, "tcp", vipAddr+":80")
	if err != nil {
		return "", err
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: "+vipAddr+"\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("answer %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// vipARP is one ARP packet seen on an interface.
type vipARP struct {
	at       time.Time // the kernel's receive time
	op       uint16    // 1 request, 2 reply
	sha      net.HardwareAddr
	spa, tpa netip.Addr
}

// vipAdvert is one VRRP advertisement seen on an interface.
type vipAdvert struct {
	at   time.Time // the kernel's receive time
	src  netip.Addr
	vrid uint8
	prio uint8
}

// vipARPSniffer records every ARP packet and VRRP advertisement an
// interface receives, with the kernel's receive timestamps (so the times
// are the wire's, however late the sniffer reads them).
type vipARPSniffer struct {
	fd      int
	stop    atomic.Bool
	done    chan struct{}
	mu      sync.Mutex
	seen    []vipARP
	adverts []vipAdvert
}

// vipSniffARP starts recording the ARP packets and VRRP advertisements dev
// receives in ns, until the end of the test.
func vipSniffARP(t *testing.T, ns *netnslab.Namespace, dev string) *vipARPSniffer {
	t.Helper()
	lk, err := ns.Handle().LinkByName(dev)
	must(t, err)
	s := &vipARPSniffer{fd: -1, done: make(chan struct{})}
	must(t, ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(vipHtons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		s.fd = fd
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: vipHtons(unix.ETH_P_ALL), Ifindex: lk.Attrs().Index}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("binding the packet socket to %s: %w", dev, err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			unix.Close(fd)
			return fmt.Errorf("SO_TIMESTAMPNS: %w", err)
		}
		tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
		return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	}))
	go s.loop()
	t.Cleanup(func() {
		s.stop.Store(true)
		<-s.done
		unix.Close(s.fd)
	})
	return s
}

func vipHtons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *vipARPSniffer) loop() {
	defer close(s.done)
	buf := make([]byte, 1600)
	oob := make([]byte, 128)
	for !s.stop.Load() {
		n, oobn, _, _, err := unix.Recvmsg(s.fd, buf, oob, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		at := time.Now()
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
					at = time.Unix(int64(binary.NativeEndian.Uint64(m.Data[0:8])), int64(binary.NativeEndian.Uint64(m.Data[8:16])))
				}
			}
		}
		s.record(buf[:n], at)
	}
}

// record keeps an Ethernet frame if it is ARP for Ethernet/IPv4 or a VRRP
// advertisement over IPv4.
func (s *vipARPSniffer) record(f []byte, at time.Time) {
	if len(f) < 14 {
		return
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case unix.ETH_P_ARP:
		// Ethernet header (14), then ARP for Ethernet/IPv4 (28).
		if len(f) < 42 {
			return
		}
		a := f[14:42]
		if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != unix.ETH_P_IP || a[4] != 6 || a[5] != 4 {
			return
		}
		p := vipARP{at: at, op: binary.BigEndian.Uint16(a[6:8]),
			sha: append(net.HardwareAddr(nil), a[8:14]...),
			spa: netip.AddrFrom4([4]byte(a[14:18])), tpa: netip.AddrFrom4([4]byte(a[24:28]))}
		s.mu.Lock()
		s.seen = append(s.seen, p)
		s.mu.Unlock()
	case unix.ETH_P_IP:
		ip := f[14:]
		if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 112 {
			return
		}
		hl := int(ip[0]&0x0f) * 4
		if len(ip) < hl+4 {
			return
		}
		v := ip[hl:]
		if v[0]&0x0f != 1 { // type: advertisement
			return
		}
		a := vipAdvert{at: at, src: netip.AddrFrom4([4]byte(ip[12:16])), vrid: v[1], prio: v[2]}
		s.mu.Lock()
		s.adverts = append(s.adverts, a)
		s.mu.Unlock()
	}
}

// advertsFrom returns the VRRP advertisements of VRID vrid from src seen
// from t0 on.
func (s *vipARPSniffer) advertsFrom(src string, vrid uint8, t0 time.Time) []vipAdvert {
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := netip.MustParseAddr(src)
	var out []vipAdvert
	for _, a := range s.adverts {
		if a.src == addr && a.vrid == vrid && !a.at.Before(t0) {
			out = append(out, a)
		}
	}
	return out
}

// waitAdvert waits up to limit for an advertisement of VRID vrid from src
// seen from t0 on and returns the first.
func (s *vipARPSniffer) waitAdvert(src string, vrid uint8, t0 time.Time, limit time.Duration) (vipAdvert, bool) {
	deadline := time.Now().Add(limit)
	for {
		if a := s.advertsFrom(src, vrid, t0); len(a) > 0 {
			return a[0], true
		}
		if time.Now().After(deadline) {
			return vipAdvert{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lastAdvertBefore returns the last advertisement of VRID vrid from src
// seen before t.
func (s *vipARPSniffer) lastAdvertBefore(src string, vrid uint8, t time.Time) (vipAdvert, bool) {
	var last vipAdvert
	found := false
	for _, a := range s.advertsFrom(src, vrid, time.Time{}) {
		if a.at.Before(t) {
			last, found = a, true
		}
	}
	return last, found
}

// gratuitous returns the gratuitous ARPs (sender = target = ip) from mac
// seen since t0.
func (s *vipARPSniffer) gratuitous(ip string, mac net.HardwareAddr, t0 time.Time) []vipARP {
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := netip.MustParseAddr(ip)
	var out []vipARP
	for _, p := range s.seen {
		if p.spa == addr && p.tpa == addr && p.sha.String() == mac.String() && !p.at.Before(t0) {
			out = append(out, p)
		}
	}
	return out
}

// waitGratuitous waits up to limit for a gratuitous ARP for ip from mac
// seen since t0 and returns the first.
func (s *vipARPSniffer) waitGratuitous(ip string, mac net.HardwareAddr, t0 time.Time, limit time.Duration) (vipARP, bool) {
	deadline := time.Now().Add(limit)
	for {
		if g := s.gratuitous(ip, mac, t0); len(g) > 0 {
			return g[0], true
		}
		if time.Now().After(deadline) {
			return vipARP{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// vipWaitNeigh waits up to limit for ns's neighbour entry of ip on dev to
// be mac, and returns the entry it saw last.
func vipWaitNeigh(t *testing.T, ns *netnslab.Namespace, dev, ip string, mac net.HardwareAddr, limit time.Duration) net.HardwareAddr {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := neighMAC(t, ns, dev, ip)
		if got.String() == mac.String() || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vrrpLogLines returns the "vrrp transition" lines of a director's lbd log,
// shortened to what a human reads.
func (d *vipDirector) vrrpLogLines() []string {
	var out []string
	re := regexp.MustCompile(`from=(\S+) to=(\S+)`)
	for _, l := range strings.Split(d.lbd.log.String(), "\n") {
		if strings.Contains(l, "vrrp transition") {
			if m := re.FindStringSubmatch(l); m != nil {
				out = append(out, m[1]+" -> "+m[2])
			}
		}
	}
	return out
}
