package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/internal/sysctl"
)

// VRRP-only mode. lbd's IPVS half (ipvsPart: the kernel handle, the
// reconciler and its resync loop, the manager) exists only while the
// configuration needs IPVS: a virtual server or the sync daemon
// (NeedsIPVS). Without them lbd runs VRRP, its tracking and notify
// commands, the control socket and the metrics, and never opens IPVS: no
// read, no write, no resync, and the ipvs section's timeouts and sysctls
// are not applied (they are IPVS's; a warning says so).
//
// A reload that adds the first virtual server opens IPVS (on a kernel
// without it the reload is refused and nothing changes) and starts the
// resync loop; one that removes the last (as the removal guard allows)
// empties the managed services, then closes IPVS: lbd is back in VRRP-only
// mode.

// errNoIPVS is the message of a configuration that needs IPVS on a kernel
// without it.
var errNoIPVS = errors.New("this kernel has no IPVS (load the ip_vs module: modprobe ip_vs)")

// errVRRPOnly answers what needs the IPVS table in VRRP-only mode.
var errVRRPOnly = errors.New("lbd runs VRRP only (no virtual_servers, no sync daemon): there is no IPVS table")

// NeedsIPVS reports whether cfg needs the kernel's IPVS: it configures a
// virtual server or the sync daemon. Without them lbd runs VRRP only.
func NeedsIPVS(cfg *config.Director) bool {
	return len(cfg.VirtualServers) > 0 || cfg.IPVS.SyncDaemon != nil
}

// ipvsPart is lbd's IPVS half while the configuration needs it.
type ipvsPart struct {
	kern  Kernel
	close func() error
	rec   *director.Reconciler
	mgr   *director.Manager
	// stop ends the resync loop and done is closed when it has ended; nil
	// until the loop runs.
	stop context.CancelFunc
	done chan struct{}
}

// ipvsNow is the IPVS half in force, nil in VRRP-only mode.
func (d *Daemon) ipvsNow() *ipvsPart {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ipvs
}

// openKernel opens IPVS: Options.Kernel (never closed), else
// Options.OpenKernel, else the real one (with the sysctls of /proc/sys
// unless Options.Sysctls). A kernel without IPVS gives errNoIPVS.
func (d *Daemon) openKernel() (Kernel, func() error, error) {
	if d.opts.Kernel != nil {
		return d.opts.Kernel, func() error { return nil }, nil
	}
	open := d.opts.OpenKernel
	if open == nil {
		open = func() (Kernel, error) {
			h, err := kernel.Open()
			if err != nil {
				return nil, err
			}
			if d.opts.Sysctls == nil { // the real kernel's: /proc/sys
				d.opts.Sysctls = sysctl.Proc{}
			}
			return h, nil
		}
	}
	k, err := open()
	if err != nil {
		if kernel.IsUnavailable(err) {
			return nil, nil, fmt.Errorf("%w: %w", errNoIPVS, err)
		}
		return nil, nil, fmt.Errorf("opening IPVS: %w", err)
	}
	closeFn := func() error { return nil }
	if c, ok := k.(io.Closer); ok {
		closeFn = c.Close
	}
	return k, closeFn, nil
}

// openIPVS opens IPVS and builds the reconciler and the manager on it,
// with the global settings of the configuration lbd started with (a reload
// cannot change them).
func (d *Daemon) openIPVS() (*ipvsPart, error) {
	k, closeFn, err := d.openKernel()
	if err != nil {
		return nil, err
	}
	g := d.loaded.Global
	rec, err := director.NewReconciler(director.ReconcilerConfig{
		Kernel: k, Logger: d.log, Purge: g.PurgeUnmanaged,
		Store:   director.FileStore{Path: filepath.Join(g.StateDir, "ipvs-managed.json")},
		Sysctls: d.opts.Sysctls,
	})
	if err != nil {
		_ = closeFn()
		return nil, fmt.Errorf("starting the reconciler: %w", err)
	}
	mgr := director.NewManager(director.ManagerConfig{Reconciler: rec, Logger: d.log, OnQuorumChange: d.onQuorum})
	servers, _ := d.ovr.snapshot()
	mgr.RestoreOverrides(servers)
	return &ipvsPart{kern: k, close: closeFn, rec: rec, mgr: mgr}, nil
}

