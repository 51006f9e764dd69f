// Package control is lbd's control socket: the JSON API types, the server
// that answers on a unix socket (HTTP/1.1, mode 0600 or 0660 with a group),
// and the Client that lbctl uses. The server asks one Daemon, which lbd
// implements, for each answer.
//
// Endpoints: GET /v1/status, POST /v1/reload, POST /v1/resync, POST
// /v1/discovery/confirm (when the Daemon is a DiscoveryConfirmer), GET
// /v1/events (when it is an EventSource; events.go), POST /v1/realserver/state and POST
// /v1/director/drain (when it is an Overrider: override.go).
package control

import (
	"context"
	"net/netip"
	"time"

	"github.com/lvsd/lb/director/table"
)

// Status is the answer of GET /v1/status.
type Status struct {
	Daemon      DaemonInfo      `json:"daemon"`
	IPVS        IPVS            `json:"ipvs"`
	Services    []ServiceQuorum `json:"services,omitempty"`
	RealServers []RealServer    `json:"real_servers,omitempty"`
	Checks      []CheckStatus   `json:"checks,omitempty"`
	VRRP        []VRRPInstance  `json:"vrrp,omitempty"`
	// Discovery is each service with a discovery section (issue 15).
	Discovery []Discovery `json:"discovery,omitempty"`
	// BGP is the speaker's state (bgp.go); nil without a bgp section.
	BGP *BGP `json:"bgp,omitempty"`
	// Director is this director's drain (lbctl drain-director); nil when
	// it is not drained.
	Director *DirectorDrain `json:"director,omitempty"`
}

// Discovery is one service's ZooKeeper discovery: where it watches, the
// session, the members applied and an update held by the hold rule.
type Discovery struct {
	Service   table.ServiceKey `json:"service"`
	ZooKeeper []string         `json:"zookeeper"`
	Path      string           `json:"path"`
	// Session is the ZooKeeper client's state (StateHasSession when
	// connected; "none" when the connection could not be made).
	Session string `json:"session"`
	// Stale: the registry is lost; the members are the last known ones.
	Stale      bool      `json:"stale,omitempty"`
	StaleSince time.Time `json:"stale_since,omitzero"`
	// Members is how many members are applied.
	Members int `json:"members"`
	// Held is an update held because it removes too large a share of the
	// pool (lbctl discovery confirm releases it); nil when none is held.
	Held *DiscoveryHeld `json:"held,omitempty"`
}

// DiscoveryHeld is a held discovery update.
type DiscoveryHeld struct {
	Remove  int       `json:"remove"`  // members it removes
	Add     int       `json:"add"`     // members it adds
	Members int       `json:"members"` // members it lists
	Since   time.Time `json:"since"`
}

// DiscoveryConfirmRequest is the body of POST /v1/discovery/confirm.
type DiscoveryConfirmRequest struct {
	// Service is as status shows it: "TCP 192.0.2.10:80".
	Service string `json:"service"`
}

// DaemonInfo describes the running lbd.
type DaemonInfo struct {
	PID     int    `json:"pid"`
	Version string `json:"version,omitempty"`
	// Revision is the VCS commit lbd was built from (+dirty, or
	// "unknown": see internal/buildinfo), Date the commit's time, GoVersion
	// the toolchain's: what "lbd version" prints.
	Revision   string    `json:"revision,omitempty"`
	Date       string    `json:"date,omitempty"`
	GoVersion  string    `json:"go_version,omitempty"`
	RouterID   string    `json:"router_id,omitempty"`
	ConfigFile string    `json:"config_file,omitempty"`
	Started    time.Time `json:"started"`
	// LastReload is when the configuration was last (re)loaded.
	LastReload time.Time `json:"last_reload,omitzero"`
}

// IPVS is the kernel table as lbd reads it, and how lbd keeps it.
type IPVS struct {
	// VRRPOnly says lbd runs without IPVS (no virtual_servers, no sync
	// daemon): there is no table, and the rest is empty.
	VRRPOnly bool `json:"vrrp_only,omitempty"`
	// Error is set when the kernel could not be read; the rest may be empty.
	Error    string         `json:"error,omitempty"`
	Info     table.Info     `json:"info"`
	Timeouts table.Timeouts `json:"timeouts"`
	// Table is the kernel's table with counters, in kernel order.
	Table   table.Table    `json:"table"`
	Daemons []table.Daemon `json:"daemons,omitempty"`
	// Managed are the services lbd manages.
	Managed   []table.ServiceKey `json:"managed,omitempty"`
	LastApply *ApplyResult       `json:"last_apply,omitempty"`
	Writes    uint64             `json:"writes"`
	Repairs   uint64             `json:"repairs"`
	InSync    bool               `json:"in_sync"`
	Pending   []string           `json:"pending,omitempty"` // writes needed to bring the kernel to the desired table
}

