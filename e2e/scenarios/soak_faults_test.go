//go:build testbed_guest && testbed_soak

package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lb/director/control"
)

// soakFaultKind is a fault and its weight in the schedule.
type soakFaultKind struct {
	name   string
	weight int
}

// soakFaultKinds are the faults and their weights in the schedule.
var soakFaultKinds = []soakFaultKind{
	{"link-flap", 2},      // a director's cable pulled (carrier loss), then plugged back
	{"partition", 2},      // a director's bridge port disabled: no carrier loss, both may be MASTER
	{"lbd-kill", 1},       // kill -9 lbd on a director, restart it
	{"lbrs-kill", 1},      // kill -9 lbrs on a web node, restart it
	{"reload", 3},         // a valid lbd.yaml (weights, VIP:8080 added or removed) and lbctl reload
	{"reload-invalid", 2}, // an invalid lbd.yaml (syntax, unknown key, bad address, empty, truncated): refused, nothing changes
	{"health-page", 1},    // a web node's /health.html wrong (it still serves clients)
	{"health-down", 1},    // a web node answers 503 to everything
	{"ipvsadm-edit", 3},   // a hand edit of a director's table
}

// fault draws the next fault from the schedule and runs it to its end.
func (s *soak) fault() {
	var kinds []soakFaultKind
	total := 0
	for _, k := range soakFaultKinds {
		if len(s.p.only) == 0 || slices.Contains(s.p.only, k.name) {
			kinds = append(kinds, k)
			total += k.weight
		}
	}
	r := s.rng.IntN(total)
	kind := kinds[0].name
	for _, k := range kinds {
		if r < k.weight {
			kind = k.name
			break
		}
		r -= k.weight
	}
	s.mu.Lock()
	s.nfault++
	s.faults[kind]++
	s.mu.Unlock()
	switch kind {
	case "link-flap", "partition":
		s.cut(kind, s.pickDir())
	case "lbd-kill":
		s.killLbd(s.pickDir())
	case "lbrs-kill":
		s.killLbrs(s.pickWeb())
	case "reload":
		s.validReload()
	case "reload-invalid":
		s.invalidReload(s.pickDir())
	case "health-page", "health-down":
		s.healthFlap(kind, s.pickWeb())
	case "ipvsadm-edit":
		s.handEdit(s.pickDir())
	}
}

func (s *soak) pickDir() *soakDir { return s.dirs[s.rng.IntN(len(s.dirs))] }
func (s *soak) pickWeb() *vipWeb  { return s.l.webs[s.rng.IntN(len(s.l.webs))] }
func (s *soak) dur(lo, hi int) time.Duration {
	return time.Duration(lo+s.rng.IntN(hi-lo+1)) * 100 * time.Millisecond
}

// holder returns the director holding the VIP, nil when none does.
func (s *soak) holder() *vipDirector {
	for _, sd := range s.dirs {
		if sd.d.hasVIP(s.t) {
			return sd.d
		}
	}
	return nil
}

// affectsClients reports whether a fault on d can interrupt the client:
// d holds the VIP, or d is the preempting master whose return moves it.
func (s *soak) affectsClients(d *vipDirector) bool {
	return d == s.l.master || d == s.holder()
}

// cut pulls sd's cable (link-flap) or disables its bridge port
// (partition) for 0.5-8 s.
func (s *soak) cut(kind string, sd *soakDir) {
	d := sd.d
	hit := s.affectsClients(d)
	hold := s.dur(5, 80)
	start := time.Now()
	s.mu.Lock()
	s.cutting++
	s.cutDir = d
	s.mu.Unlock()
	s.logf("fault #%d %s %s for %s (VIP holder affected: %t)", s.nfault, kind, d.name, hold, hit)
	if kind == "link-flap" {
		must(s.t, d.link.Cut())
	} else {
		s.portState(d, "0")
	}
	time.Sleep(hold)
	if kind == "link-flap" {
		must(s.t, d.link.Restore())
	} else {
		s.portState(d, "3")
	}
	end := time.Now()
	s.mu.Lock()
	s.cutting--
	s.lastHeal = end
	s.cutDir = nil
	s.healedAt[d] = end
	s.mu.Unlock()
	if hit {
		s.explain(soakWindow{kind: kind, from: start, to: end.Add(soakFailover)})
	}
}

// portState sets the bridge port of d's link to state (0 disabled, 3
// forwarding): frames stop without the carrier going down.
func (s *soak) portState(d *vipDirector, state string) {
	sw, err := s.l.lab.SwitchNamespace()
	must(s.t, err)
	run(s.t, sw, "bridge", "link", "set", "dev", d.link.Port, "state", state)
}

