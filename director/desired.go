package director

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/lvsd/lb/director/table"
)

// ServiceSpec is one configured virtual service as the builder needs it.
type ServiceSpec struct {
	// Service holds the key and attributes (scheduler, flags, persistence);
	// its Destinations are ignored.
	Service table.Service
	// Quorum is the minimum total weight of live real servers (keepalived
	// quorum); Hysteresis widens the band that changes the quorum state.
	Quorum, Hysteresis int
	// RealServers are the configured destinations.
	RealServers []RealServerSpec
	// Sorry, if set, replaces the live real servers while quorum is lost.
	Sorry *SorrySpec
	// QuorumLossHold, if set (and there is no Sorry), keeps the
	// destinations the service had in the table when it lost quorum there
	// for this long, while its quorum state is already down: a director
	// whose VIP is announced with BGP withdraws it at once and still
	// serves what reaches it while the routers move the flows away
	// (the Manager applies it; Build alone ignores it).
	QuorumLossHold time.Duration
}

// RealServerSpec is one configured real server.
type RealServerSpec struct {
	// Dest is the destination as configured (weight = configured weight).
	Dest table.Destination
	// InhibitOnFailure keeps a failed server in the table with weight 0
	// instead of removing it.
	InhibitOnFailure bool
	// Checks are the server's health checks; it is up only while all
	// pass. None: always up.
	Checks []CheckRef
	// SlowStart ramps the weight of the server when it comes back.
	SlowStart SlowStart
}

// SorrySpec is a service's sorry server.
type SorrySpec struct {
	Dest table.Destination
	// Inhibit keeps it in the table with weight 0 while it is not needed.
	Inhibit bool
}

// RealServerID names a real server of a service.
type RealServerID struct {
	Service table.ServiceKey `json:"service"`
	Address netip.Addr       `json:"address"`
	Port    uint16           `json:"port"`
}

// RealServerState explains one real server's place in the desired table:
// configured against desired weight and why they differ.
type RealServerState struct {
	ID RealServerID `json:"id"`
	// Sorry is true for a sorry server.
	Sorry bool `json:"sorry,omitempty"`
	// Up is the health verdict (a sorry server is always up).
	Up               bool   `json:"up"`
	ConfiguredWeight uint32 `json:"configured_weight"`
	// InTable says whether the server is in the desired table, and
	// DesiredWeight with which weight.
	InTable       bool   `json:"in_table"`
	DesiredWeight uint32 `json:"desired_weight"`
	// Reason explains a difference: "health down: ...", "inhibited: ...",
	// "quorum lost: sorry server in use", "weight set by check", ...
	Reason string `json:"reason,omitempty"`
	// State is up, down, draining, maintenance or slow-starting (the
	// State* constants); Override is the operator's, if any.
	State    string     `json:"state"`
	Override AdminState `json:"override,omitempty"`
}

// ServiceState is the quorum state of one service.
type ServiceState struct {
	Key table.ServiceKey `json:"key"`
	// LiveWeight is the total weight of the live real servers.
	LiveWeight uint64 `json:"live_weight"`
	Quorum     int    `json:"quorum"`
	QuorumUp   bool   `json:"quorum_up"`
	// SorryActive says the sorry server is serving.
	SorryActive bool `json:"sorry_active,omitempty"`
}

// Desired is the table to program and how it came about.
type Desired struct {
	Table       table.Table
	Services    []ServiceState
	RealServers []RealServerState
}

// QuorumStates returns each service's quorum state, to feed the next Build.
func (d Desired) QuorumStates() map[table.ServiceKey]bool {
	m := make(map[table.ServiceKey]bool, len(d.Services))
	for _, s := range d.Services {
		m[s.Key] = s.QuorumUp
	}
	return m
}

// Build computes the desired table from the configured services and the
// health of their real servers, with keepalived's semantics: a failed real
// server is removed (or set to weight 0 when inhibit_on_failure); a dynamic
// check weight replaces the configured one; when the live weight falls
// below the quorum (less the hysteresis, or to zero) the quorum is lost and,
// if there is a sorry server, it replaces the live real servers until the
// live weight reaches quorum plus hysteresis again. prevQuorum is the
// previous Build's QuorumStates (nil at start: the quorum is up when the
// live weight reaches it). Build is pure.
func Build(specs []ServiceSpec, health HealthView, prevQuorum map[table.ServiceKey]bool) Desired {
	return BuildAdmin(specs, health, nil, prevQuorum)
}

