package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lb/e2e/ecmplab"
	"github.com/lvsd/lb/internal/birdconf"
)

// birdStack is the anchor, what operators build by hand today: on each
// director bird2 announcing the VIP (a static route) and the IPVS service
// lbd programs set up with ipvsadm (mh, mh-port, mh-fallback, DR to the
// three real servers, in the same order on every director), the VIP on lo
// with the ARP sysctls, sloppy_tcp on.
type birdStack struct {
	l   *lab
	bfd bool
	directors
}

func startBirdStack(l *lab, bfd bool) (*birdStack, error) {
	s := &birdStack{l: l, bfd: bfd, directors: directors{make([]*daemon, ecmplab.Size)}}
	for _, d := range l.tp.Directors {
		if err := setUpByHand(d); err != nil {
			return nil, fmt.Errorf("d%d: %w", d.ID, err)
		}
		if err := s.start(d.ID); err != nil {
			s.stop()
			return nil, err
		}
	}
	if _, err := l.waitHops(all(), 60*time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, s.logs())
	}
	return s, nil
}

// setUpByHand gives director d the VIP and the IPVS service.
func setUpByHand(d *ecmplab.Director) error {
	if err := d.NS.AddAddress("lo", netip.MustParsePrefix(ecmplab.VIP+"/32"), ""); err != nil {
		return err
	}
	for k, v := range map[string]string{"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2"} {
		if err := d.NS.Sysctl(k, v); err != nil {
			return err
		}
	}
	svc := ecmplab.VIP + ":80"
	if _, err := runIn(d.NS, "ipvsadm", "-A", "-t", svc, "-s", "mh", "-b", "mh-fallback,mh-port"); err != nil {
		return err
	}
	for w := 1; w <= ecmplab.Size; w++ {
		if _, err := runIn(d.NS, "ipvsadm", "-a", "-t", svc, "-r", ecmplab.WebAddr(w)+":80", "-g", "-w", "1"); err != nil {
			return err
		}
	}
	return d.NS.Sysctl("net.ipv4.vs.sloppy_tcp", "1")
}

func (s *birdStack) start(v int) error {
	dm, err := s.l.startBird(s.l.tp.Directors[v-1].NS, fmt.Sprintf("d%d", v),
		birdconf.Director(ecmplab.DirectorAddr(v), ecmplab.Router, ecmplab.VIP, s.bfd))
	if err != nil {
		return err
	}
	s.ds[v-1] = dm
	return nil
}

// VRRP settings of the keepalived pair (d1 master, d2 backup).
const (
	vrid       = 51
	advertSecs = 1
)

// keepalivedConfig is d's keepalived.conf: the VIP on eth0 by VRRP, and
// the same IPVS service as lbd's (mh, mh-port, mh-fallback, DR, TCP checks).
func keepalivedConfig(i int) string {
	state, prio := "MASTER", 200
	if i != 1 {
		state, prio = "BACKUP", 100
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id d%d\n}\n", i)
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n  state %s\n  interface eth0\n  virtual_router_id %d\n  priority %d\n  advert_int %d\n"+
		"  authentication {\n    auth_type PASS\n    auth_pass 1111\n  }\n  virtual_ipaddress {\n    %s/32 dev eth0\n  }\n}\n",
		state, vrid, prio, advertSecs, ecmplab.VIP)
	fmt.Fprintf(&b, "virtual_server %s 80 {\n  delay_loop 1\n  lb_algo mh\n  mh-port\n  mh-fallback\n  lb_kind DR\n  protocol TCP\n", ecmplab.VIP)
	for w := 1; w <= ecmplab.Size; w++ {
		fmt.Fprintf(&b, "  real_server %s 80 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n", ecmplab.WebAddr(w))
	}
	b.WriteString("}\n")
	return b.String()
}

func (l *lab) startKeepalived(i int, verbose bool) (*daemon, error) {
	dir := filepath.Join(l.dir, fmt.Sprintf("keepalived-d%d", i))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(keepalivedConfig(i)), 0o600); err != nil {
		return nil, err
	}
	args := []string{"-n", "-G", "-f", conf, "-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid")}
	if verbose {
		args = append(args, "-l", "-D")
	}
	return l.tp.Directors[i-1].NS.StartDaemon(fmt.Sprintf("keepalived on d%d", i), "keepalived", args...)
}

