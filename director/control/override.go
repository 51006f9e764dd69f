package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lb/director/table"
)

// The operators' overrides (issue 17): POST /v1/realserver/state drains a
// real server, puts it in maintenance or lifts either; POST
// /v1/director/drain gives up (or takes back) this director's VRRP
// mastership. Both are served when the Daemon implements Overrider.

// OverrideRequest is the body of POST /v1/realserver/state.
type OverrideRequest struct {
	// Service is as status shows it ("TCP 192.0.2.10:80", "FWM 5") or
	// "tcp:192.0.2.10:80" (ParseService).
	Service string `json:"service"`
	// Server is the real server: "10.0.0.11:80", or "10.0.0.11" for the
	// service's port ("[2001:db8::11]:80" in IPv6).
	Server string `json:"server"`
	// State is "drain", "maintenance" or "none" (lift the override).
	State string `json:"state"`
}

// OverrideResult is the answer of POST /v1/realserver/state.
type OverrideResult struct {
	Service table.ServiceKey `json:"service"`
	Address netip.Addr       `json:"address"`
	Port    uint16           `json:"port"`
	// State is the override in force after the request ("" for none);
	// Changed says whether the request changed it.
	State   string       `json:"state"`
	Changed bool         `json:"changed"`
	Apply   *ApplyResult `json:"apply,omitempty"`
}

// DirectorDrainRequest is the body of POST /v1/director/drain.
type DirectorDrainRequest struct {
	// Drain gives up VRRP mastership (the peers take over) and stays
	// BACKUP; false takes the director back into the election.
	Drain bool `json:"drain"`
}

// DirectorDrain is this director's drain: asked (lbctl drain-director)
// and since when; Instances are the VRRP instances with their state after
// the request.
type DirectorDrain struct {
	Drained   bool           `json:"drained"`
	Since     time.Time      `json:"since,omitzero"`
	Changed   bool           `json:"changed,omitempty"`
	Instances []VRRPInstance `json:"instances,omitempty"`
	// BGP is the speaker's state after the request (every route withdrawn
	// while drained); nil without a bgp section.
	BGP *BGP `json:"bgp,omitempty"`
}

// Overrider is the Daemon's optional operators' commands.
type Overrider interface {
	SetOverride(ctx context.Context, req OverrideRequest) (OverrideResult, error)
	SetDirectorDrain(ctx context.Context, req DirectorDrainRequest) (DirectorDrain, error)
}

// ParseService reads a service as status prints it ("TCP 192.0.2.10:80",
// "UDP [2001:db8::1]:53", "FWM 5", "FWM 5 IPv6"), or with a colon after
// the protocol ("tcp:192.0.2.10:80", "fwm:5"); case does not matter.
func ParseService(s string) (table.ServiceKey, error) {
	f := strings.Fields(strings.TrimSpace(s))
	if len(f) == 1 {
		if proto, rest, ok := strings.Cut(f[0], ":"); ok {
			f = []string{proto, rest}
		}
	}
	bad := func(why string) (table.ServiceKey, error) {
		return table.ServiceKey{}, fmt.Errorf("service %q: %s (want \"TCP 192.0.2.10:80\", \"tcp:192.0.2.10:80\" or \"FWM 5\")", s, why)
	}
	if len(f) < 2 {
		return bad("no protocol and address")
	}
	if strings.EqualFold(f[0], "FWM") {
		mark, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil || mark == 0 {
			return bad("bad fwmark")
		}
		k := table.ServiceKey{FWMark: uint32(mark), Family: table.FamilyIPv4}
		switch {
		case len(f) == 3 && strings.EqualFold(f[2], "IPv6"):
			k.Family = table.FamilyIPv6
		case len(f) == 3 && strings.EqualFold(f[2], "IPv4"), len(f) == 2:
		default:
			return bad("unexpected " + strings.Join(f[2:], " "))
		}
		return k.Normalize(), nil
	}
	if len(f) != 2 {
		return bad("unexpected " + strings.Join(f[2:], " "))
	}
	var k table.ServiceKey
	if err := k.Protocol.UnmarshalText([]byte(f[0])); err != nil {
		return bad(err.Error())
	}
	ap, err := netip.ParseAddrPort(f[1])
	if err != nil {
		return bad("bad address:port")
	}
	k.Address, k.Port, k.Family = ap.Addr().Unmap(), ap.Port(), table.FamilyOf(ap.Addr().Unmap())
	return k.Normalize(), nil
}

// ParseRealServer reads a real server of svc: "10.0.0.11:80",
// "[2001:db8::11]:80", or a bare address for the service's port.
func ParseRealServer(svc table.ServiceKey, s string) (netip.Addr, uint16, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Port(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("real server %q: want ADDRESS or ADDRESS:PORT", s)
	}
	return a.Unmap(), svc.Port, nil
}

// MaxOverrideRequest bounds the bodies of the override requests.
const MaxOverrideRequest = 4 << 10

// decodeBody reads a small JSON body into v, unknown fields refused.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxOverrideRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid request: %w", err)
	}
	return nil
}

func (s *Server) setOverride(w http.ResponseWriter, r *http.Request) {
	o, ok := s.cfg.Daemon.(Overrider)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: "overrides are not available"})
		return
	}
	var req OverrideRequest
	if err := decodeBody(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	res, err := o.SetOverride(r.Context(), req)
	if err != nil {
		s.log.Warn("override over the control socket refused", "service", req.Service, "server", req.Server,
			"state", req.State, "err", err)
		writeJSON(w, http.StatusConflict, struct {
			errorBody
			Result OverrideResult `json:"result"`
		}{errorBody{err.Error()}, res})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) setDirectorDrain(w http.ResponseWriter, r *http.Request) {
	o, ok := s.cfg.Daemon.(Overrider)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: "drain-director is not available"})
		return
	}
	var req DirectorDrainRequest
	if err := decodeBody(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	res, err := o.SetDirectorDrain(r.Context(), req)
	if err != nil {
		writeJSON(w, http.StatusConflict, struct {
			errorBody
			Result DirectorDrain `json:"result"`
		}{errorBody{err.Error()}, res})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// SetOverride asks lbd to drain a real server, put it in maintenance or
// lift either (req.State "drain", "maintenance", "none").
func (c *Client) SetOverride(ctx context.Context, req OverrideRequest) (OverrideResult, error) {
	var r OverrideResult
	body, err := json.Marshal(req)
	if err != nil {
		return r, fmt.Errorf("encode override request: %w", err)
	}
	err = c.doBody(ctx, http.MethodPost, "/v1/realserver/state", body, &r)
	return r, err
}

// SetDirectorDrain asks lbd to give up its VRRP mastership (drain) or to take
// part in the election again.
func (c *Client) SetDirectorDrain(ctx context.Context, req DirectorDrainRequest) (DirectorDrain, error) {
	var r DirectorDrain
	body, err := json.Marshal(req)
	if err != nil {
		return r, fmt.Errorf("encode drain-director request: %w", err)
	}
	err = c.doBody(ctx, http.MethodPost, "/v1/director/drain", body, &r)
	return r, err
}
