package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	bgppkt "github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

// connectRetry is how often an idle session tries to connect again.
const connectRetry = 3 * time.Second

// GoBGP is the Speaker over GoBGP embedded as a library (no gRPC
// listener). A new BgpServer is made by each Start.
type GoBGP struct {
	// Logger receives GoBGP's own logs (at Level); nil discards them.
	Logger *slog.Logger
	Level  *slog.LevelVar

	mu     sync.Mutex
	srv    *server.BgpServer
	cancel context.CancelFunc // the peer watch

	// peerOps serializes adding and deleting peers (AddPeer, DeletePeer
	// and the BFD renewal); pmu guards the maps.
	peerOps  sync.Mutex
	pmu      sync.Mutex
	bfdPeers map[netip.Addr]Peer // the peers added with BFD
	up       map[netip.Addr]bool // established, as last seen
}

func (g *GoBGP) server() (*server.BgpServer, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv == nil {
		return nil, errors.New("BGP speaker not started")
	}
	return g.srv, nil
}

// Start implements Speaker.
func (g *GoBGP) Start(ctx context.Context, gl Global) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv != nil {
		return errors.New("BGP speaker already started")
	}
	var opts []server.ServerOption
	if g.Logger != nil {
		opts = append(opts, server.LoggerOption(g.Logger, g.Level))
	}
	s := server.NewBgpServer(opts...)
	go s.Serve()
	port := int32(-1) // GoBGP v4: -1 = no listener
	if gl.ListenPort != 0 {
		port = int32(gl.ListenPort)
	}
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{Asn: gl.ASN, RouterId: gl.RouterID.String(), ListenPort: port}}); err != nil {
		s.Stop()
		return fmt.Errorf("gobgp start: %w", err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	g.pmu.Lock()
	g.bfdPeers, g.up = map[netip.Addr]Peer{}, map[netip.Addr]bool{}
	g.pmu.Unlock()
	if err := g.watchPeers(wctx, s); err != nil {
		cancel()
		_ = s.StopBgp(ctx, &api.StopBgpRequest{})
		return fmt.Errorf("gobgp watch peers: %w", err)
	}
	g.srv, g.cancel = s, cancel
	return nil
}

// Stop implements Speaker: every peer gets a Cease notification.
func (g *GoBGP) Stop(ctx context.Context) error {
	g.mu.Lock()
	s, cancel := g.srv, g.cancel
	g.srv, g.cancel = nil, nil
	g.mu.Unlock()
	if s == nil {
		return nil
	}
	cancel()
	if err := s.StopBgp(ctx, &api.StopBgpRequest{}); err != nil {
		return fmt.Errorf("gobgp stop: %w", err)
	}
	return nil
}

func families() []*api.AfiSafi {
	var out []*api.AfiSafi
	for _, afi := range []api.Family_Afi{api.Family_AFI_IP, api.Family_AFI_IP6} {
		out = append(out, &api.AfiSafi{Config: &api.AfiSafiConfig{Enabled: true,
			Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}}})
	}
	return out
}

// AddPeer implements Speaker.
func (g *GoBGP) AddPeer(ctx context.Context, p Peer) error {
	s, err := g.server()
	if err != nil {
		return err
	}
	g.peerOps.Lock()
	defer g.peerOps.Unlock()
	return g.addPeer(ctx, s, p)
}

func (g *GoBGP) addPeer(ctx context.Context, s *server.BgpServer, p Peer) error {
	ap := &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.ASN, AuthPassword: p.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{ConnectRetry: uint64(connectRetry / time.Second),
			HoldTime: uint64(p.HoldTime / time.Second), KeepaliveInterval: uint64(p.Keepalive / time.Second)}},
		Transport: &api.Transport{RemotePort: uint32(p.Port)},
		AfiSafis:  families(),
	}
	if p.BFD.Enabled {
		ap.Bfd = &api.BfdPeerConfig{Enabled: true, DesiredMinimumTxInterval: uint32(p.BFD.MinTx / time.Microsecond),
			RequiredMinimumReceive: uint32(p.BFD.MinRx / time.Microsecond), DetectionMultiplier: uint32(p.BFD.Multiplier)}
	}
	if p.MultihopTTL > 0 {
		ap.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: uint32(p.MultihopTTL)}
	}
	if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: ap}); err != nil {
		return fmt.Errorf("gobgp add peer %s: %w", p.Address, err)
	}
	if p.BFD.Enabled {
		g.pmu.Lock()
		g.bfdPeers[p.Address] = p
		g.pmu.Unlock()
	}
	return nil
}