// BuildAdmin is Build with the operators' overrides and the slow starts'
// steps (admin, by real server): a drained server is in the table with
// weight 0, one in maintenance is out whatever its health, and a slow
// starting one has its weight at the step of its ramp. Neither counts
// toward the live weight while overridden. BuildAdmin is pure.
func BuildAdmin(specs []ServiceSpec, health HealthView, admin map[RealServerID]Admin, prevQuorum map[table.ServiceKey]bool) Desired {
	return build(specs, func(id RealServerID, _ *RealServerSpec) Health { return health[id] },
		func(id RealServerID, _ *RealServerSpec) Admin { return admin[id] }, prevQuorum)
}

// healthOf is a real server's verdict, for build; adminOf its override
// and ramp step.
type (
	healthOf func(id RealServerID, rs *RealServerSpec) Health
	adminOf  func(id RealServerID, rs *RealServerSpec) Admin
)

// build is Build with the verdicts asked for one by one (the Manager
// derives them as it goes: no map of 10,000 verdicts per rebuild), and its
// slices made to size.
func build(specs []ServiceSpec, health healthOf, admin adminOf, prevQuorum map[table.ServiceKey]bool) Desired {
	n := 0
	for i := range specs {
		n += len(specs[i].RealServers) + 1
	}
	d := Desired{Services: make([]ServiceState, 0, len(specs)), RealServers: make([]RealServerState, 0, n),
		Table: table.Table{Services: make([]table.Service, 0, len(specs))}}
	for _, spec := range specs {
		svc := spec.Service.WithoutDestinations()
		svc.ServiceKey = svc.Key()
		svc.Stats = table.Stats{}
		calcs, live := weigh(svc, spec.RealServers, health, admin)
		svc.Destinations = make([]table.Destination, 0, len(calcs)+1)
		prev, known := prevQuorum[svc.ServiceKey]
		up := quorumUp(spec, live, prev, known)
		sorryActive := !up && spec.Sorry != nil
		d.Services = append(d.Services, ServiceState{Key: svc.ServiceKey, LiveWeight: live, Quorum: spec.Quorum,
			QuorumUp: up, SorryActive: sorryActive})
		for _, c := range calcs {
			st := c.place(sorryActive)
			if st.InTable {
				svc.Destinations = append(svc.Destinations, c.dest)
			}
			d.RealServers = append(d.RealServers, st)
		}
		if spec.Sorry != nil {
			st, dst := placeSorry(svc, spec.Sorry, sorryActive)
			if st.InTable && !slices.ContainsFunc(svc.Destinations, func(x table.Destination) bool { return x.Key() == dst.Key() }) {
				svc.Destinations = append(svc.Destinations, dst)
			}
			d.RealServers = append(d.RealServers, st)
		}
		d.Table.Services = append(d.Table.Services, svc)
	}
	d.Table.Sort()
	return d
}

// rsCalc is one real server on its way into the desired table.
type rsCalc struct {
	state  RealServerState
	dest   table.Destination // weight: the configured one or the check's
	inhib  bool
	health Health
	admin  Admin
}

// weigh applies the health to a service's real servers and returns them
// with the live weight (the sum of the weights of the servers up).
func weigh(svc table.Service, rss []RealServerSpec, health healthOf, admin adminOf) ([]rsCalc, uint64) {
	calcs := make([]rsCalc, 0, len(rss))
	var live uint64
	for i := range rss {
		rs := &rss[i]
		dst := normalizeDest(svc, rs.Dest)
		id := RealServerID{Service: svc.ServiceKey, Address: dst.Address, Port: dst.Port}
		h, a := health(id, rs), admin(id, rs)
		c := rsCalc{dest: dst, inhib: rs.InhibitOnFailure, health: h, admin: a}
		c.state = RealServerState{ID: id, Up: !h.Down, ConfiguredWeight: rs.Dest.Weight, State: stateOf(h, a),
			Override: a.State}
		if h.Weight != nil {
			c.dest.Weight = *h.Weight
		}
		if a.Ramp != nil && a.State == AdminNone {
			c.dest.Weight = a.Ramp.Weight(c.dest.Weight)
		}
		if !h.Down && a.State == AdminNone {
			live += uint64(c.dest.Weight)
		}
		calcs = append(calcs, c)
	}
	return calcs, live
}

// quorumUp is keepalived's quorum with hysteresis: at start the quorum is
// up when the live weight reaches it; later it is lost below quorum less
// hysteresis (or at zero) and regained at quorum plus hysteresis.
func quorumUp(spec ServiceSpec, live uint64, prev, known bool) bool {
	q, hy := int64(spec.Quorum), int64(spec.Hysteresis)
	switch {
	case !known:
		return live > 0 && int64(live) >= q
	case !prev && live > 0 && int64(live) >= q+hy:
		return true
	case prev && (live == 0 || int64(live) < q-hy):
		return false
	}
	return prev
}

