package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lvsd/lb/bgp"
	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/config"
)

// bgpRecheck bounds how long a readiness change the daemon was not told
// about (a service programmed after a failed apply) waits to be announced.
const bgpRecheck = time.Second

// bgpSettle is how long a VIP must stay ready (programmed, quorum up)
// before it is announced: quorum comes back with the first real server
// whose check passes, and the others' checks of the same round (they start
// together) report within moments; announced at once, the director would
// take flows with a table the other directors do not have (seen in the VM:
// announced with no real server yet, then one: a flow the route moved to
// it mid-flight went to another real server and was reset).
const bgpSettle = time.Second

// bgpState is the BGP half (issue 16): the controller while the file has
// a bgp section, the VIPs lbd put on their device, and whether lbd is
// stopping. Its own lock: the announcer runs from health callbacks too.
type bgpState struct {
	mu       sync.Mutex
	ctl      *bgp.Controller
	drain    time.Duration
	stopping bool
	draining bool
	routerID netip.Addr               // in force (the file's, or the host's default)
	added    map[netip.Prefix]string  // VIP -> the device lbd added it to
	ready    map[netip.Addr]time.Time // VIP -> since when it has been ready (bgpSettle)
	kick     chan struct{}
}

func newBGPState() *bgpState {
	return &bgpState{added: map[netip.Prefix]string{}, ready: map[netip.Addr]time.Time{}, kick: make(chan struct{}, 1)}
}

// kickBGP asks the announcer loop to decide again (non-blocking).
func (d *Daemon) kickBGP() {
	select {
	case d.bgp.kick <- struct{}{}:
	default:
	}
}

// runBGP re-decides on every kick and every bgpRecheck until ctx ends.
func (d *Daemon) runBGP(ctx context.Context) {
	t := time.NewTicker(bgpRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.bgp.kick:
		}
		d.announce(ctx)
	}
}

// bgpConfig translates the bgp section; the router id defaults to the
// host's first global IPv4 address that is not announced.
func bgpConfig(b *config.BGP, vips []netip.Addr, hostAddrs func() ([]netip.Addr, error)) (bgp.Config, error) {
	c := bgp.Config{Global: bgp.Global{ASN: b.ASN, RouterID: b.RouterID, ListenPort: b.ListenPort}, MED: b.MED}
	if !c.Global.RouterID.IsValid() {
		id, err := defaultRouterID(vips, hostAddrs)
		if err != nil {
			return c, err
		}
		c.Global.RouterID = id
	}
	for _, s := range b.Communities {
		v, err := config.ParseCommunity(s)
		if err != nil {
			return c, err
		}
		c.Communities = append(c.Communities, v)
	}
	for _, p := range b.Peers {
		c.Peers = append(c.Peers, bgp.Peer{Address: p.Address, ASN: p.ASN, Port: p.Port, Password: p.Password,
			HoldTime: p.HoldTime, Keepalive: p.Keepalive, MultihopTTL: p.MultihopTTL, BFD: bfdOf(p.BFD)})
	}
	return c, nil
}

// bfdOf is a peer's BFD settings for the speaker (none: disabled).
func bfdOf(f *config.BGPBFD) bgp.BFD {
	if f == nil || !f.Enabled {
		return bgp.BFD{}
	}
	return bgp.BFD{Enabled: true, MinRx: f.MinRx, MinTx: f.MinTx, Multiplier: f.Multiplier}
}

func defaultRouterID(vips []netip.Addr, hostAddrs func() ([]netip.Addr, error)) (netip.Addr, error) {
	addrs, err := hostAddrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bgp.router_id: reading the host's addresses: %w", err)
	}
	vip := map[netip.Addr]bool{}
	for _, v := range vips {
		vip[v] = true
	}
	for _, a := range addrs {
		if a.Is4() && a.IsGlobalUnicast() && !vip[a] {
			return a, nil
		}
	}
	return netip.Addr{}, errors.New("bgp.router_id: not set and the host has no global IPv4 address to take it from")
}