// ApplyResult reports an apply, resync or clear.
type ApplyResult struct {
	Kind    string        `json:"kind"`
	Start   time.Time     `json:"start"`
	Took    time.Duration `json:"took"`
	Writes  int           `json:"writes"`
	Rounds  int           `json:"rounds"`
	Ops     []string      `json:"ops,omitempty"`     // done, as ipvsadm rules
	Failed  []string      `json:"failed,omitempty"`  // failed writes with their errors
	Pending []string      `json:"pending,omitempty"` // still needed when it gave up
	Error   string        `json:"error,omitempty"`
	// OpsOmitted, FailedOmitted and PendingOmitted count the entries left
	// out of Ops, Failed and Pending (lbd keeps the first 100 of each of
	// its last apply for the status).
	OpsOmitted     int `json:"ops_omitted,omitempty"`
	FailedOmitted  int `json:"failed_omitted,omitempty"`
	PendingOmitted int `json:"pending_omitted,omitempty"`
}

// ServiceQuorum is a service's quorum state.
type ServiceQuorum struct {
	Service     table.ServiceKey `json:"service"`
	LiveWeight  uint64           `json:"live_weight"`
	Quorum      int              `json:"quorum"`
	QuorumUp    bool             `json:"quorum_up"`
	SorryActive bool             `json:"sorry_active,omitempty"`
}

// RealServer is one real (or sorry) server: configured against desired
// against kernel weight, and why they differ.
type RealServer struct {
	Service table.ServiceKey `json:"service"`
	Address netip.Addr       `json:"address"`
	Port    uint16           `json:"port"`
	Sorry   bool             `json:"sorry,omitempty"`
	Up      bool             `json:"up"`
	// ConfiguredWeight is the weight in lbd.yaml.
	ConfiguredWeight uint32 `json:"configured_weight"`
	// DesiredWeight is what lbd wants programmed; nil: not in the table.
	DesiredWeight *uint32 `json:"desired_weight"`
	// KernelWeight is what the kernel has; nil: absent from the kernel.
	KernelWeight *uint32 `json:"kernel_weight"`
	// Reason explains a difference (health down, inhibited, quorum lost...).
	Reason string `json:"reason,omitempty"`
	// Source is where the real server comes from: "static" (the file) or
	// "zk:" and its znode (discovery); empty for a sorry server.
	Source string `json:"source,omitempty"`
	// State is up, down, draining, maintenance or slow-starting; Override
	// is the operator's (drain, maintenance) and OverrideSince its time.
	State         string    `json:"state,omitempty"`
	Override      string    `json:"override,omitempty"`
	OverrideSince time.Time `json:"override_since,omitzero"`
}

// CheckStatus is one health check of a real server of a service: its
// state and its last result.
type CheckStatus struct {
	Service table.ServiceKey `json:"service"`
	Address netip.Addr       `json:"address"`
	Port    uint16           `json:"port"`
	// Check is a short label: type and position among the real server's
	// checks, what it asks, and where it connects when that is not the
	// real server, e.g. "http#0 GET /health.html" or "tcp#1 at 10.0.0.5:8080".
	Check string `json:"check"`
	// Type is the checker kind (http, https, tcp, script, dns).
	Type string `json:"type"`
	// Target is where the check connects (empty for scripts).
	Target string `json:"target,omitempty"`
	Up     bool   `json:"up"`
	// Result is the kind of the last result (ok, status, digest, timeout,
	// refused, tls, script-exit, dns, error); empty before the first.
	Result string `json:"result,omitempty"`
	// Reason explains the last result, e.g. "status 500 not in 200-299".
	Reason string `json:"reason,omitempty"`
	// Duration is how long the last check took.
	Duration  time.Duration `json:"duration"`
	LastCheck time.Time     `json:"last_check,omitzero"`
	// Since is when Up last changed (or the check started).
	Since time.Time `json:"since,omitzero"`
	// ConsecutiveFailures and ConsecutiveSuccesses count results in a row.
	ConsecutiveFailures  int `json:"consecutive_failures"`
	ConsecutiveSuccesses int `json:"consecutive_successes"`
	// Checks and Failures count attempts since the check started.
	Checks   uint64 `json:"checks"`
	Failures uint64 `json:"failures"`
	// Shared is the number of subscriptions served by this one check
	// (identical checks of the same target run once); 1 when not shared.
	Shared   int  `json:"shared"`
	InFlight bool `json:"in_flight,omitempty"`
}