// place decides whether and with which weight the real server is in the
// table, and why.
func (c *rsCalc) place(sorryActive bool) RealServerState {
	st := c.state
	switch {
	case c.admin.State == AdminMaintenance:
		st.Reason = "maintenance (operator)"
	case c.health.Down && c.inhib:
		c.dest.Weight = 0
		st.InTable = true
		st.Reason = "inhibited: " + downReason(c.health)
	case c.health.Down:
		st.Reason = downReason(c.health)
	case sorryActive:
		st.Reason = "quorum lost: sorry server in use"
	case c.admin.State == AdminDrain:
		c.dest.Weight = 0
		st.InTable, st.Reason = true, "draining (operator)"
	default:
		st.InTable = true
		if c.admin.Ramp != nil {
			st.Reason = fmt.Sprintf("slow start: step %d of %d", c.admin.Ramp.Step, c.admin.Ramp.Steps)
		} else if c.health.Weight != nil && *c.health.Weight != st.ConfiguredWeight {
			st.Reason = "weight set by check"
			if c.health.Reason != "" {
				st.Reason += ": " + c.health.Reason
			}
		}
	}
	if st.InTable {
		st.DesiredWeight = c.dest.Weight
	}
	return st
}

// placeSorry decides the sorry server's place: serving while the quorum is
// lost, otherwise idle (kept at weight 0 when inhibited).
func placeSorry(svc table.Service, sorry *SorrySpec, active bool) (RealServerState, table.Destination) {
	dst := normalizeDest(svc, sorry.Dest)
	st := RealServerState{
		ID:               RealServerID{Service: svc.ServiceKey, Address: dst.Address, Port: dst.Port},
		Sorry:            true,
		Up:               true,
		State:            StateUp,
		ConfiguredWeight: dst.Weight,
	}
	switch {
	case active:
		st.InTable, st.DesiredWeight, st.Reason = true, dst.Weight, "quorum lost: serving"
	case sorry.Inhibit:
		dst.Weight = 0
		st.InTable, st.Reason = true, "idle (inhibited while quorum is up)"
	default:
		st.Reason = "idle (quorum is up)"
	}
	return st, dst
}

// stateOf is the state a real server shows.
func stateOf(h Health, a Admin) string {
	switch {
	case a.State == AdminMaintenance:
		return StateMaintenance
	case h.Down:
		return StateDown
	case a.State == AdminDrain:
		return StateDraining
	case a.Ramp != nil:
		return StateSlowStarting
	}
	return StateUp
}

func downReason(h Health) string {
	if h.Reason == "" {
		return "health down"
	}
	return "health down: " + h.Reason
}

// normalizeDest applies what ipvsadm does to a destination: the family from
// the address, and for a direct-routing or tunnelled destination of a
// non-fwmark service the service's port.
func normalizeDest(svc table.Service, d table.Destination) table.Destination {
	if d.Address.Is4In6() {
		d.Address = d.Address.Unmap()
	}
	d.Family = table.FamilyOf(d.Address)
	if svc.FWMark == 0 && (d.Forward == table.ForwardRoute || d.Forward == table.ForwardTunnel) {
		d.Port = svc.Port
	}
	if d.Forward != table.ForwardTunnel {
		d.TunnelType, d.TunnelPort, d.TunnelFlags = 0, 0, 0
	}
	d.ActiveConns, d.InactConns, d.PersistConns, d.Stats = 0, 0, 0, table.Stats{}
	return d
}

// CanServe reports whether a director holding addrs could serve them from
// t, built from specs: false only when health-checked services sit on
// those addresses and none of them has a real server with a weight left
// (every one failed its checks, or is inhibited). A service none of whose
// real servers is checked says nothing (its servers are "up" whether they
// answer or not), nor do addresses no service uses.
func CanServe(specs []ServiceSpec, t table.Table, addrs []netip.Addr) bool {
	checked := map[table.ServiceKey]bool{}
	for i := range specs {
		if slices.ContainsFunc(specs[i].RealServers, func(rs RealServerSpec) bool { return len(rs.Checks) > 0 }) {
			checked[specs[i].Service.Key()] = true
		}
	}
	judged := false
	for _, s := range t.Services {
		if s.FWMark != 0 || !slices.Contains(addrs, s.Address) || !checked[s.Key()] {
			continue
		}
		judged = true
		for _, d := range s.Destinations {
			if d.Weight > 0 {
				return true
			}
		}
	}
	return !judged
}