// interfaceAddrs lists the host's addresses in interface order.
func interfaceAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// applyBGP is apply's last step: start, reconfigure or stop the speaker
// for next, put the announced VIPs on their device (and take off those
// lbd put there that are no longer announced), then decide. Only what
// changed is touched (the Controller diffs peers and routes).
func (d *Daemon) applyBGP(ctx context.Context, next *config.Director, start bool) error {
	b := d.bgp
	if next.BGP == nil {
		d.closeBGP(ctx)
		return nil
	}
	if start {
		for _, w := range next.Warnings {
			d.log.Warn("configuration", "warning", w.Error())
		}
	}
	vips := next.AnnouncedVIPs()
	bc, err := bgpConfig(next.BGP, vips, interfaceAddrs)
	if err != nil {
		return err
	}
	b.mu.Lock()
	if b.ctl == nil {
		b.ctl = bgp.NewController(d.opts.BGPSpeaker(d.log), d.log)
	}
	b.drain = next.BGP.DrainPeriod
	b.routerID = bc.Global.RouterID
	ctl := b.ctl
	b.mu.Unlock()
	d.syncVIPs(next.BGP.VIPDevice, vips)
	if err := ctl.Configure(ctx, bc); err != nil {
		if start {
			return err
		}
		d.log.Error("bgp", "err", err)
	}
	d.announce(ctx)
	return nil
}

// syncVIPs puts each VIP on dev and removes those lbd added that are not
// announced any more (or moved to another device).
func (d *Daemon) syncVIPs(dev string, vips []netip.Addr) {
	b := d.bgp
	b.mu.Lock()
	defer b.mu.Unlock()
	want := map[netip.Prefix]bool{}
	for _, v := range vips {
		want[bgp.Prefix(v)] = true
	}
	for p, on := range b.added {
		if !want[p] || on != dev {
			if err := d.opts.BGPAddrs.Remove(on, p); err != nil {
				d.log.Warn("bgp: removing a VIP", "vip", p.String(), "device", on, "err", err)
			}
			delete(b.added, p)
		}
	}
	for p := range want {
		if _, ok := b.added[p]; ok {
			continue
		}
		added, err := d.opts.BGPAddrs.Add(dev, p)
		if err != nil {
			d.log.Error("bgp: putting a VIP on its device", "vip", p.String(), "device", dev, "err", err)
			continue
		}
		if added {
			b.added[p] = dev
		}
	}
}

// announce decides from the readiness of each announced VIP and applies
// the decision.
func (d *Daemon) announce(ctx context.Context) {
	b := d.bgp
	b.mu.Lock()
	ctl, stopping, draining := b.ctl, b.stopping, b.draining
	b.mu.Unlock()
	if ctl == nil {
		return
	}
	cfg := d.Config()
	vips := vipReadiness(cfg, d.ipvsNow())
	d.settle(vips, time.Now())
	in := bgp.Input{Stopping: stopping, Draining: draining, VIPs: vips}
	if err := ctl.Apply(ctx, bgp.Decide(in)); err != nil {
		d.log.Error("bgp", "err", err)
	}
}

// settle marks Settling each VIP ready for less than bgpSettle (and asks
// for a decision when that time is up); a VIP not ready starts again.
func (d *Daemon) settle(vips []bgp.VIP, now time.Time) {
	b := d.bgp
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range vips {
		v := &vips[i]
		if !v.Programmed || !v.QuorumUp {
			delete(b.ready, v.Addr)
			continue
		}
		since, ok := b.ready[v.Addr]
		if !ok {
			since = now
			b.ready[v.Addr] = now
			time.AfterFunc(bgpSettle, d.kickBGP)
		}
		v.Settling = now.Sub(since) < bgpSettle
	}
}

