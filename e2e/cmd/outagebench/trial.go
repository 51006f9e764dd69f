package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lb/internal/netnslab"
)

// trialResult is one trial's figures.
type trialResult struct {
	outcome
	timeline string // what the client saw, from the fault on
	// phase is how long after d1's last advert (as the client saw it) the
	// fault came: the aim, unless a starved VM slept longer. It is
	// negative when an advert of d1 still crossed after the fault was
	// started (on a loaded host the cut's netlink call took that long).
	phase time.Duration
	took  time.Duration // how long injecting the fault took (the cut's netlink call)
	// takeover is d1's last advert -> d2's first, as the client's kernel
	// stamped them (0 when either is missing).
	takeover time.Duration
	ready    time.Duration // start of the daemons -> d1 MASTER, d2's table programmed
	fault    time.Time     // when the fault was injected
}

func (t trialResult) String() string {
	return fmt.Sprintf("outage %6.3fs, %.3fs from d1's last advert (fault %.3fs after it, injected in %.3fs; served again %.3fs after the fault; %d of %d requests failed; stack ready in %.1fs)\n    %s",
		t.outage.Seconds(), t.fromAdvert().Seconds(), t.phase.Seconds(), t.took.Seconds(), t.again.Seconds(), t.failed, t.total, t.ready.Seconds(), t.timeline)
}

