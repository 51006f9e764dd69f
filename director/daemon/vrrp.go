package daemon

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/vrrp"
)

// Component is a set of VRRP instances that must run in one vrrp.Router
// (see vrrp.Set.Split). Components are independent of each other, so a
// reload restarts only those whose configuration changed.
type Component struct {
	// Name identifies the component: its instance names, sorted, joined by ",".
	Name string
	Set  vrrp.Set
}

// Components splits the VRRP configuration into its components, in the
// order of their first instance in the file.
func Components(v *vrrp.Set) []Component {
	var out []Component
	for _, s := range v.Split() {
		out = append(out, Component{Name: s.Name(), Set: s})
	}
	return out
}

// runningComp is a component's router and how to stop it.
type runningComp struct {
	router *vrrp.Router
	cancel context.CancelFunc
	done   chan struct{}
}

type transKey struct{ instance, to string }

// startComponent builds and runs the router of a VRRP component. A
// component that cannot start is remembered with its error (the status
// shows its instances in INIT) and the others run.
func (d *Daemon) startComponent(c Component) {
	log := d.log.With("component", c.Name)
	opts := vrrp.Options{
		Instances: c.Set.Instances, Scripts: c.Set.Scripts, SyncGroups: c.Set.SyncGroups,
		TrackProcesses: c.Set.TrackProcesses, TrackFiles: c.Set.TrackFiles,
		Logger: log, OnStateChange: d.onVRRP, Serves: d.serves(c.Set.Instances),
	}
	opts.OnNotice = d.onNotice
	opts.PeerMonitor = d.peerMonitor(c.Set)
	if d.opts.VRRPEnv != nil {
		env, err := d.opts.VRRPEnv(log)
		if err != nil {
			d.setVRRPErr(c.Name, err)
			log.Error("vrrp environment", "err", err)
			return
		}
		opts.Env = env
	}
	if opts.Env.Runner == nil {
		opts.Env.Runner = vrrp.ExecRunner{Exec: d.scripts}
	}
	r, err := vrrp.New(opts)
	if err != nil {
		d.setVRRPErr(c.Name, err)
		log.Error("vrrp configuration refused", "err", err)
		return
	}
	r.SetDrained(d.directorDrained()) // lbctl drain-director, kept across reloads and restarts
	ctx, cancel := context.WithCancel(context.Background())
	rc := &runningComp{router: r, cancel: cancel, done: make(chan struct{})}
	d.mu.Lock()
	d.comps[c.Name] = rc
	delete(d.vrrpErr, c.Name)
	d.mu.Unlock()
	d.opts.Go(func() {
		defer close(rc.done)
		if err := r.Run(ctx); err != nil && ctx.Err() == nil {
			d.setVRRPErr(c.Name, err)
			log.Error("vrrp router stopped", "err", err)
		}
	})
}

func (d *Daemon) setVRRPErr(name string, err error) {
	d.mu.Lock()
	d.vrrpErr[name] = err.Error()
	d.mu.Unlock()
}

// stopComponent stops a running component and waits for its shutdown (a
// master sends priority 0 and releases its addresses).
func (d *Daemon) stopComponent(name string) {
	d.mu.Lock()
	rc := d.comps[name]
	delete(d.comps, name)
	delete(d.vrrpErr, name)
	d.mu.Unlock()
	if rc == nil {
		return
	}
	rc.cancel()
	<-rc.done
}

// stopAll stops every component at once.
func (d *Daemon) stopAll() {
	d.mu.Lock()
	var names []string
	for n := range d.comps {
		names = append(names, n)
	}
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); d.stopComponent(n) }()
	}
	wg.Wait()
}

// onVRRP is every router's OnStateChange: it logs the transition, counts
// it, and makes the sync daemon follow the instance that drives it.
func (d *Daemon) onVRRP(sc vrrp.StateChange) {
	vips := make([]string, len(sc.VIPs))
	for i, v := range sc.VIPs {
		vips[i] = v.String()
	}
	attrs := []any{"instance", sc.Instance, "from", sc.From.String(), "to", sc.To.String(),
		"priority", sc.Priority, "interface", sc.Interface, "vrid", sc.VRID, "vip", strings.Join(vips, ",")}
	if sc.Group != "" {
		attrs = append(attrs, "group", sc.Group)
	}
	d.log.Info("vrrp transition", attrs...)
	d.emitVRRP(sc, vips)
	d.mu.Lock()
	d.trans[transKey{sc.Instance, sc.To.String()}]++
	cfg := d.cfg
	d.mu.Unlock()
	// Any state but MASTER, STOP included, makes this director a sync
	// backup: like the IPVS table, the daemon outlives lbd, and a director
	// that stopped keeps receiving the master's connections, so that a
	// restarted lbd that takes over carries them on.
	if sd := cfg.IPVS.SyncDaemon; sd != nil && sd.Role == config.SyncAuto && sd.Instance == sc.Instance {
		d.setSyncDaemon(cfg, sc.To)
	}
}