// startIPVS opens IPVS for a start whose configuration needs it, or when
// the state directory remembers services lbd put in the table (so that the
// removal guard sees them go). A kernel without IPVS is an error only when
// the configuration needs it: without IPVS no remembered service can be
// there.
func (d *Daemon) startIPVS() error {
	need := NeedsIPVS(d.loaded)
	if !need {
		keys, err := director.FileStore{Path: filepath.Join(d.loaded.Global.StateDir, "ipvs-managed.json")}.Load()
		if err == nil && len(keys) == 0 {
			return nil
		}
	}
	p, err := d.openIPVS()
	if err != nil {
		if !need && errors.Is(err, errNoIPVS) {
			d.log.Info("the state directory lists IPVS services lbd managed, but this kernel has no IPVS", "err", err)
			return nil
		}
		return err
	}
	d.ipvs = p
	return nil
}

// runResync starts p's resync loop (every global.resync_interval).
func (d *Daemon) runResync(ctx context.Context, p *ipvsPart) {
	ctx, p.stop = context.WithCancel(ctx)
	p.done = make(chan struct{})
	interval := d.loaded.Global.ResyncInterval
	d.opts.Go(func() {
		defer close(p.done)
		p.rec.Run(ctx, interval, nil)
	})
}

// ipvsFor returns the IPVS half an apply to next works with: the one in
// force, or one opened now because next is the first configuration to need
// it (opened true: the apply starts its resync loop or, refused, closes
// it). Nil means VRRP-only mode. A reload that needs IPVS on a kernel
// without it is refused here, before anything changes.
func (d *Daemon) ipvsFor(next *config.Director) (p *ipvsPart, opened bool, err error) {
	if p := d.ipvsNow(); p != nil || !NeedsIPVS(next) {
		return p, false, nil
	}
	p, err = d.openIPVS()
	if err != nil {
		return nil, false, err
	}
	return p, true, nil
}

// closeIPVS stops p's resync loop and closes IPVS; the reconciler's
// counters are kept for the metrics and the status. d.applyMu is held
// (or Run is ending).
func (d *Daemon) closeIPVS(p *ipvsPart) {
	p.mgr.Stop() // no slow-start step after this
	if p.stop != nil {
		p.stop()
		<-p.done
	}
	w, r := p.rec.Counters()
	d.mu.Lock()
	if d.ipvs == p {
		d.ipvs = nil
	}
	d.pastWrites += w
	d.pastRepairs += r
	d.mu.Unlock()
	if err := p.close(); err != nil {
		d.log.Warn("closing IPVS", "err", err)
	}
}

// counters are the reconciler's writes and repairs since lbd started, over
// every time IPVS was open.
func (d *Daemon) counters() (writes, repairs uint64) {
	d.mu.Lock()
	p, w, r := d.ipvs, d.pastWrites, d.pastRepairs
	d.mu.Unlock()
	if p != nil {
		pw, pr := p.rec.Counters()
		w, r = w+pw, r+pr
	}
	return w, r
}

// warnIgnoredSettings says that the ipvs section's settings are not
// applied in VRRP-only mode.
func (d *Daemon) warnIgnoredSettings(next *config.Director) {
	s := SettingsFromConfig(next.IPVS)
	if s.Timeouts == (director.Settings{}).Timeouts && len(s.Sysctls) == 0 {
		return
	}
	names := make([]string, 0, len(s.Sysctls))
	for _, sc := range s.Sysctls {
		names = append(names, sc.Name)
	}
	d.log.Warn("ipvs settings not applied: lbd runs VRRP only (no virtual_servers); they take effect with the first virtual server",
		"timeouts_set", s.Timeouts != (director.Settings{}).Timeouts, "sysctls", names)
}