// killLbd kills lbd on sd with SIGKILL, waits 0-5 s and starts it again on
// the same lbd.yaml.
func (s *soak) killLbd(sd *soakDir) {
	d := sd.d
	hit := s.affectsClients(d)
	s.mu.Lock()
	sd.down = true
	old := sd.lbd
	s.mu.Unlock()
	old.requireComm(s.t, "lbd")
	pause := s.dur(0, 50)
	start := time.Now()
	s.logf("fault #%d lbd-kill %s (pid %d), restart after %s (VIP holder affected: %t)", s.nfault, d.name, old.cmd.Process.Pid, pause, hit)
	if _, err := old.stop(s.t, syscall.SIGKILL); err == nil {
		s.violate("lbd on %s exited 0 after SIGKILL", d.name)
	}
	time.Sleep(pause)
	d.start(s.t)
	took := s.waitLbdReady(sd, d.lbd)
	s.logf("lbd on %s back: pid %d ready in %s", d.name, d.lbd.cmd.Process.Pid, took.Round(10*time.Millisecond))
	s.mu.Lock()
	sd.lbd, sd.down = d.lbd, false
	sd.mismatch, sd.silent, sd.stale = time.Time{}, time.Time{}, time.Time{}
	sd.lives = append(sd.lives, &soakLife{dir: d.name, pid: d.lbd.cmd.Process.Pid, start: time.Now()})
	s.mu.Unlock()
	if hit {
		s.explain(soakWindow{kind: "lbd-kill", from: start, to: time.Now().Add(soakFailover)})
	}
}