// VRRPInstance is the state of one VRRP instance.
type VRRPInstance struct {
	Name              string    `json:"name"`
	Interface         string    `json:"interface"`
	VRID              int       `json:"vrid"`
	Version           int       `json:"version"`
	State             string    `json:"state"` // INIT, BACKUP, MASTER, FAULT
	Priority          int       `json:"priority"`
	EffectivePriority int       `json:"effective_priority"`
	VIPs              []string  `json:"vips,omitempty"`
	Since             time.Time `json:"since,omitzero"`
	// Reason explains a FAULT or a lowered priority.
	Reason    string `json:"reason,omitempty"`
	SyncGroup string `json:"sync_group,omitempty"`
	// AdvertsSent and AdvertsReceived count advertisements since the
	// instance started (received: those that passed every check).
	AdvertsSent     uint64 `json:"adverts_sent"`
	AdvertsReceived uint64 `json:"adverts_received"`
	// Drops counts received packets the instance dropped, by reason
	// (length, vrid, ttl, version, auth, interval, type, checksum,
	// destination); only non-zero reasons are present.
	Drops map[string]uint64 `json:"drops,omitempty"`
	// SplitBrains counts split-brain episodes: as MASTER, the instance
	// kept hearing another master that loses to it (that master does not
	// hear this one). SplitBrain is the last one.
	SplitBrains uint64      `json:"split_brains,omitempty"`
	SplitBrain  *SplitBrain `json:"split_brain,omitempty"`
	// BFD is the instance's BFD sessions, by peer (instances with a bfd
	// section); BFDTakeovers counts the times BFD's word that the master
	// failed made it take over.
	BFD          []BFDSession `json:"bfd,omitempty"`
	BFDTakeovers uint64       `json:"bfd_takeovers,omitempty"`
}

// BFDSession is one BFD session of a VRRP instance.
type BFDSession struct {
	Peer  netip.Addr `json:"peer"`
	State string     `json:"state"` // Down, Init, Up, AdminDown
	Since time.Time  `json:"since,omitzero"`
	// Failures counts the times the session left Up by the peer's silence.
	Failures uint64 `json:"failures"`
}

// SplitBrain is a split-brain episode: the other master and who wins.
type SplitBrain struct {
	Peer         netip.Addr `json:"peer"`
	PeerPriority int        `json:"peer_priority"`
	At           time.Time  `json:"at"`
	Winner       string     `json:"winner"` // "this router: priority 200 > 100"
}

// ReloadRequest is the JSON body of POST /v1/reload; it is optional (no
// body is the zero request, what SIGHUP asks).
type ReloadRequest struct {
	// Force applies a configuration that the removal guard refuses
	// (removal_guard: one that removes every managed IPVS service or VRRP
	// instance, or more than removal_guard.max_percent of them): lbctl
	// reload --force.
	Force bool `json:"force,omitempty"`
	// DryRun computes what the reload would do and writes nothing: the
	// answer's Plan (lbctl reload --dry-run).
	DryRun bool `json:"dry_run,omitempty"`
}

// MaxReloadRequest bounds the body of POST /v1/reload.
const MaxReloadRequest = 4 << 10

// ReloadResult is the answer of POST /v1/reload.
type ReloadResult struct {
	ConfigFile string       `json:"config_file,omitempty"`
	Changes    []string     `json:"changes,omitempty"`
	Apply      *ApplyResult `json:"apply,omitempty"`
	// Plan is a dry run's answer.
	Plan *Plan `json:"plan,omitempty"`
}

// Daemon is what the socket serves: lbd's whole status, read at the time
// of the request, and the two commands it accepts.
type Daemon interface {
	Status(ctx context.Context) Status
	// Reload re-reads the configuration and applies it.
	Reload(ctx context.Context, req ReloadRequest) (ReloadResult, error)
	// Resync re-reads the kernel and repairs drift now.
	Resync(ctx context.Context) (ApplyResult, error)
}

// errorBody is the JSON of a failed request.
type errorBody struct {
	Error string `json:"error"`
}
