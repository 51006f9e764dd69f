package control

import (
	"net/netip"
	"time"
)

// BGP is the BGP speaker's state (issue 16), in Status while lbd.yaml has
// a bgp section.
type BGP struct {
	ASN      uint32      `json:"asn"`
	RouterID netip.Addr  `json:"router_id"`
	Peers    []BGPPeer   `json:"peers"`
	Prefixes []BGPPrefix `json:"prefixes"`
	// Withdrawals counts the withdrawals since lbd started, by reason.
	Withdrawals map[string]uint64 `json:"withdrawals,omitempty"`
	// Draining: lbctl drain-director withdrew every route (until undone
	// or lbd restarts).
	Draining bool `json:"draining,omitempty"`
	// Error is why the peers could not be read, if they could not.
	Error string `json:"error,omitempty"`
}

// BGPPeer is one peer's session.
type BGPPeer struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	// State is the FSM state: idle, connect, active, opensent,
	// openconfirm, established.
	State    string        `json:"state"`
	Since    time.Time     `json:"since,omitzero"` // established since
	HoldTime time.Duration `json:"hold_time,omitempty"`
	// BFD is the BFD session's state (up, down, init, admin_down); ""
	// without BFD.
	BFD string `json:"bfd,omitempty"`
}

// BGPPrefix is one configured VIP's route: announced, or withdrawn with a
// reason (stopping, draining, not programmed, quorum lost).
type BGPPrefix struct {
	Prefix    netip.Prefix `json:"prefix"`
	Announced bool         `json:"announced"`
	Reason    string       `json:"reason,omitempty"`
	Since     time.Time    `json:"since,omitzero"`
}
