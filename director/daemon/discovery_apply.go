package daemon

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/metrics"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/discovery"
	"github.com/lvsd/lb/internal/config"
)

// Discovery events counted per service (metrics.DiscoveryEvents).
const (
	discEventApplied   = "applied"   // a list changed the members
	discEventHeld      = "held"      // a list removed too much: held
	discEventConfirmed = "confirmed" // an operator released a held update
	discEventStale     = "stale"     // the registry was lost (members kept)
	discEventInvalid   = "invalid"   // a child that does not parse, or cannot be a real server
)

// onDiscoveryUpdate takes a watch's list: the members applied (the apply
// itself is the applier's, coalesced), or an update held.
func (d *Daemon) onDiscoveryUpdate(dw *discWatch, u discovery.Update) {
	svc := dw.service.String()
	timeout := d.leaveTimeout(dw.service)
	d.disc.mu.Lock()
	if d.disc.watches[dw.service] != dw { // stopped by a reload: its lists are not ours
		d.disc.mu.Unlock()
		return
	}
	wasStale := dw.stale
	dw.stale, dw.listed = false, true
	if u.Result.Held {
		first := !dw.heldSince.Equal(u.Status.HeldSince) // a re-list of the same hold logs nothing
		dw.heldSince = u.Status.HeldSince
		if first {
			d.disc.events[discEventKey{svc, discEventHeld}]++
		}
		d.disc.mu.Unlock()
		if !first {
			return
		}
		c := discovery.Diff(u.Status.Applied, u.Members)
		d.log.Warn("discovery: update held: it would remove too large a share of the pool", "service", svc,
			"path", dw.path, "remove", len(c.Removed), "add", len(c.Added), "applied", len(u.Status.Applied),
			"since", u.Status.HeldSince, "release", "lbctl discovery confirm '"+svc+"'")
		d.emitDiscovery(svc, discEventHeld, fmt.Sprintf("update held: it would remove %d of %d members (lbctl discovery confirm)",
			len(c.Removed), len(u.Status.Applied)), map[string]string{"remove": strconv.Itoa(len(c.Removed)), "add": strconv.Itoa(len(c.Added))})
		d.confirmByHealth()
		return
	}
	prev, had := d.disc.members[dw.service]
	d.setMembers(dw.service, u.Status.Applied, timeout, time.Now())
	// (After a start the previous members may be the kernel's: compared,
	// not taken from the tracker's change.)
	changed := !had || !discovery.Diff(prev, u.Status.Applied).Empty()
	if changed {
		d.disc.events[discEventKey{svc, discEventApplied}]++
	}
	d.disc.events[discEventKey{svc, discEventInvalid}] += uint64(len(u.Errs))
	d.disc.mu.Unlock()
	if wasStale {
		d.log.Info("discovery: fresh again (re-listed)", "service", svc, "path", dw.path, "members", len(u.Members))
		d.emitDiscovery(svc, "fresh", fmt.Sprintf("fresh again: %d members listed", len(u.Members)), nil)
	}
	for _, err := range u.Errs {
		d.log.Warn("discovery: member ignored", "service", svc, "path", dw.path, "err", err)
	}
	d.logChange(dw, u.Result.Apply)
	if c := u.Result.Apply; changed && !c.Empty() {
		d.emitDiscovery(svc, discEventApplied, fmt.Sprintf("members: %d added, %d removed, %d changed; %d now",
			len(c.Added), len(c.Removed), len(c.Changed), len(u.Status.Applied)), nil)
	}
	if changed {
		d.kickDiscovery()
	}
}

// logChange logs each member added, removed or changed, and a member that
// cannot be a real server of the service.
func (d *Daemon) logChange(dw *discWatch, c discovery.Change) {
	svc := dw.service.String()
	vs := d.fileService(dw.service)
	for _, m := range c.Added {
		znode := path.Join(dw.path, m.Znode)
		if vs != nil && vs.Discovery != nil {
			if _, why := memberServer(vs, m, true); why != "" {
				d.log.Warn("discovery: member left out", "service", svc, "znode", znode, "server", m.Addr.String(), "why", why)
				continue
			}
		}
		d.log.Info("discovery: member added", "service", svc, "znode", znode, "server", m.Addr.String(), "weight", m.Weight)
	}
	for _, m := range c.Removed {
		d.log.Info("discovery: member removed", "service", svc, "znode", path.Join(dw.path, m.Znode), "server", m.Addr.String())
	}
	for _, m := range c.Changed {
		d.log.Info("discovery: member changed", "service", svc, "znode", path.Join(dw.path, m.Znode), "server", m.Addr.String(),
			"weight", m.Weight, "forwarding", m.Forwarding)
	}
}

