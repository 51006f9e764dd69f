//go:build testbed_guest && testbed_soak

package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/internal/netnslab"
)

// soakProbeResult is one client request to the VIP.
type soakProbeResult struct {
	start, end  time.Time
	who         string // the web node that answered (also on a 503)
	status      int    // HTTP status, 0 when there was no answer
	err         string // "" when answered 200
	explainedBy string // the fault kind that explains a failure
	arp         string // on a failure: the client's neighbour entry for the VIP
}

// probeLoop sends a request to VIP:80 on a new connection every
// soakProbeGap (after the previous one ended) until stop.
func (s *soak) probeLoop(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		r := soakProbe(s.l.client)
		if r.err != "" {
			r.arp = s.vipNeigh()
		}
		s.mu.Lock()
		s.probes = append(s.probes, r)
		s.mu.Unlock()
		time.Sleep(soakProbeGap)
	}
}

// vipNeigh names the director the client's neighbour entry for the VIP
// points to.
func (s *soak) vipNeigh() string {
	d, n, err := s.vipNeighDir()
	switch {
	case err != nil:
		return err.Error()
	case n == nil:
		return "none"
	case d == nil:
		return fmt.Sprintf("%s (state %#x)", n.HardwareAddr, n.State)
	}
	return fmt.Sprintf("%s (state %#x)", d.name, n.State)
}

// vipNeighDir returns the client's neighbour entry for the VIP (nil when
// it has none) and the director whose MAC it holds (nil when none's).
func (s *soak) vipNeighDir() (*vipDirector, *netlink.Neigh, error) {
	h := s.l.client.Handle()
	lk, err := h.LinkByName("eth0")
	if err != nil {
		return nil, nil, err
	}
	ns, err := h.NeighList(lk.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		return nil, nil, err
	}
	for i, n := range ns {
		if n.IP.String() != vipAddr {
			continue
		}
		for _, d := range []*vipDirector{s.l.master, s.l.backup} {
			if n.HardwareAddr.String() == d.mac.String() {
				return d, &ns[i], nil
			}
		}
		return nil, &ns[i], nil
	}
	return nil, nil, nil
}

// checkARP follows the client's neighbour entry for the VIP naming a
// director that is not MASTER while the other is: the client's packets go
// to the wrong box (a backup with ip_forward on passes them on, until it
// fails). Allowed while the MASTER is cut or partitioned (its gratuitous
// ARPs cannot reach the client) and for soakDualMax after that heals, or
// after the entry went wrong. Faults on the other director do not excuse
// it.
func (s *soak) checkARP(states map[*vipDirector]string) {
	d, n, err := s.vipNeighDir()
	now := time.Now()
	s.mu.Lock()
	var master *vipDirector
	if err == nil && d != nil && states[d] != "MASTER" && states[d] != "" {
		for o, st := range states {
			if o != d && st == "MASTER" {
				master = o
			}
		}
	}
	if master == nil || s.cutDir == master {
		s.arpStale, s.arpOK = time.Time{}, false
		s.mu.Unlock()
		return
	}
	if s.arpStale.IsZero() {
		s.arpStale = now
	}
	from := s.arpStale
	if h := s.healedAt[master]; h.After(from) {
		from = h
	}
	report := !s.arpOK && now.Sub(from) > soakDualMax
	s.arpOK = s.arpOK || report
	since := now.Sub(s.arpStale)
	s.mu.Unlock()
	if report {
		s.violate("the client's ARP entry for the VIP names %s (lbd %s, neighbour state %#x) while %s is MASTER, for %s (%s after %s's last cut or partition healed; bound %s)",
			d.name, states[d], n.State, master.name, since.Round(100*time.Millisecond), now.Sub(from).Round(100*time.Millisecond), master.name, soakDualMax)
	}
}

// soakProbe sends one HTTP/1.0 request to the VIP on a new connection,
// all within 1 s (less than TCP's first SYN retransmission).
func soakProbe(client *netnslab.Namespace) soakProbeResult {
	r := soakProbeResult{start: time.Now()}
	defer func() { r.end = time.Now() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, "tcp", vipAddr+":80")
	if err != nil {
		r.err = err.Error()
		r.end = time.Now()
		return r
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: "+vipAddr+"\r\n\r\n"); err != nil {
		r.err = err.Error()
		r.end = time.Now()
		return r
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		r.status, r.who = resp.StatusCode, strings.TrimSpace(string(b))
	}
	switch {
	case err != nil:
		r.err = err.Error()
	case r.status != http.StatusOK:
		r.err = fmt.Sprintf("answer %d from %s", r.status, r.who)
	}
	r.end = time.Now()
	return r
}