// trial starts stack on both directors, waits for d1 to serve the VIP,
// injects fault at phase after one of d1's adverts and measures what the
// client saw; then it puts the lab back as it was.
func (l *lab) trial(stack, fault string, phase time.Duration, o options) (res trialResult, err error) {
	dir, err := os.MkdirTemp("", "outagebench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var ds [2]*daemon
	stopHogs, err := startHogs(o.hogs)
	if err != nil {
		return res, err
	}
	defer stopHogs()
	defer func() {
		l.reset(ds)
		if err == nil && !o.verbose && stack != stackKeepalived && res.fromAdvert() > masterDown+lateBy {
			printLate(ds[1], res)
		}
		if err != nil || o.verbose {
			for _, d := range ds {
				if d != nil {
					fmt.Printf("--- %s's log:\n%s", d.Name, lastLines(d.Log.String(), 40))
				}
			}
		}
	}()
	start := time.Now()
	for i := range ds {
		sub := fmt.Sprintf("%s/%s", dir, directors[i].name)
		if err := os.Mkdir(sub, 0o700); err != nil {
			return res, err
		}
		if ds[i], err = startDaemon(stack, directors[i], l.d[i], sub, o.verbose); err != nil {
			return res, err
		}
	}
	if err := l.waitReady(ds, 30*time.Second); err != nil {
		return res, errSetup{err}
	}
	if stack == stackLbdBFD {
		if err := waitBFD(ds[1], 20*time.Second); err != nil {
			return res, errSetup{err}
		}
	}
	res.ready = time.Since(start)
	sn, err := startSniffer(l.client)
	if err != nil {
		return res, err
	}
	defer sn.close()
	p := startProber(l.client, o.every, o.timeout)
	defer p.stop()
	if err := p.waitServing(20, 30*time.Second); err != nil {
		return res, errSetup{err}
	}
	var tr *tracer
	if o.trace {
		nss := map[string]*netnslab.Namespace{"client": l.client, "d1": l.d[0], "d2": l.d[1], "web1": l.web[0]}
		if tr, err = startTracer(nss, []string{"client", "d1", "d2", "web1"}); err != nil {
			return res, err
		}
		defer tr.stop()
	}
	adv, err := sn.nextAdvert(netip.MustParseAddr(d1Addr), time.Now(), 5*advert)
	if err != nil {
		return res, errSetup{err}
	}
	time.Sleep(time.Until(adv.Add(phase)))
	at := time.Now()
	res.fault = at
	if fault == faultCut {
		err = l.link1.Cut()
	} else {
		err = ds[0].Terminate()
	}
	res.took = time.Since(at)
	if err != nil {
		return res, fmt.Errorf("inject %s: %w", fault, err)
	}
	d2Holds := func() bool { has, err := hasVIP(l.d[1]); return err == nil && has }
	if err := p.waitRecovered(at, d2Holds, time.Second, 20*time.Second); err != nil {
		return res, err
	}
	p.stop()
	if res.outcome, err = measureOutcome(p.snapshot(), at); err != nil {
		return res, err
	}
	res.timeline = timeline(sn.events(), p.snapshot(), at, l.mac[1])
	if tr != nil {
		tr.stop()
		tr.print(at, at.Add(-50*time.Millisecond), at.Add(res.again+150*time.Millisecond))
		printSlow(p.snapshot(), at)
	}
	if last, ok := lastAdvert(sn.events(), netip.MustParseAddr(d1Addr)); ok {
		res.phase = at.Sub(last)
		if first, ok := firstAdvertAfter(sn.events(), netip.MustParseAddr(d2Addr), at); ok {
			res.takeover = first.Sub(last)
		}
	}
	return res, nil
}

// waitBFD waits for d2's BFD session to d1 to come Up, then for the Poll
// Sequences that put 100ms in force.
func waitBFD(d *daemon, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for !bfdUp(d) {
		if d.Exited() || time.Now().After(deadline) {
			return fmt.Errorf("%s: no BFD session Up within %v", d.Name, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	return nil
}

// errSetup is a trial that failed before its fault was injected (a
// starved VM: the stack not ready, the client not served, no advert): the
// trial is tried again.
type errSetup struct{ error }

func (e errSetup) Unwrap() error { return e.error }

// waitReady waits for d1 to hold the VIP, d2 not to, and both IPVS tables
// to list the two real servers.
func (l *lab) waitReady(ds [2]*daemon, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var why string
	for time.Now().Before(deadline) {
		for _, d := range ds {
			if d.Exited() {
				return fmt.Errorf("%s exited", d.Name)
			}
		}
		why = l.notReady()
		if why == "" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the stack was not ready within %v: %s", limit, why)
}

// notReady says what is not ready yet, "" when all is.
func (l *lab) notReady() string {
	for i, ns := range l.d {
		has, err := hasVIP(ns)
		if err != nil {
			return err.Error()
		}
		if has != (i == 0) {
			return fmt.Sprintf("%s holds the VIP: %v", directors[i].name, has)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := ns.Run(ctx, "ipvsadm", "-Ln")
		cancel()
		if err != nil {
			return err.Error()
		}
		for _, rs := range []string{web1Addr, web2Addr} {
			if !strings.Contains(out, rs+":80") {
				return fmt.Sprintf("%s's IPVS table lacks %s:80:\n%s", directors[i].name, rs, out)
			}
		}
	}
	return ""
}

func hasVIP(ns *netnslab.Namespace) (bool, error) {
	addrs, err := ns.Addresses("eth0")
	if err != nil {
		return false, err
	}
	return slices.Contains(addrs, netip.MustParsePrefix(vipAddr+"/32")), nil
}

// reset stops the daemons and undoes what they left: the IPVS tables, the
// VIP, the cut, the client's ARP entry for the VIP.
func (l *lab) reset(ds [2]*daemon) {
	for _, d := range ds {
		if d != nil {
			d.Stop(5 * time.Second)
		}
	}
	var errs []error
	for _, ns := range l.d {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := ns.Run(ctx, "ipvsadm", "-C"); err != nil {
			errs = append(errs, err)
		}
		cancel()
		if has, _ := hasVIP(ns); has {
			errs = append(errs, ns.DelAddress("eth0", netip.MustParsePrefix(vipAddr+"/32")))
		}
	}
	errs = append(errs, l.link1.Restore(), flushNeigh(l.client))
	if err := errors.Join(errs...); err != nil {
		fmt.Println("outagebench: resetting the lab:", err)
	}
}

// flushNeigh removes the client's ARP entry for the VIP, so that each
// trial starts from the same state.
func flushNeigh(ns *netnslab.Namespace) error {
	h := ns.Handle()
	lk, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("client eth0: %w", err)
	}
	ns4, err := h.NeighList(lk.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("client neighbours: %w", err)
	}
	for _, n := range ns4 {
		if n.IP.String() == vipAddr {
			if err := h.NeighDel(&n); err != nil {
				return fmt.Errorf("delete the client's ARP entry for the VIP: %w", err)
			}
		}
	}
	return nil
}

// lateBy is how far past Master_Down_Interval (from d1's last advert as
// the client saw it) a takeover is reported with d2's log.
const lateBy = 100 * time.Millisecond

// printLate prints what d2's VRRP loop said about a late takeover.
func printLate(d2 *daemon, res trialResult) {
	fmt.Printf("--- %s's VRRP log (fault at %s; the takeover came %.3fs after the bound):\n%s", d2.Name,
		res.fault.Format("15:04:05.000"), (res.fromAdvert() - masterDown).Seconds(), lastLines(grepLines(d2.Log.String(), "vrrp:"), 12))
}

// startHogs starts n busy loops; the returned func kills them.
func startHogs(n int) (func(), error) {
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	for range n {
		c := exec.Command("sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("start a CPU hog: %w", err)
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// fromAdvert is the outage had the fault come right after d1's last
// advert: the outage plus the phase. After a cut it does not depend on
// where in d1's advert cycle the cut fell (the backup's Master_Down_Interval
// runs from that advert), so trials whose sleep overshot on a starved VM
// compare.
func (t trialResult) fromAdvert() time.Duration { return t.outage + t.phase }

// lastAdvert is the last advert with a priority the client saw from src:
// after a cut or a stop none comes, so it is the one the backup's
// Master_Down_Interval runs from, even when it crossed after the fault was
// started.
func lastAdvert(evs []event, src netip.Addr) (time.Time, bool) {
	var last time.Time
	for _, e := range evs {
		if e.kind == "advert" && e.src == src && e.prio > 0 {
			last = e.at
		}
	}
	return last, !last.IsZero()
}

// firstAdvertAfter is the first advert with a priority from src after at.
func firstAdvertAfter(evs []event, src netip.Addr, at time.Time) (time.Time, bool) {
	for _, e := range evs {
		if e.kind == "advert" && e.src == src && e.prio > 0 && e.at.After(at) {
			return e.at, true
		}
	}
	return time.Time{}, false
}

// timeline is what the client saw around the fault at, in seconds from
// it: d1's last advert (after it if one crossed while the fault was
// injected) and its priority-0 advert, d2's first advert, the first ARP
// from d2 for the VIP, its first SYN sent to d2's MAC, and the first
// request started after the fault that was answered.
func timeline(evs []event, rs []probeResult, at time.Time, d2MAC net.HardwareAddr) string {
	d1, d2 := netip.MustParseAddr(d1Addr), netip.MustParseAddr(d2Addr)
	var parts []string
	mark := func(name string, t time.Time) {
		if t.IsZero() {
			parts = append(parts, name+" -")
			return
		}
		parts = append(parts, fmt.Sprintf("%s %+.3f", name, t.Sub(at).Seconds()))
	}
	var last, zero, first, garp, syn time.Time
	for _, e := range evs {
		switch {
		case e.kind == "advert" && e.src == d1 && e.prio > 0:
			last = e.at
		case e.kind == "advert" && e.src == d1 && e.prio == 0 && zero.IsZero():
			zero = e.at
		case e.kind == "advert" && e.src == d2 && e.at.After(at) && first.IsZero():
			first = e.at
		case e.kind == "arp" && e.src == vip4 && bytes.Equal(e.mac, d2MAC) && e.at.After(at) && garp.IsZero():
			garp = e.at
		case e.kind == "syn" && bytes.Equal(e.mac, d2MAC) && e.at.After(at) && syn.IsZero():
			syn = e.at
		}
	}
	mark("d1 last advert", last)
	if !zero.IsZero() {
		mark("d1 priority 0", zero)
	}
	mark("d2 first advert", first)
	mark("GARP from d2", garp)
	mark("first SYN to d2", syn)
	for _, r := range rs {
		if r.ok && r.start.After(at) {
			parts = append(parts, fmt.Sprintf("first answered request sent %+.3f, answered %+.3f", r.start.Sub(at).Seconds(), r.end.Sub(at).Seconds()))
			break
		}
	}
	return "client saw (s from the fault): " + strings.Join(parts, "; ")
}