// onDiscoveryStale: the registry is lost; the members stay.
func (d *Daemon) onDiscoveryStale(dw *discWatch, st discovery.Status) {
	svc := dw.service.String()
	d.disc.mu.Lock()
	if d.disc.watches[dw.service] != dw {
		d.disc.mu.Unlock()
		return
	}
	first := !dw.stale
	dw.stale = true
	if first {
		d.disc.events[discEventKey{svc, discEventStale}]++
	}
	d.disc.mu.Unlock()
	if first {
		d.log.Warn("discovery stale: ZooKeeper lost, members kept and still checked", "service", svc, "path", dw.path,
			"since", st.StaleSince, "members", len(st.Applied), "session", dw.conn.conn.State().String())
		d.emitDiscovery(svc, discEventStale, fmt.Sprintf("stale: ZooKeeper lost, the %d members kept", len(st.Applied)), nil)
	}
}

// kickDiscovery asks the applier for an apply (coalesced).
func (d *Daemon) kickDiscovery() {
	select {
	case d.disc.kick <- struct{}{}:
	default:
	}
}

// runDiscoveryApplier applies the discovered members, one apply at a
// time, each taking the newest members.
func (d *Daemon) runDiscoveryApplier(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.disc.kick:
		}
		if _, err := d.applyDiscovered(ctx); err != nil && !errors.Is(err, errStopping) {
			d.log.Error("discovery: applying the members", "err", err)
		}
	}
}

// applyDiscovered applies the file in force with the newest discovered
// members, through the one apply path.
func (d *Daemon) applyDiscovered(ctx context.Context) (control.ReloadResult, error) {
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	if d.isStopping() {
		return control.ReloadResult{}, errStopping
	}
	if _, err := d.pruneLeaving(time.Now()); err != nil {
		d.log.Warn("discovery: leaving members kept", "err", err)
	}
	return d.applyLocked(ctx)
}

// applyLocked applies the file in force with the newest discovered
// members. d.applyMu is held.
func (d *Daemon) applyLocked(ctx context.Context) (control.ReloadResult, error) {
	file := d.fileConfig()
	start := time.Now()
	res, err := d.apply(ctx, d.merge(file), applyDiscovery, false)
	writes := 0
	if res.Apply != nil {
		writes = res.Apply.Writes
	}
	d.log.Info("discovery applied", "writes", writes, "took", time.Since(start).Round(time.Microsecond))
	return res, err
}

// fileConfig is the file in force (without the discovered members).
func (d *Daemon) fileConfig() *config.Director {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.file
}

// fileService is the file's virtual server key, or nil.
func (d *Daemon) fileService(key table.ServiceKey) *config.VirtualServer {
	f := d.fileConfig()
	for i := range f.VirtualServers {
		if ServiceKeyOf(&f.VirtualServers[i]) == key {
			return &f.VirtualServers[i]
		}
	}
	return nil
}

// applyFile applies file (the start's or a reload's) with the discovered
// members, and on success makes the watches follow it. d.applyMu is held.
func (d *Daemon) applyFile(ctx context.Context, file *config.Director, mode applyMode, force bool) (control.ReloadResult, error) {
	if mode == applyStart {
		d.seedFromKernel(file)
		defer func() {
			d.disc.mu.Lock()
			d.disc.trusted = nil // from now on, trusted is up
			d.disc.mu.Unlock()
		}()
	}
	next := d.merge(file)
	res, err := d.apply(ctx, next, mode, force)
	if d.Config() != next {
		return res, err // refused: nothing changed
	}
	d.mu.Lock()
	d.file = file
	d.mu.Unlock()
	d.syncDiscovery(d.ctx(), file)
	return res, err
}

// errNothingHeld refuses a confirm with nothing to release.
var errNothingHeld = errors.New("no discovery update is held")

// ConfirmDiscovery releases the held update of the service named service
// (as status shows it: "TCP 192.0.2.10:80") and applies it.
func (d *Daemon) ConfirmDiscovery(ctx context.Context, service string) (control.ReloadResult, error) {
	d.disc.mu.Lock()
	var dw *discWatch
	var names []string
	for k, w := range d.disc.watches {
		names = append(names, k.String())
		if k.String() == service {
			dw = w
		}
	}
	d.disc.mu.Unlock()
	if dw == nil {
		return control.ReloadResult{}, fmt.Errorf("service %q has no discovery (services with discovery: %v)", service, names)
	}
	if !d.confirm(dw, "the operator") {
		return control.ReloadResult{}, fmt.Errorf("service %s: %w", service, errNothingHeld)
	}
	return d.applyDiscovered(ctx)
}