// DeletePeer implements Speaker.
func (g *GoBGP) DeletePeer(ctx context.Context, a netip.Addr) error {
	s, err := g.server()
	if err != nil {
		return err
	}
	g.peerOps.Lock()
	defer g.peerOps.Unlock()
	return g.deletePeer(ctx, s, a)
}

func (g *GoBGP) deletePeer(ctx context.Context, s *server.BgpServer, a netip.Addr) error {
	g.pmu.Lock()
	delete(g.bfdPeers, a)
	delete(g.up, a)
	g.pmu.Unlock()
	if err := s.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()}); err != nil {
		return fmt.Errorf("gobgp delete peer %s: %w", a, err)
	}
	return nil
}

// path builds GoBGP's path for r (withdraw: the same NLRI and next hop).
func path(r Route) (*apiutil.Path, error) {
	nlri, err := bgppkt.NewIPAddrPrefix(r.Prefix)
	if err != nil {
		return nil, fmt.Errorf("prefix %s: %w", r.Prefix, err)
	}
	attrs := []bgppkt.PathAttributeInterface{bgppkt.NewPathAttributeOrigin(bgppkt.BGP_ORIGIN_ATTR_TYPE_IGP)}
	family := bgppkt.RF_IPv4_UC
	if r.Prefix.Addr().Is4() {
		nh, err := bgppkt.NewPathAttributeNextHop(netip.IPv4Unspecified()) // the session's own address
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, nh)
	} else {
		family = bgppkt.RF_IPv6_UC
		mp, err := bgppkt.NewPathAttributeMpReachNLRI(family, []bgppkt.PathNLRI{{NLRI: nlri}}, netip.IPv6Unspecified())
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, mp)
	}
	if r.MED != nil {
		attrs = append(attrs, bgppkt.NewPathAttributeMultiExitDisc(*r.MED))
	}
	if len(r.Communities) > 0 {
		attrs = append(attrs, bgppkt.NewPathAttributeCommunities(r.Communities))
	}
	return &apiutil.Path{Family: family, Nlri: nlri, Attrs: attrs, Age: time.Now().Unix()}, nil
}

// Announce implements Speaker.
func (g *GoBGP) Announce(_ context.Context, r Route) error {
	s, err := g.server()
	if err != nil {
		return err
	}
	p, err := path(r)
	if err != nil {
		return err
	}
	if _, err := s.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("gobgp add path %s: %w", r.Prefix, err)
	}
	return nil
}

// Withdraw implements Speaker.
func (g *GoBGP) Withdraw(_ context.Context, pfx netip.Prefix) error {
	s, err := g.server()
	if err != nil {
		return err
	}
	p, err := path(Route{Prefix: pfx})
	if err != nil {
		return err
	}
	if err := s.DeletePath(apiutil.DeletePathRequest{Paths: []*apiutil.Path{p}}); err != nil {
		return fmt.Errorf("gobgp delete path %s: %w", pfx, err)
	}
	return nil
}

// Peers implements Speaker.
func (g *GoBGP) Peers(ctx context.Context) ([]PeerStatus, error) {
	s, err := g.server()
	if err != nil {
		return nil, err
	}
	var out []PeerStatus
	err = s.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		ps := PeerStatus{State: "unknown"}
		if c := p.GetConf(); c != nil {
			ps.Address, _ = netip.ParseAddr(c.NeighborAddress)
			ps.ASN = c.PeerAsn
		}
		if st := p.GetState(); st != nil && st.SessionState != api.PeerState_SESSION_STATE_UNSPECIFIED {
			ps.State = strings.ToLower(strings.TrimPrefix(st.SessionState.String(), "SESSION_STATE_"))
		}
		if bs := p.GetState().GetBfdState(); bs != nil && bs.SessionState != api.BfdSessionState_BFD_SESSION_STATE_UNSPECIFIED {
			ps.BFD = strings.ToLower(strings.TrimPrefix(bs.SessionState.String(), "BFD_SESSION_STATE_"))
		}
		if ts := p.GetTimers().GetState(); ts != nil && ps.State == Established {
			ps.HoldTime = time.Duration(ts.NegotiatedHoldTime) * time.Second
			if ts.Uptime != nil {
				ps.Since = ts.Uptime.AsTime()
			}
		}
		out = append(out, ps)
	})
	if err != nil {
		return nil, fmt.Errorf("gobgp list peers: %w", err)
	}
	return out, nil
}