// waitLbdReady waits until the new lbd answers its control socket with
// its own pid and the table in sync; the soak stops when it never does.
func (s *soak) waitLbdReady(sd *soakDir, lbd *daemon) time.Duration {
	start := time.Now()
	last := ""
	for time.Since(start) < 2*settle {
		if lbd.exited() {
			s.violate("lbd on %s exited after a restart: %v", sd.d.name, lbd.err)
			s.t.Fatalf("seed %d: lbd on %s does not restart: %v\n%s", s.p.seed, sd.d.name, lbd.err, lbd.log.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := control.NewClient(sd.d.socket).Status(ctx)
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case st.Daemon.PID != lbd.cmd.Process.Pid:
			last = fmt.Sprintf("pid %d answers", st.Daemon.PID)
		case !st.IPVS.InSync:
			last = fmt.Sprintf("not in sync: %q", st.IPVS.Pending)
		default:
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.violate("lbd on %s not ready %s after a restart: %s", sd.d.name, 2*settle, last)
	s.t.Fatalf("seed %d: lbd on %s not ready after a restart (%s)", s.p.seed, sd.d.name, last)
	return 0
}

// killLbrs kills lbrs on w with SIGKILL (the VIP stays on lo), waits 0-3 s
// and starts it again: the node keeps serving throughout.
func (s *soak) killLbrs(w *vipWeb) {
	pause := s.dur(0, 30)
	s.logf("fault #%d lbrs-kill %s (pid %d), restart after %s", s.nfault, w.name, w.lbrs.cmd.Process.Pid, pause)
	w.lbrs.requireComm(s.t, "lbrs")
	if _, err := w.lbrs.stop(s.t, syscall.SIGKILL); err == nil {
		s.violate("lbrs on %s exited 0 after SIGKILL", w.name)
	}
	if !hasAddr(ipv4Addrs(s.t, w.ns, "lo"), vipAddr+"/32 lo:0") {
		s.violate("the VIP left %s's lo after kill -9 of lbrs", w.name)
	}
	time.Sleep(pause)
	start := time.Now()
	w.lbrs = startLbrs(s.t, w.lbrs.node)
	// "lbrs status" passes at once on what the killed lbrs left in place:
	// wait for the new process itself (exec'd by nsenter, running).
	if len(w.lbrs.waitLog(2*settle, "lbrs running")) == 0 {
		s.violate("lbrs on %s not running %s after its restart", w.name, 2*settle)
		s.t.Fatalf("seed %d: lbrs on %s does not restart: %v\n%s", s.p.seed, w.name, w.lbrs.err, w.lbrs.log.String())
	}
	w.lbrs.waitApplied(s.t)
	took := time.Since(start)
	s.logf("lbrs on %s back in %s", w.name, took.Round(10*time.Millisecond))
}

// reload writes the lbd.yaml of model m for sd and runs lbctl reload; on
// success m is sd's model. A valid reload removes at most VIP:8080, one
// service of three: under lbd's removal guard (50 %), never refused.
func (s *soak) reload(sd *soakDir, m soakModel) (string, bool) {
	must(s.t, os.WriteFile(sd.d.config, []byte(sd.configText(m)), 0o644))
	out, code := s.lbctl(sd, "reload")
	if code != 0 {
		return out, false
	}
	s.mu.Lock()
	sd.model = m
	s.seen.reloads++
	s.mu.Unlock()
	return out, true
}

// lbctl runs lbctl against sd's lbd and returns its output and exit code.
func (s *soak) lbctl(sd *soakDir, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := sd.d.ns.Command(ctx, "lbctl", append([]string{"-s", sd.d.socket}, args...)...)
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(b), 0
	case errors.As(err, &ee):
		return string(b), ee.ExitCode()
	}
	return string(b) + err.Error(), -1
}

// validReload gives one or both directors new weights and adds or removes
// VIP:8080.
func (s *soak) validReload() {
	m := soakModel{weights: [2]int{1 + s.rng.IntN(3), 1 + s.rng.IntN(3)}, extra: s.rng.IntN(2) == 0}
	targets := s.dirs
	if s.rng.IntN(3) == 0 {
		targets = []*soakDir{s.pickDir()}
	}
	for _, sd := range targets {
		s.logf("fault #%d reload %s: weights %v, VIP:8080 %t", s.nfault, sd.d.name, m.weights, m.extra)
		if out, ok := s.reload(sd, m); !ok {
			s.violate("valid reload on %s refused: %s", sd.d.name, strings.TrimSpace(out))
		}
	}
}

// soakInvalid are lbd.yaml files lbd must refuse (each a function of the
// valid text): invalid ones, and ones its removal guard refuses.
var soakInvalid = []struct {
	name string
	make func(valid string) string
}{
	{"syntax error", func(v string) string { return v + "  - address: [192.168.56.90\n" }},
	{"unknown key", func(v string) string { return strings.Replace(v, "global:\n", "global:\n  no_such_key: 1\n", 1) }},
	{"bad address", func(v string) string {
		return strings.Replace(v, "address: 192.168.56.201", "address: 192.168.56.301", 1)
	}},
	// The removal guard's cases: a file emptied, or cut before its
	// services, would remove every service lbd manages.
	{"empty file", func(string) string { return "" }},
	{"truncated before virtual_servers", func(v string) string { return v[:strings.Index(v, "virtual_servers:")] }},
}

// invalidReload writes an invalid lbd.yaml on sd and requires lbctl reload
// to fail, then puts the valid file back (lbd must have changed nothing:
// the monitor compares its table with the model all along).
func (s *soak) invalidReload(sd *soakDir) {
	bad := soakInvalid[s.rng.IntN(len(soakInvalid))]
	s.mu.Lock()
	m := sd.model
	s.mu.Unlock()
	valid := sd.configText(m)
	must(s.t, os.WriteFile(sd.d.config, []byte(bad.make(valid)), 0o644))
	out, code := s.lbctl(sd, "reload")
	why := strings.TrimSpace(out)
	if i := strings.Index(why, "lbctl:"); i >= 0 {
		why = why[i:]
	}
	why, _, _ = strings.Cut(why, "\n")
	s.logf("fault #%d reload-invalid %s (%s): exit %d: %s", s.nfault, sd.d.name, bad.name, code, why)
	if code == 0 {
		s.violate("lbctl reload of an invalid lbd.yaml (%s) on %s succeeded: %s", bad.name, sd.d.name, out)
	} else {
		s.mu.Lock()
		s.seen.invalidRefused++
		s.mu.Unlock()
	}
	must(s.t, os.WriteFile(sd.d.config, []byte(valid), 0o644))
}

// healthFlap breaks web w for 1-12 s: its health page only
// (health-page: clients are still served, but requests in flight when
// the master takes it out are lost) or every answer (health-down: 503
// until the master takes it out).
func (s *soak) healthFlap(kind string, w *vipWeb) {
	hold := s.dur(10, 120)
	start := time.Now()
	s.logf("fault #%d %s %s for %s", s.nfault, kind, w.name, hold)
	flag := &w.broken
	if kind == "health-down" {
		flag = &w.down
	}
	flag.Store(true)
	time.Sleep(hold)
	flag.Store(false)
	if kind == "health-page" {
		// The server still serves, but when the checks take it out the
		// kernel drops the packets of its connections in flight (IPVS
		// drops a connection whose destination is gone): until the
		// detection bound.
		s.explain(soakWindow{kind: kind, from: start, to: start.Add(soakDetect)})
	}
	if kind == "health-down" {
		s.explain(soakWindow{kind: kind, from: start, to: time.Now().Add(vipRecoverMax + soakSlack), web: w.name, detectBy: start.Add(soakDetect)})
	}
}

// handEdit changes sd's kernel table behind lbd's back with ipvsadm; lbd's
// resync must put it back within resync_interval.
func (s *soak) handEdit(sd *soakDir) {
	w := seedWebs()[s.rng.IntN(2)]
	svc := vipAddr + ":80"
	edits := [][]string{
		{"-d", "-t", svc, "-r", w.addr + ":80"},
		{"-e", "-t", svc, "-r", w.addr + ":80", "-g", "-w", fmt.Sprint(s.rng.IntN(6))},
		{"-D", "-t", svc},
		{"-E", "-t", svc, "-s", "wlc"},
		{"-D", "-t", vipAddr + ":8081"},
	}
	args := edits[s.rng.IntN(len(edits))]
	hit := sd.d.hasVIP(s.t)
	at := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	out, err := sd.d.ns.Run(ctx, "ipvsadm", args...)
	cancel()
	res := "done"
	if err != nil {
		res = "refused by the kernel: " + strings.TrimSpace(out+" "+err.Error())
	}
	s.logf("fault #%d ipvsadm-edit %s: ipvsadm %s (%s; VIP holder: %t)", s.nfault, sd.d.name, strings.Join(args, " "), res, hit)
	if hit {
		s.explain(soakWindow{kind: "ipvsadm-edit", from: at, to: at.Add(soakConverge)})
	}
}