// confirm releases dw's held update (by: who agreed) into the members to
// apply; false when nothing is held.
func (d *Daemon) confirm(dw *discWatch, by string) bool {
	c, ok := dw.w.Confirm()
	if !ok {
		return false
	}
	svc := dw.service.String()
	st := dw.w.Status()
	timeout := d.leaveTimeout(dw.service)
	d.disc.mu.Lock()
	if d.disc.watches[dw.service] == dw {
		d.setMembers(dw.service, st.Applied, timeout, time.Now())
		d.disc.events[discEventKey{svc, discEventConfirmed}]++
	}
	d.disc.mu.Unlock()
	d.log.Warn("discovery: held update confirmed by "+by, "service", svc, "remove", len(c.Removed),
		"add", len(c.Added), "members", len(st.Applied))
	d.emitDiscovery(svc, discEventConfirmed, fmt.Sprintf("held update confirmed by %s: %d removed, %d added", by, len(c.Removed), len(c.Added)), nil)
	d.logChange(dw, c)
	return true
}

// confirmByHealth releases each held update whose every removed member
// the health checks already have down: the checks confirm the registry.
// (A member without checks is always up: only an operator releases it.)
func (d *Daemon) confirmByHealth() {
	d.disc.mu.Lock()
	ws := make([]*discWatch, 0, len(d.disc.watches))
	for _, w := range d.disc.watches {
		ws = append(ws, w)
	}
	d.disc.mu.Unlock()
	var up map[director.RealServerID]bool
	kick := false
	for _, dw := range ws {
		st := dw.w.Status()
		if !st.Holding {
			continue
		}
		if up == nil {
			up = d.upServers()
		}
		c := discovery.Diff(st.Applied, st.Held)
		if slices.ContainsFunc(c.Removed, func(m discovery.Member) bool {
			return up[director.RealServerID{Service: dw.service, Address: m.Addr.Addr(), Port: m.Addr.Port()}]
		}) {
			continue
		}
		kick = d.confirm(dw, "health checks (every member it removes is down)") || kick
	}
	if kick {
		d.kickDiscovery()
	}
}

// discoveryStatus is each watch's state, in the configuration's order.
func (d *Daemon) discoveryStatus() []control.Discovery {
	file := d.fileConfig()
	d.disc.mu.Lock()
	type entry struct {
		dw     *discWatch
		listed bool
	}
	ws := map[table.ServiceKey]entry{}
	for k, w := range d.disc.watches {
		ws[k] = entry{w, w.listed}
	}
	d.disc.mu.Unlock()
	var out []control.Discovery
	for i := range file.VirtualServers {
		vs := &file.VirtualServers[i]
		if vs.Discovery == nil {
			continue
		}
		key := ServiceKeyOf(vs)
		ds := control.Discovery{Service: key, ZooKeeper: vs.Discovery.ZooKeeper, Path: vs.Discovery.Path, Session: "none"}
		if e, ok := ws[key]; ok {
			st := e.dw.w.Status()
			ds.Session = e.dw.conn.conn.State().String()
			ds.Stale, ds.StaleSince = st.Stale, st.StaleSince
			if !e.listed && ds.Session != zk.StateHasSession.String() {
				// Never listed, no session: the members (the kernel's, kept
				// at start) are unconfirmed since the watch began.
				ds.Stale, ds.StaleSince = true, e.dw.started
			}
			ds.Members = len(st.Applied)
			if st.Holding {
				c := discovery.Diff(st.Applied, st.Held)
				ds.Held = &control.DiscoveryHeld{Remove: len(c.Removed), Add: len(c.Added), Members: len(st.Held), Since: st.HeldSince}
			}
		}
		out = append(out, ds)
	}
	return out
}

// sources maps each real server of cfg to its source: "static", or "zk:"
// and its znode.
func sources(cfg *config.Director) map[director.RealServerID]string {
	out := map[director.RealServerID]string{}
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		key := ServiceKeyOf(vs)
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			src := "static"
			if rs.Source != "" {
				src = "zk:" + rs.Source
			}
			out[director.RealServerID{Service: key, Address: rs.Address, Port: rs.Port}] = src
		}
	}
	return out
}

// discoveryMetrics is each service's discovery for the metrics.
func (d *Daemon) discoveryMetrics() []metrics.Discovery {
	file := d.fileConfig()
	static := map[string]int{}
	for i := range file.VirtualServers {
		static[ServiceKeyOf(&file.VirtualServers[i]).String()] = len(file.VirtualServers[i].RealServers)
	}
	var out []metrics.Discovery
	for _, ds := range d.discoveryStatus() {
		svc := ds.Service.String()
		m := metrics.Discovery{Service: svc, Path: ds.Path, Static: static[svc], Members: ds.Members, Leaving: d.leavingCount(ds.Service),
			SessionUp: ds.Session == zk.StateHasSession.String(), Stale: ds.Stale, StaleSince: ds.StaleSince,
			Held: ds.Held != nil, Events: map[string]uint64{}}
		d.disc.mu.Lock()
		for _, e := range metrics.DiscoveryEvents {
			m.Events[e] = d.disc.events[discEventKey{svc, e}]
		}
		d.disc.mu.Unlock()
		out = append(out, m)
	}
	return out
}