// monitorLoop checks the invariants about once a second, and samples
// lbd's resources every 10 s, until stop.
func (s *soak) monitorLoop(stop <-chan struct{}) {
	var sampled time.Time
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
		masters := 0
		sample := time.Since(sampled) >= 10*time.Second
		if sample {
			sampled = time.Now()
		}
		states := map[*vipDirector]string{}
		for _, sd := range s.dirs {
			states[sd.d] = s.checkDir(sd)
			if states[sd.d] == "MASTER" {
				masters++
			}
			if sample {
				s.sample(sd)
			}
		}
		s.checkDual(masters)
		s.checkARP(states)
		s.mu.Lock()
		s.seen.rounds++
		s.mu.Unlock()
	}
}

// checkDir checks one director: lbd alive and answering, its table equal
// to the desired one (or not for longer than soakConverge), the VIP only
// while MASTER. It returns the VRRP state ("" when unknown).
func (s *soak) checkDir(sd *soakDir) string {
	s.mu.Lock()
	lbd, down, crashed, model := sd.lbd, sd.down, sd.crashed, sd.model
	s.mu.Unlock()
	if down || crashed {
		return ""
	}
	name := sd.d.name
	if lbd.exited() {
		s.mu.Lock()
		sd.crashed = true
		s.mu.Unlock()
		s.violate("lbd on %s exited on its own: %v; log tail:\n%s", name, lbd.err, soakTail(lbd.log.String(), 30))
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := control.NewClient(sd.d.socket).Status(ctx)
	now := time.Now()
	if err != nil {
		s.mu.Lock()
		if sd.silent.IsZero() {
			sd.silent = now
		}
		report := !sd.silentOK && now.Sub(sd.silent) > 4*soakSlack
		sd.silentOK = sd.silentOK || report
		s.mu.Unlock()
		if report {
			s.violate("lbd on %s has not answered its control socket for %s: %v", name, 4*soakSlack, err)
		}
		return ""
	}
	state := ""
	for _, in := range st.VRRP {
		if in.Name == vipInstance {
			state = in.State
		}
	}
	kernel, kerr := sd.d.ns.Run(ctx, "ipvsadm", "-Sn")
	hasVIP, aerr := soakHasVIP(sd.d)
	var msgs []string
	s.mu.Lock()
	if sd.lbd != lbd || sd.down {
		s.mu.Unlock()
		return "" // restarted meanwhile
	}
	if sd.state != "" && state != sd.state {
		s.seen.masterChanges++
	}
	sd.silent, sd.silentOK, sd.state = time.Time{}, false, state
	if kerr == nil {
		msgs = append(msgs, trackTable(sd, &s.seen, now, soakDesired(model, st), soakKernel(kernel))...)
	}
	if aerr == nil {
		msgs = append(msgs, trackVIP(sd, now, state, hasVIP)...)
	}
	s.mu.Unlock()
	for _, m := range msgs {
		s.violate("%s", m)
	}
	return state
}

// trackTable follows a difference between the kernel's table and the
// desired one; one that lasts longer than soakConverge is a violation
// (returned once per episode). Called with soak.mu held.
func trackTable(sd *soakDir, seen *soakSeen, now time.Time, want, got []string) []string {
	if slices.Equal(want, got) {
		if !sd.mismatch.IsZero() {
			seen.drifts++
			seen.driftLongest = max(seen.driftLongest, now.Sub(sd.mismatch))
		}
		sd.mismatch, sd.mmDone = time.Time{}, false
		return nil
	}
	if sd.mismatch.IsZero() {
		sd.mismatch = now
	}
	if sd.mmDone || now.Sub(sd.mismatch) <= soakConverge {
		return nil
	}
	sd.mmDone = true
	return []string{fmt.Sprintf("%s's IPVS table differs from the desired one for %s (> resync_interval %s + %s):\nkernel (ipvsadm -Sn):\n  %s\ndesired:\n  %s",
		sd.d.name, now.Sub(sd.mismatch).Round(100*time.Millisecond), soakResync, soakSlack, strings.Join(got, "\n  "), strings.Join(want, "\n  "))}
}

// trackVIP follows the VIP held by a director whose lbd is not MASTER; for
// longer than soakDualMax it is a violation (returned once per episode).
// Called with soak.mu held.
func trackVIP(sd *soakDir, now time.Time, state string, has bool) []string {
	if !has || state == "MASTER" {
		sd.stale, sd.staleOK = time.Time{}, false
		return nil
	}
	if sd.stale.IsZero() {
		sd.stale = now
	}
	if sd.staleOK || now.Sub(sd.stale) <= soakDualMax {
		return nil
	}
	sd.staleOK = true
	return []string{fmt.Sprintf("%s holds the VIP while its lbd is %s, for %s", sd.d.name, state, now.Sub(sd.stale).Round(100*time.Millisecond))}
}

// checkDual follows both lbd reporting MASTER: allowed during a cut or
// partition and for soakDualMax after it heals (or after they met).
func (s *soak) checkDual(masters int) {
	now := time.Now()
	s.mu.Lock()
	if masters < 2 {
		if !s.dual.IsZero() {
			s.seen.duals++
			s.seen.dualLongest = max(s.seen.dualLongest, now.Sub(s.dual))
		}
		s.dual, s.dualOK = time.Time{}, false
		s.mu.Unlock()
		return
	}
	if s.dual.IsZero() {
		s.dual = now
	}
	from := s.dual
	if s.lastHeal.After(from) {
		from = s.lastHeal
	}
	report := s.cutting == 0 && !s.dualOK && now.Sub(from) > soakDualMax
	s.dualOK = s.dualOK || report
	since := now.Sub(s.dual)
	s.mu.Unlock()
	if report {
		s.violate("both lbd MASTER for %s, %s after the last partition healed (bound: Master_Down_Interval %s + %s)",
			since.Round(100*time.Millisecond), now.Sub(from).Round(100*time.Millisecond), vipBackupMasterDown, soakSlack)
	}
}

// soakHasVIP reports whether d has the VIP on eth0, read over netlink
// (the handle's socket is locked per request: safe beside the fault
// goroutine).
func soakHasVIP(d *vipDirector) (bool, error) {
	lk, err := d.ns.Handle().LinkByName("eth0")
	if err != nil {
		return false, err
	}
	addrs, err := d.ns.Handle().AddrList(lk, netlink.FAMILY_V4)
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if a.IPNet.String() == vipAddr+"/32" {
			return true, nil
		}
	}
	return false, nil
}

