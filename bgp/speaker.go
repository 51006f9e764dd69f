package bgp

import (
	"context"
	"net/netip"
	"time"
)

// Global is the speaker's own identity.
type Global struct {
	ASN      uint32
	RouterID netip.Addr // IPv4
	// ListenPort: 0 = do not listen (connect out only).
	ListenPort uint16
}

// Peer is one upstream router.
type Peer struct {
	Address     netip.Addr
	ASN         uint32
	Port        uint16 // 0 = 179
	Password    string // TCP MD5; "" = none
	HoldTime    time.Duration
	Keepalive   time.Duration
	MultihopTTL int // 0 = directly connected
	BFD         BFD
}

// BFD is a peer's BFD session (RFC 5880/5881, single hop): when the peer's
// packets stop for Multiplier intervals the BGP session is dropped.
type BFD struct {
	Enabled      bool
	MinRx, MinTx time.Duration
	Multiplier   int
}

// Route is one announced prefix with its attributes.
type Route struct {
	Prefix      netip.Prefix
	Communities []uint32 // standard communities
	MED         *uint32
}

// PeerStatus is one peer's session as the speaker sees it.
type PeerStatus struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	// State is the BGP FSM state: idle, connect, active, opensent,
	// openconfirm, established (or unknown).
	State string `json:"state"`
	// Since is when the session was established (zero unless established).
	Since time.Time `json:"since,omitzero"`
	// HoldTime is the negotiated hold time (0 before the session is up).
	HoldTime time.Duration `json:"hold_time,omitempty"`
	// BFD is the BFD session's state (up, down, init, admin_down); ""
	// without BFD.
	BFD string `json:"bfd,omitempty"`
}

// Established is the state of a session that exchanges routes.
const Established = "established"

// Speaker is the seam between the controller and a BGP implementation:
// GoBGP in lbd, bgptest.Speaker in unit tests. Announce of a prefix
// already announced replaces its attributes; Withdraw of one not
// announced is not an error.
type Speaker interface {
	Start(ctx context.Context, g Global) error
	// Stop closes every session (a Cease notification) and the speaker.
	Stop(ctx context.Context) error
	AddPeer(ctx context.Context, p Peer) error
	DeletePeer(ctx context.Context, addr netip.Addr) error
	Announce(ctx context.Context, r Route) error
	Withdraw(ctx context.Context, p netip.Prefix) error
	Peers(ctx context.Context) ([]PeerStatus, error)
}