// vipReadiness is each announced VIP's readiness: programmed when every
// service at the address is in the last applied table and no write of it
// is pending; quorum up when every one has its quorum. A VIP with no
// service (not possible in a valid file) is neither.
func vipReadiness(cfg *config.Director, p *ipvsPart) []bgp.VIP {
	var applied table.Table
	var have bool
	var pending map[table.ServiceKey]bool
	var desired director.Desired
	if p != nil {
		applied, have = p.rec.Desired()
		pending = map[table.ServiceKey]bool{}
		for _, op := range p.rec.Last().Pending {
			pending[op.Service.Key()] = true
		}
		desired = p.mgr.Desired()
	}
	quorum := desired.QuorumStates()
	var out []bgp.VIP
	for _, a := range cfg.AnnouncedVIPs() {
		v := bgp.VIP{Addr: a, Programmed: have, QuorumUp: true}
		n := 0
		for i := range cfg.VirtualServers {
			vs := &cfg.VirtualServers[i]
			if vs.Address != a {
				continue
			}
			n++
			k := ServiceKeyOf(vs).Normalize()
			got, ok := applied.Find(k)
			want, _ := desired.Table.Find(k)
			if !ok || pending[k] || !sameDestinations(got, want) {
				v.Programmed = false
			}
			if up, ok := quorum[k]; !ok || !up {
				v.QuorumUp = false
			}
		}
		if n == 0 {
			v.Programmed, v.QuorumUp = false, false
		}
		out = append(out, v)
	}
	return out
}

// holdAnnounced gives each service at an announced VIP drain_period as its
// quorum-loss hold (specs are in the order of cfg's virtual servers): when
// it loses quorum its VIP is withdrawn at once and its last real servers
// still serve what the routers send here until they have moved the flows
// away; removed at once, a new connection that still came here found no
// real server and was refused.
func holdAnnounced(specs []director.ServiceSpec, cfg *config.Director) {
	if cfg.BGP == nil {
		return
	}
	vips := cfg.AnnouncedVIPs()
	for i := range specs {
		if i < len(cfg.VirtualServers) && slices.Contains(vips, cfg.VirtualServers[i].Address) {
			specs[i].QuorumLossHold = cfg.BGP.DrainPeriod
		}
	}
}

// sameDestinations: the service applied has the manager's latest
// destinations and weights (a health change is written just after the
// quorum callback that asks for a decision).
func sameDestinations(applied, latest table.Service) bool {
	return slices.EqualFunc(applied.Destinations, latest.Destinations, func(a, b table.Destination) bool {
		return a.Key() == b.Key() && a.Weight == b.Weight
	})
}

// withdrawForStop is the first step of a graceful stop: withdraw every
// route, then wait drain_period while the routers move the flows away.
func (d *Daemon) withdrawForStop(ctx context.Context) {
	b := d.bgp
	b.mu.Lock()
	b.stopping = true
	running, drain := b.ctl != nil, b.drain
	b.mu.Unlock()
	if !running {
		return
	}
	start := time.Now()
	d.announce(ctx)
	d.log.Info("bgp: routes withdrawn for the stop; draining", "drain_period", drain, "took", time.Since(start))
	select {
	case <-time.After(drain):
	case <-ctx.Done():
	}
}

// closeBGP stops the speaker (its sessions end with a Cease) and takes off
// the VIPs lbd put on their device. Idempotent.
func (d *Daemon) closeBGP(ctx context.Context) {
	b := d.bgp
	b.mu.Lock()
	ctl := b.ctl
	b.ctl = nil
	b.mu.Unlock()
	if ctl != nil {
		// Withdraw first: a reload that drops the bgp section leaves no route behind.
		if err := ctl.Apply(ctx, bgp.Decision{}); err != nil {
			d.log.Warn("bgp: withdrawing", "err", err)
		}
		if err := ctl.Stop(ctx); err != nil {
			d.log.Warn("bgp: stopping the speaker", "err", err)
		}
		d.log.Info("bgp speaker stopped")
	}
	d.syncVIPs("", nil)
}

// bgpStatus is the controller's status, nil without BGP.
func (d *Daemon) bgpStatus(ctx context.Context) (*bgp.Status, error) {
	d.bgp.mu.Lock()
	ctl := d.bgp.ctl
	d.bgp.mu.Unlock()
	if ctl == nil {
		return nil, nil
	}
	st, err := ctl.Status(ctx)
	return &st, err
}

// defaultSpeaker is GoBGP embedded, its logs at warn and above in lbd's.
func defaultSpeaker(log *slog.Logger) bgp.Speaker {
	lv := &slog.LevelVar{}
	lv.Set(slog.LevelWarn)
	return &bgp.GoBGP{Logger: log.With("component", "gobgp"), Level: lv}
}