// stallLoop records when the VM did not run the soak: a 20 ms sleep that
// ended soakStallMin or more late (the CPU is emulated and shared; the
// prober's requests time out after 1 s).
func (s *soak) stallLoop(stop <-chan struct{}) {
	const tick = 20 * time.Millisecond
	last := time.Now()
	for {
		select {
		case <-stop:
			return
		case <-time.After(tick):
		}
		now := time.Now()
		if now.Sub(last)-tick >= soakStallMin {
			s.mu.Lock()
			s.stalls = append(s.stalls, soakStall{from: last.Add(tick), to: now})
			s.mu.Unlock()
		}
		last = now
	}
}

// soakDesired is the table lbd must keep for model m: every service, and
// every real server its checks report up, at the model's weight.
func soakDesired(m soakModel, st control.Status) []string {
	up := func(port int, addr string) bool {
		for _, rs := range st.RealServers {
			if int(rs.Service.Port) == port && rs.Address.String() == addr {
				return rs.Up
			}
		}
		return true
	}
	var out []string
	add := func(port int, weights [2]int) {
		svc := fmt.Sprintf("%s:%d", vipAddr, port)
		out = append(out, "-A -t "+svc+" -s rr")
		for i, w := range seedWebs() {
			if up(port, w.addr) {
				out = append(out, fmt.Sprintf("-a -t %s -r %s:%d -g -w %d", svc, w.addr, port, weights[i]))
			}
		}
	}
	add(80, m.weights)
	for _, p := range soakPlainPorts(m) {
		add(p, [2]int{1, 1})
	}
	slices.Sort(out)
	return out
}

// soakKernel is ipvsadm -Sn's services and destinations, sorted.
func soakKernel(out string) []string {
	var rules []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "-A ") || strings.HasPrefix(l, "-a ") {
			rules = append(rules, l)
		}
	}
	slices.Sort(rules)
	return rules
}

// sample records the current lbd's descriptors, RSS and goroutines.
func (s *soak) sample(sd *soakDir) {
	s.mu.Lock()
	lbd, down, crashed := sd.lbd, sd.down, sd.crashed
	var life *soakLife
	if len(sd.lives) > 0 {
		life = sd.lives[len(sd.lives)-1]
	}
	s.mu.Unlock()
	if down || crashed || life == nil || lbd.exited() || life.pid != lbd.cmd.Process.Pid {
		return
	}
	pid := life.pid
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return
	}
	smp := soakSample{at: time.Now(), fds: len(fds), rssKiB: soakRSS(pid), goroutines: soakGoroutines(sd.d.ns)}
	s.mu.Lock()
	life.samples = append(life.samples, smp)
	s.mu.Unlock()
}

// soakRSS reads VmRSS (KiB) of pid, -1 when unreadable.
func soakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}

// soakGoroutines reads go_goroutines from lbd's metrics listener (the
// default 127.0.0.1:9650 in the director's namespace), -1 when it fails.
func soakGoroutines(ns *netnslab.Namespace) int {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: ns.DialContext, DisableKeepAlives: true}}
	resp, err := c.Get("http://127.0.0.1:9650/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(n)
			}
		}
	}
	return -1
}

// soakTail returns the last n lines of s.
func soakTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
