package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Config is what the controller keeps the speaker at.
type Config struct {
	Global      Global
	Peers       []Peer
	Communities []uint32 // on every announced route
	MED         *uint32
}

// Controller keeps a Speaker at a Config and a Decision: it starts the
// speaker, adds and removes peers as the configuration changes (a changed
// global identity restarts the speaker), and announces and withdraws so
// that what is announced is what the last decision says. Safe for
// concurrent use; calls are serialized.
type Controller struct {
	sp  Speaker
	log *slog.Logger

	mu        sync.Mutex
	cfg       *Config // in force; nil before Configure or after Stop
	decision  Decision
	announced map[netip.Prefix]Route
	since     map[netip.Prefix]time.Time // when each prefix was last announced or withdrawn
	counts    map[Reason]uint64          // withdrawals by reason
}

// NewController returns a controller over sp; nothing runs before Configure.
func NewController(sp Speaker, log *slog.Logger) *Controller {
	if log == nil {
		log = slog.Default()
	}
	return &Controller{sp: sp, log: log, announced: map[netip.Prefix]Route{}, since: map[netip.Prefix]time.Time{},
		counts: map[Reason]uint64{}}
}

// Configure brings the speaker to cfg: started on the first call (and
// restarted, routes re-announced, when the global identity changes),
// peers added, removed or re-added when they changed, and every route
// re-announced when its attributes changed.
func (c *Controller) Configure(ctx context.Context, cfg Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.cfg
	if old != nil && old.Global != cfg.Global {
		c.log.Info("bgp identity changed: restarting the speaker", "asn", cfg.Global.ASN, "router_id", cfg.Global.RouterID)
		if err := c.sp.Stop(ctx); err != nil {
			c.log.Warn("bgp speaker stop", "err", err)
		}
		old = nil
		clear(c.announced)
	}
	if old == nil {
		if err := c.sp.Start(ctx, cfg.Global); err != nil {
			return fmt.Errorf("starting the BGP speaker: %w", err)
		}
		c.cfg = &Config{Global: cfg.Global}
		old = c.cfg
	}
	errs := c.syncPeers(ctx, old.Peers, cfg.Peers)
	attrsChanged := !slices.Equal(old.Communities, cfg.Communities) || !equalMED(old.MED, cfg.MED)
	c.cfg = &cfg
	if attrsChanged {
		clear(c.announced) // re-announced below with the new attributes
	}
	errs = append(errs, c.apply(ctx))
	return errors.Join(errs...)
}

// syncPeers deletes the peers gone or changed and adds the new and changed.
func (c *Controller) syncPeers(ctx context.Context, old, next []Peer) []error {
	var errs []error
	byAddr := map[netip.Addr]Peer{}
	for _, p := range next {
		byAddr[p.Address] = p
	}
	kept := map[netip.Addr]bool{}
	for _, p := range old {
		if n, ok := byAddr[p.Address]; ok && n == p {
			kept[p.Address] = true
			continue
		}
		if err := c.sp.DeletePeer(ctx, p.Address); err != nil {
			errs = append(errs, fmt.Errorf("removing BGP peer %s: %w", p.Address, err))
		}
	}
	for _, p := range next {
		if kept[p.Address] {
			continue
		}
		if err := c.sp.AddPeer(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("adding BGP peer %s: %w", p.Address, err))
			continue
		}
		c.log.Info("bgp peer added", "peer", p.Address, "asn", p.ASN, "hold_time", p.HoldTime)
	}
	return errs
}

func equalMED(a, b *uint32) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// Apply makes what is announced follow d.
func (c *Controller) Apply(ctx context.Context, d Decision) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.decision = d
	if c.cfg == nil {
		return nil // applied by Configure
	}
	return c.apply(ctx)
}

// apply announces what the decision says and withdraws the rest. c.mu is held.
func (c *Controller) apply(ctx context.Context) error {
	var errs []error
	now := time.Now()
	for p := range c.announced {
		if slices.Contains(c.decision.Announce, p) {
			continue
		}
		why := c.decision.Withdrawn[p]
		if why == "" {
			why = "not configured"
		}
		if err := c.sp.Withdraw(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("withdrawing %s: %w", p, err))
			continue
		}
		delete(c.announced, p)
		c.since[p] = now
		c.counts[why]++
		c.log.Warn("bgp route withdrawn", "prefix", p.String(), "reason", string(why))
	}
	for _, p := range c.decision.Announce {
		if _, ok := c.announced[p]; ok {
			continue
		}
		r := Route{Prefix: p, Communities: c.cfg.Communities, MED: c.cfg.MED}
		if err := c.sp.Announce(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("announcing %s: %w", p, err))
			continue
		}
		c.announced[p] = r
		c.since[p] = now
		c.log.Info("bgp route announced", "prefix", p.String())
	}
	return errors.Join(errs...)
}

// Stop withdraws nothing by itself (call Apply with a stopping decision
// first, for a graceful stop) and closes the speaker and its sessions.
func (c *Controller) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg == nil {
		return nil
	}
	c.cfg = nil
	clear(c.announced)
	return c.sp.Stop(ctx)
}

// Status is the controller's view: peers, and every configured prefix
// announced or withdrawn with its reason.
type Status struct {
	Peers    []PeerStatus   `json:"peers"`
	Prefixes []PrefixStatus `json:"prefixes"`
	// Withdrawals counts the withdrawals so far by reason.
	Withdrawals map[Reason]uint64 `json:"withdrawals,omitempty"`
}

// PrefixStatus is one prefix's state.
type PrefixStatus struct {
	Prefix    netip.Prefix `json:"prefix"`
	Announced bool         `json:"announced"`
	Reason    Reason       `json:"reason,omitempty"` // why it is not announced
	Since     time.Time    `json:"since,omitzero"`
}

// Status reads the peers from the speaker and the prefixes from the
// controller's state.
func (c *Controller) Status(ctx context.Context) (Status, error) {
	c.mu.Lock()
	var st Status
	for _, p := range c.decision.Announce {
		_, ok := c.announced[p]
		ps := PrefixStatus{Prefix: p, Announced: ok, Since: c.since[p]}
		if !ok {
			ps.Reason = "announce failed"
		}
		st.Prefixes = append(st.Prefixes, ps)
	}
	for _, p := range slices.SortedFunc(maps.Keys(c.decision.Withdrawn), func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) }) {
		st.Prefixes = append(st.Prefixes, PrefixStatus{Prefix: p, Reason: c.decision.Withdrawn[p], Since: c.since[p]})
	}
	st.Withdrawals = maps.Clone(c.counts)
	running := c.cfg != nil
	c.mu.Unlock()
	if !running {
		return st, nil
	}
	peers, err := c.sp.Peers(ctx)
	st.Peers = peers
	return st, err
}
