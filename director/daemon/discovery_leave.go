package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/discovery"
)

// A member that leaves the registry (its znode deleted, its session
// expired) is not removed from the kernel at once: with the kernel's
// default expire_nodest_conn=0, IPVS silently drops every packet of a
// removed destination's connections, so a client's held connection would
// hang. It is leaving instead: it stays in the merged configuration with
// weight 0 (one write: no new connections), and is left out of it (its
// destination deleted, one write) once the kernel counts no connection on
// it (ActiveConn + InActConn = 0) or discovery.leave_timeout has passed. A
// member with no connection when it leaves is deleted at once (one write
// per change, as before). One that comes back while leaving is a member
// again (its weight back, one write). Everything goes through the one
// apply path: the applier prunes the leaving members before it merges, and
// a poll (every leavePoll, only while a member is leaving) prunes them and
// applies when one is done.

// leavePoll is how often the kernel's counters of leaving members are read.
const leavePoll = time.Second

// leaver is a member leaving its service.
type leaver struct {
	m       discovery.Member
	znode   string // the znode it had (for status: zk:path)
	since   time.Time
	timeout time.Duration
	conns   uint32 // ActiveConn + InActConn at the last read
}

// setMembers makes set the applied members of the service at key (path is
// its discovery path, timeout its leave_timeout): a member gone from it
// starts leaving (unless timeout is 0), a leaving member back in it is a
// member again. d.disc.mu is held.
func (d *Daemon) setMembers(key table.ServiceKey, set discovery.Set, timeout time.Duration, now time.Time) {
	prev := d.disc.members[key]
	d.disc.members[key] = set
	lv := d.disc.leaving[key]
	if timeout > 0 {
		for _, m := range discovery.Diff(prev, set).Removed {
			if lv == nil {
				lv = map[netip.AddrPort]*leaver{}
				d.disc.leaving[key] = lv
			}
			lv[m.Addr] = &leaver{m: m, znode: m.Znode, since: now, timeout: timeout}
		}
	}
	for _, m := range set {
		if _, ok := lv[m.Addr]; ok {
			delete(lv, m.Addr)
			d.log.Info("discovery: leaving member back", "service", key.String(), "server", m.Addr.String())
		}
	}
	if len(lv) == 0 {
		delete(d.disc.leaving, key)
	}
}

// leaveTimeout is the leave_timeout of the file's service at key (0 when
// it has no discovery).
func (d *Daemon) leaveTimeout(key table.ServiceKey) time.Duration {
	if vs := d.fileService(key); vs != nil && vs.Discovery != nil {
		return vs.Discovery.LeaveTimeout
	}
	return 0
}

// withLeaving is set with the service's leaving members added at weight 0,
// in the stable order. d.disc.mu is held.
func (d *Daemon) withLeaving(key table.ServiceKey, set discovery.Set) discovery.Set {
	lv := d.disc.leaving[key]
	if len(lv) == 0 {
		return set
	}
	out := slices.Clone(set)
	for _, l := range lv {
		m := l.m
		m.Weight = 0
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b discovery.Member) int {
		if c := a.Addr.Addr().Compare(b.Addr.Addr()); c != 0 {
			return c
		}
		return int(a.Addr.Port()) - int(b.Addr.Port())
	})
	return out
}

// pruneLeaving reads the kernel's counters of the leaving members and
// ends the leave of each that has no connection, has no destination, or
// is past its bound; it says whether one ended. d.applyMu is held.
func (d *Daemon) pruneLeaving(now time.Time) (bool, error) {
	d.disc.mu.Lock()
	n := len(d.disc.leaving)
	d.disc.mu.Unlock()
	p := d.ipvsNow()
	if n == 0 || p == nil {
		return false, nil
	}
	kt, err := table.Read(p.kern)
	if err != nil {
		return false, fmt.Errorf("reading the kernel's connection counts of leaving members: %w", err)
	}
	d.disc.mu.Lock()
	defer d.disc.mu.Unlock()
	ended := false
	for key, lv := range d.disc.leaving {
		svc, _ := kt.Find(key)
		for ap, l := range lv {
			i := slices.IndexFunc(svc.Destinations, func(kd table.Destination) bool {
				return kd.Address == ap.Addr() && kd.Port == ap.Port()
			})
			why := ""
			switch {
			case i < 0:
				why = "not in the kernel's table"
			case svc.Destinations[i].ActiveConns+svc.Destinations[i].InactConns == 0:
				why = "no connection left"
			case now.Sub(l.since) >= l.timeout:
				why = fmt.Sprintf("leave_timeout %s passed", l.timeout)
			}
			if why == "" {
				l.conns = svc.Destinations[i].ActiveConns + svc.Destinations[i].InactConns
				continue
			}
			if i >= 0 {
				l.conns = svc.Destinations[i].ActiveConns + svc.Destinations[i].InactConns
			}
			d.log.Info("discovery: leaving member removed", "service", key.String(), "server", ap.String(), "why", why,
				"connections", l.conns, "after", now.Sub(l.since).Round(time.Millisecond))
			delete(lv, ap)
			ended = true
		}
		if len(lv) == 0 {
			delete(d.disc.leaving, key)
		}
	}
	return ended, nil
}

// runLeavePoll polls the leaving members' counters and applies when a
// leave ends.
func (d *Daemon) runLeavePoll(ctx context.Context) {
	t := time.NewTicker(leavePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.disc.mu.Lock()
		n := len(d.disc.leaving)
		d.disc.mu.Unlock()
		if n == 0 {
			continue
		}
		if err := d.pollLeaving(ctx); err != nil && !errors.Is(err, errStopping) {
			d.log.Error("discovery: leaving members", "err", err)
		}
	}
}

// pollLeaving prunes the leaving members and applies if one is done.
func (d *Daemon) pollLeaving(ctx context.Context) error {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	if d.isStopping() {
		return errStopping
	}
	ended, err := d.pruneLeaving(time.Now())
	if err != nil || !ended {
		return err
	}
	_, err = d.applyLocked(ctx)
	return err
}

// leavingSources marks each leaving member's source in src (as sources
// makes it): "zk:ZNODE leaving (N connections)".
func (d *Daemon) leavingSources(src map[director.RealServerID]string) {
	file := d.fileConfig()
	d.disc.mu.Lock()
	defer d.disc.mu.Unlock()
	for key, lv := range d.disc.leaving {
		base := ""
		for i := range file.VirtualServers {
			if vs := &file.VirtualServers[i]; ServiceKeyOf(vs) == key && vs.Discovery != nil {
				base = vs.Discovery.Path
			}
		}
		for ap, l := range lv {
			id := director.RealServerID{Service: key, Address: ap.Addr(), Port: ap.Port()}
			if _, ok := src[id]; ok {
				src[id] = fmt.Sprintf("zk:%s leaving (%d connections)", path.Join(base, l.znode), l.conns)
			}
		}
	}
}

// leavingCount is the number of leaving members per service.
func (d *Daemon) leavingCount(key table.ServiceKey) int {
	d.disc.mu.Lock()
	defer d.disc.mu.Unlock()
	return len(d.disc.leaving[key])
}
