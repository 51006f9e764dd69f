package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/lvsd/lb/e2e/ecmplab"
	"github.com/lvsd/lb/internal/netnslab"
)

// lab is issue 16's topology (ecmplab) with the real servers serving.
type lab struct {
	nl  *netnslab.Lab
	tp  *ecmplab.Topology
	lns []net.Listener
	dir string
	// routerBFD and routerSock are the router's bird2: BFD on, its
	// control socket.
	routerBFD  bool
	routerSock string
	kills      int // faults injected by killTrial
}

func buildLab() (l *lab, err error) {
	nl, err := netnslab.New("ecmpb")
	if err != nil {
		return nil, err
	}
	l = &lab{nl: nl}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	if l.dir, err = os.MkdirTemp("", "ecmpbench-"); err != nil {
		return nil, err
	}
	if l.tp, err = ecmplab.Build(nl); err != nil {
		return nil, err
	}
	for _, w := range l.tp.Webs {
		if err := l.addWeb(w); err != nil {
			return nil, fmt.Errorf("%s: %w", w.Name, err)
		}
	}
	return l, nil
}

// addWeb makes w a DR real server (the VIP on lo, arp_ignore 1,
// arp_announce 2: what lbrs does) answering each line on a connection
// with its name.
func (l *lab) addWeb(w *ecmplab.Web) error {
	if err := w.NS.AddAddress("lo", netip.MustParsePrefix(ecmplab.VIP+"/32"), ""); err != nil {
		return err
	}
	for k, v := range map[string]string{"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2"} {
		if err := w.NS.Sysctl(k, v); err != nil {
			return err
		}
	}
	ln, err := w.NS.Listen("tcp4", "0.0.0.0:80")
	if err != nil {
		return err
	}
	l.lns = append(l.lns, ln)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go echoName(c, w.Name)
		}
	}()
	return nil
}

func echoName(c net.Conn, name string) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		if _, err := br.ReadString('\n'); err != nil {
			return
		}
		if _, err := c.Write([]byte(name + "\n")); err != nil {
			return
		}
	}
}

func (l *lab) close() {
	for _, ln := range l.lns {
		_ = ln.Close()
	}
	if err := l.nl.Close(); err != nil {
		fmt.Println("ecmpbench: removing the lab:", err)
	}
	if l.dir != "" {
		_ = os.RemoveAll(l.dir)
	}
}

// waitHops waits until the router's route to the VIP has exactly the
// directors want as next hops, and returns how long that took.
func (l *lab) waitHops(want []int, limit time.Duration) (time.Duration, error) {
	return l.waitHopsSince(time.Now(), want, limit)
}

// waitHopsSince is waitHops timed from start.
func (l *lab) waitHopsSince(start time.Time, want []int, limit time.Duration) (time.Duration, error) {
	var got []int
	for time.Since(start) < limit {
		hops, err := l.tp.NextHops()
		if err != nil {
			return 0, err
		}
		if got = hops; slices.Equal(got, want) {
			return time.Since(start), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("the router's next hops for %s are directors %v, want %v after %v", ecmplab.VIP, got, want, limit)
}

// daemon is one process in a namespace (lbd, keepalived, bird).
type daemon = netnslab.Daemon

// daemonGrace is how long a stopped daemon has before SIGKILL.
const daemonGrace = 10 * time.Second

// startRouterBird starts bird2 on the router, with or without BFD.
func (l *lab) startRouterBird(bfd bool) (*daemon, error) {
	l.routerBFD, l.routerSock = bfd, filepath.Join(l.dir, "bird-router", "bird.ctl")
	return l.startBird(l.tp.Router, "router", ecmplab.RouterConf(bfd))
}

func (l *lab) startBird(ns *netnslab.Namespace, name, conf string) (*daemon, error) {
	dir := filepath.Join(l.dir, "bird-"+name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	return ns.StartDaemon("bird on "+name, "bird", "-f", "-c", path, "-s", filepath.Join(dir, "bird.ctl"), "-P", filepath.Join(dir, "bird.pid"))
}

// runIn runs a command in ns with a timeout.
func runIn(ns *netnslab.Namespace, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := ns.Run(ctx, name, args...)
	if err != nil {
		return out, fmt.Errorf("%s %v: %w: %s", name, args, err, out)
	}
	return out, nil
}

// cleanDirectors undoes what a stack left on the directors: their IPVS
// tables, the VIP on any device, cut links.
func (l *lab) cleanDirectors() error {
	var errs []error
	for _, d := range l.tp.Directors {
		errs = append(errs, d.Link.Restore())
		if _, err := runIn(d.NS, "ipvsadm", "-C"); err != nil {
			errs = append(errs, err)
		}
		for _, dev := range []string{"lo", "eth0"} {
			if has, _ := d.NS.HasAddress(dev, netip.MustParseAddr(ecmplab.VIP)); has {
				errs = append(errs, d.NS.DelAddress(dev, netip.MustParsePrefix(ecmplab.VIP+"/32")))
			}
		}
	}
	return errors.Join(errs...)
}

// directors are the daemons of a stack, one per director (d1 at index 0;
// nil while not started); the lbd and bird2 stacks embed them.
type directors struct{ ds []*daemon }

func (s *directors) kill(v int) { s.ds[v-1].Kill() }

func (s *directors) stop() {
	for _, d := range s.ds {
		d.Stop(daemonGrace)
	}
}

func (s *directors) logs() string {
	var out string
	for _, d := range s.ds {
		if d != nil {
			out += fmt.Sprintf("--- %s's log:\n%s", d.Name, lastLines(d.Log.String(), 30))
		}
	}
	return out
}