// ensureSyncDaemon sets the IPVS sync daemon for cfg, in the role the
// driving instance's current state gives (BACKUP until it runs).
func (d *Daemon) ensureSyncDaemon(cfg *config.Director) {
	state := vrrp.StateInit
	if sd := cfg.IPVS.SyncDaemon; sd != nil && sd.Role == config.SyncAuto {
		for _, in := range d.VRRPStats().Instances {
			if in.Name == sd.Instance {
				state = in.State
			}
		}
	}
	d.setSyncDaemon(cfg, state)
}

// setSyncDaemon makes the kernel run the sync daemon cfg asks for (none,
// master or backup), given the driving instance's state.
func (d *Daemon) setSyncDaemon(cfg *config.Director, state vrrp.State) {
	p := d.ipvsNow()
	if p == nil {
		return // VRRP only: no sync daemon configured, IPVS not open
	}
	sdk, ok := p.kern.(director.SyncDaemons)
	if !ok {
		return
	}
	var want []table.Daemon
	if sd := cfg.IPVS.SyncDaemon; sd != nil {
		role := table.DaemonBackup
		if sd.Role == config.SyncMaster || sd.Role == config.SyncAuto && state == vrrp.StateMaster {
			role = table.DaemonMaster
		}
		want = []table.Daemon{{State: role, Interface: sd.Interface, SyncID: uint32(sd.SyncID)}}
		if sd.Role == config.SyncBoth {
			want = append(want, table.Daemon{State: table.DaemonMaster, Interface: sd.Interface, SyncID: uint32(sd.SyncID)})
		}
	}
	changes, err := director.EnsureSyncDaemons(sdk, want)
	for _, c := range changes {
		d.log.Info("ipvs sync daemon", "change", c)
	}
	if err != nil {
		d.log.Error("ipvs sync daemon", "err", err)
	}
}

// routers returns the running routers sorted by component name.
func (d *Daemon) routers() []*vrrp.Router {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := make([]string, 0, len(d.comps))
	for n := range d.comps {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*vrrp.Router, 0, len(names))
	for _, n := range names {
		out = append(out, d.comps[n].router)
	}
	return out
}

// VRRPStats returns the stats of every running router, merged.
func (d *Daemon) VRRPStats() vrrp.Stats {
	var all vrrp.Stats
	for _, r := range d.routers() {
		s := r.Stats()
		all.Instances = append(all.Instances, s.Instances...)
		all.Groups = append(all.Groups, s.Groups...)
		all.Sockets = append(all.Sockets, s.Sockets...)
	}
	return all
}

// Transitions returns the VRRP transitions seen so far, by instance and
// target state.
func (d *Daemon) Transitions() map[string]map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]map[string]uint64{}
	for k, n := range d.trans {
		if out[k.instance] == nil {
			out[k.instance] = map[string]uint64{}
		}
		out[k.instance][k.to] = n
	}
	return out
}

// serves is the routers' Options.Serves (director.CanServe): an
// instance's VIPs can be served unless health-checked IPVS services sit on
// them and none has a real server with a weight; a master then skips its
// later gratuitous ARP bursts, which would only draw clients to nothing (a
// backup cut off from the master and from the real servers, healed just
// before its delayed burst).
func (d *Daemon) serves(insts []vrrp.Config) func(string) bool {
	vips := map[string][]netip.Addr{}
	for _, in := range insts {
		for _, v := range in.VIPs {
			vips[in.Name] = append(vips[in.Name], v.Prefix.Addr())
		}
	}
	return func(name string) bool {
		p := d.ipvsNow()
		return p == nil || p.mgr.CanServe(vips[name]) // VRRP only: no table to judge
	}
}
