package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

// DrainRequest is the body of POST /v1/bgp/drain: true withdraws every
// route of this director (it keeps serving what still reaches it), false
// lets it announce again.
type DrainRequest struct {
	Drain bool `json:"drain"`
}

// DirectorDrainer is the Daemon's optional drain command (lbctl
// drain-director): it answers the BGP state after the change.
type DirectorDrainer interface {
	DrainDirector(ctx context.Context, drain bool) (*BGP, error)
}

func (s *Server) drainDirector(w http.ResponseWriter, r *http.Request) {
	dd, ok := s.cfg.Daemon.(DirectorDrainer)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: "drain-director is not available"})
		return
	}
	var req DrainRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxReloadRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("invalid drain request (want {\"drain\": true}): %v", err)})
		return
	}
	st, err := dd.DrainDirector(r.Context(), req.Drain)
	if err != nil {
		writeJSON(w, http.StatusConflict, errorBody{Error: err.Error()})
		return
	}
	s.log.Warn("director drain set over the control socket", "drain", req.Drain)
	writeJSON(w, http.StatusOK, st)
}

// DrainDirector withdraws (drain) or re-announces (!drain) this
// director's routes.
func (c *Client) DrainDirector(ctx context.Context, drain bool) (*BGP, error) {
	body, err := json.Marshal(DrainRequest{Drain: drain})
	if err != nil {
		return nil, fmt.Errorf("encode drain request: %w", err)
	}
	var st BGP
	if err := c.doBody(ctx, http.MethodPost, "/v1/bgp/drain", body, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
