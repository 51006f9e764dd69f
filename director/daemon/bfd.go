package daemon

import (
	"context"
	"net/netip"

	"github.com/lvsd/lb/bfd"
	"github.com/lvsd/lb/vrrp"
)

// bfdMonitor is the daemon's one BFD runner (UDP port 3784 is the
// process's), shared by every VRRP router with a bfd instance: vrrp's
// PeerMonitor. It starts with the first such instance and runs until lbd
// stops, across reloads.
type bfdMonitor struct {
	r      *bfd.Runner
	cancel context.CancelFunc
	done   chan struct{}
}

// peerMonitor returns the BFD runner for a component with a bfd instance
// (starting it if need be; nil if it cannot open its sockets: the
// instances then run on VRRP's timers, logged), nil for one without.
func (d *Daemon) peerMonitor(s vrrp.Set) vrrp.PeerMonitor {
	var passive *vrrp.BFDConfig
	for _, in := range s.Instances {
		if in.BFD != nil {
			passive = in.BFD
			break
		}
	}
	if passive == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bfd == nil {
		m, err := d.startBFD()
		if err != nil {
			d.log.Error("bfd: cannot start, VRRP's timers alone detect a master's failure", "err", err)
			return nil
		}
		d.bfd = m
	}
	// Peers that start a session (a backup that watches this master) are
	// answered with the timing of the last component started.
	d.bfd.r.SetPassive(timing(*passive))
	return d.bfd
}

// startBFD opens the sockets and runs the runner in a goroutine of Go (so
// in its namespace). d.mu is held.
func (d *Daemon) startBFD() (*bfdMonitor, error) {
	open := d.opts.BFDConn
	if open == nil {
		open = func() (bfd.Conn, error) { return bfd.ListenUDP() }
	}
	type opened struct {
		c   bfd.Conn
		err error
	}
	ch := make(chan opened, 1)
	ctx, cancel := context.WithCancel(context.Background())
	m := &bfdMonitor{cancel: cancel, done: make(chan struct{})}
	ready := make(chan struct{})
	d.opts.Go(func() {
		defer close(m.done)
		c, err := open()
		ch <- opened{c, err}
		if err != nil {
			return
		}
		<-ready
		_ = m.r.Run(ctx)
	})
	o := <-ch
	if o.err != nil {
		cancel()
		return nil, o.err
	}
	m.r = bfd.NewRunner(o.c, bfd.RunnerOptions{Logger: d.log})
	close(ready)
	return m, nil
}

// stopBFD stops the runner (after the routers: its peers hear AdminDown,
// which is no failure to them).
func (d *Daemon) stopBFD() {
	d.mu.Lock()
	m := d.bfd
	d.bfd = nil
	d.mu.Unlock()
	if m != nil {
		m.cancel()
		<-m.done
	}
}

// bfdDrops counts the BFD packets the runner dropped, by reason (the
// metrics' lbd_bfd_drops_total); nil before a bfd instance started it.
func (d *Daemon) bfdDrops() map[string]uint64 {
	d.mu.Lock()
	m := d.bfd
	d.mu.Unlock()
	if m == nil {
		return nil
	}
	out := map[string]uint64{}
	for r, n := range m.r.Drops() {
		out[string(r)] = n
	}
	return out
}

func timing(c vrrp.BFDConfig) bfd.Timing {
	return bfd.Timing{Interval: c.Interval, DetectMult: uint8(c.Multiplier)}
}

// Watch implements vrrp.PeerMonitor: a session that leaves Up by the
// detection time's expiry is the peer's failure.
func (m *bfdMonitor) Watch(local, peer netip.Addr, c vrrp.BFDConfig, fn func(vrrp.PeerEvent)) func() {
	return m.r.Watch(local, peer, timing(c), func(ch bfd.Change) {
		fn(vrrp.PeerEvent{
			Peer: ch.Peer, State: ch.To.String(), Up: ch.To == bfd.StateUp, At: ch.At,
			Failed: ch.From == bfd.StateUp && ch.To == bfd.StateDown && ch.Diag == bfd.DiagDetectExpired,
		})
	})
}