// keepalivedSeries is the peer: the router's route to the VIP on its LAN
// (bird2 stopped), keepalived on d1 (master) and d2; in each trial the
// master's link is cut and keepalived killed.
func (l *lab) keepalivedSeries(o options, note noteFunc) error {
	if _, err := runIn(l.tp.Router, "ip", "route", "replace", ecmplab.VIP+"/32", "dev", "eth1"); err != nil {
		return err
	}
	defer func() { _, _ = runIn(l.tp.Router, "ip", "route", "del", ecmplab.VIP+"/32") }()
	for t := range o.trials {
		out, err := l.keepalivedTrial(o, 25000+t*1000)
		for retry := 1; retry <= 2 && isSetup(err); retry++ {
			fmt.Printf("%-16s trial %d: set-up failed, trying again: %v\n", seriesKeepalived, t+1, err)
			out, err = l.keepalivedTrial(o, 25000+t*1000+retry*200)
		}
		note(seriesKeepalived, t+1, out, err)
	}
	return nil
}

func (l *lab) keepalivedTrial(o options, base int) (res outcome, err error) {
	var ds [2]*daemon
	defer func() {
		for _, d := range ds {
			if d != nil && (err != nil || o.verbose) {
				fmt.Printf("--- %s's log:\n%s", d.Name, lastLines(d.Log.String(), 30))
			}
			d.Stop(daemonGrace)
		}
		if cerr := l.cleanDirectors(); cerr != nil {
			fmt.Println("ecmpbench: after keepalived's trial:", cerr)
		}
	}()
	if err := l.flushRouterNeigh(); err != nil {
		return res, err
	}
	for i := range ds {
		if ds[i], err = l.startKeepalived(i+1, o.verbose); err != nil {
			return res, err
		}
	}
	if err := l.waitKeepalivedReady(30 * time.Second); err != nil {
		return res, errSetup{err}
	}
	fs, err := l.openTrialFlows(o, base)
	if err != nil {
		return res, err
	}
	defer fs.close()
	d1 := l.tp.Directors[0]
	carried, err := carriedBy(d1, fs)
	if err != nil {
		return res, err
	}
	if err := d1.Link.Cut(); err != nil {
		return res, err
	}
	at := time.Now()
	ds[0].Kill()
	fs.waitSettled(at, settleLimit)
	return measure(fs.records(), carried, at), nil
}

// waitKeepalivedReady waits for d1 to hold the VIP, d2 not to, both IPVS
// tables to list the three real servers, and sets sloppy_tcp on both
// (keepalived does not).
func (l *lab) waitKeepalivedReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	why := ""
	for time.Now().Before(deadline) {
		if why = l.keepalivedNotReady(); why == "" {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the keepalived pair was not ready within %v: %s", limit, why)
}

func (l *lab) keepalivedNotReady() string {
	vip := netip.MustParseAddr(ecmplab.VIP)
	for i, d := range l.tp.Directors[:2] {
		has, err := d.NS.HasAddress("eth0", vip)
		if err != nil {
			return err.Error()
		}
		if has != (i == 0) {
			return fmt.Sprintf("d%d holds the VIP: %v", i+1, has)
		}
		out, err := runIn(d.NS, "ipvsadm", "-Ln")
		if err != nil {
			return err.Error()
		}
		for w := 1; w <= ecmplab.Size; w++ {
			if !strings.Contains(out, ecmplab.WebAddr(w)+":80") {
				return fmt.Sprintf("d%d's IPVS table lacks %s:80", i+1, ecmplab.WebAddr(w))
			}
		}
		if err := d.NS.Sysctl("net.ipv4.vs.sloppy_tcp", "1"); err != nil {
			return err.Error()
		}
	}
	return ""
}

// flushRouterNeigh removes the router's ARP entry for the VIP, so that
// each keepalived trial starts from the same state.
func (l *lab) flushRouterNeigh() error {
	h := l.tp.Router.Handle()
	lk, err := h.LinkByName("eth1")
	if err != nil {
		return fmt.Errorf("router eth1: %w", err)
	}
	ns4, err := h.NeighList(lk.Attrs().Index, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("router neighbours: %w", err)
	}
	for _, n := range ns4 {
		if n.IP.String() == ecmplab.VIP {
			if err := h.NeighDel(&n); err != nil {
				return fmt.Errorf("delete the router's ARP entry for the VIP: %w", err)
			}
		}
	}
	return nil
}

func isSetup(err error) bool {
	var e errSetup
	return errors.As(err, &e)
}
