package bgp

import (
	"context"
	"time"

	"github.com/osrg/gobgp/v4/pkg/apiutil"
	bgppkt "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// The BFD renewal (a workaround for GoBGP v4.8.0).
//
// When GoBGP's BFD session to a peer expires it resets the BGP session with
// a Cease notification. GoBGP queues that notification in the session's
// one-slot channel, which only an established session reads: if the BGP
// session is already down (bird2 closes it itself when its own BFD session
// goes down, as it does for a frozen or dead director), the notification
// waits and kills the next session the moment it is established. bird2 then
// drops its BFD session and starts a new one with a new discriminator,
// which GoBGP's (still up, bound to the old one) rejects, expires again, and
// queues the next reset: the session never comes back (seen in
// TestNetnsBGPBFD). Deleting and adding the peer again whenever its
// established session ends clears the queued notification and starts a
// fresh BFD session; the peer then reconnects as a new one would.

// watchPeers follows the peers' session states for the renewal.
func (g *GoBGP) watchPeers(ctx context.Context, s *server.BgpServer) error {
	return s.WatchEvent(ctx, server.WatchEventMessageCallbacks{OnPeerUpdate: g.onPeer}, server.WatchPeer())
}

func (g *GoBGP) onPeer(ev *apiutil.WatchEventMessage_PeerEvent, _ time.Time) {
	if ev.Type != apiutil.PEER_EVENT_STATE {
		return
	}
	addr := ev.Peer.State.NeighborAddress.Unmap()
	up := ev.Peer.State.SessionState == bgppkt.BGP_FSM_ESTABLISHED
	g.pmu.Lock()
	was := g.up[addr]
	g.up[addr] = up
	p, bfd := g.bfdPeers[addr]
	g.pmu.Unlock()
	if was && !up && bfd {
		go g.renew(p) // not from the watcher's goroutine
	}
}

// renew deletes and adds p again, unless it was changed or deleted since.
func (g *GoBGP) renew(p Peer) {
	g.peerOps.Lock()
	defer g.peerOps.Unlock()
	g.pmu.Lock()
	cur, ok := g.bfdPeers[p.Address]
	g.pmu.Unlock()
	s, err := g.server()
	if !ok || cur != p || err != nil {
		return
	}
	ctx := context.Background()
	if err := g.deletePeer(ctx, s, p.Address); err != nil {
		g.logRenew(p, err)
		return
	}
	if err := g.addPeer(ctx, s, p); err != nil {
		g.logRenew(p, err)
	}
}

func (g *GoBGP) logRenew(p Peer, err error) {
	if g.Logger != nil {
		g.Logger.Warn("renewing a BFD peer after its session ended", "peer", p.Address, "err", err)
	}
}
