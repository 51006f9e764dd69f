package config

import (
	"net/netip"
	"time"

	"github.com/lvsd/lb/vrrp"
)

// Director is lbd.yaml. After LoadDirector/ParseDirector every default is
// filled in (see docs/config.md), except the check timing keys of Timing,
// which stay as written and are resolved by VirtualServer.EffectiveCheck.
type Director struct {
	Global         Global          `yaml:"global"`
	RemovalGuard   RemovalGuard    `yaml:"removal_guard"` // guard.go
	IPVS           IPVS            `yaml:"ipvs"`
	VRRP           vrrp.Set        `yaml:"vrrp"` // instances, scripts and sync groups: vrrp owns their defaults and rules
	VirtualServers []VirtualServer `yaml:"virtual_servers"`
	Notify         Notify          `yaml:"notify"` // notify.go: notify FIFOs and e-mail alerts
	BGP            *BGP            `yaml:"bgp"`    // bgp.go: announce VIPs to routers (ECMP); nil = none
	// Warnings are what a valid file should still change (lbd check
	// prints them), each at its file:line. Never read from the file.
	Warnings []Error `yaml:"-"`
}

// Global is the daemon-wide settings (keepalived global_defs).
type Global struct {
	RouterID       string        `yaml:"router_id"`       // default: the host name
	ControlSocket  string        `yaml:"control_socket"`  // default /run/lbd/lbd.sock
	ControlGroup   string        `yaml:"control_group"`   // "" = socket mode 0600, else 0660 with this group
	MetricsAddress string        `yaml:"metrics_address"` // default 127.0.0.1:9650; "" disables
	LogFormat      LogFormat     `yaml:"log_format"`      // default text
	LogLevel       LogLevel      `yaml:"log_level"`       // default info
	ResyncInterval time.Duration `yaml:"resync_interval"` // default 30s, >= 1s
	PurgeUnmanaged bool          `yaml:"purge_unmanaged"` // remove IPVS services not in the config
	FlushOnStop    bool          `yaml:"flush_on_stop"`   // remove managed services on stop
	StateDir       string        `yaml:"state_dir"`       // default /var/lib/lbd
	// StatusPageTokenFile (absolute; "" = off) enables the status page's
	// admin actions (drain, undrain, maintenance by POST): the file holds
	// the token each action must carry, read at start.
	StatusPageTokenFile string `yaml:"status_page_token_file"`

	// Scripts (keepalived script_user, script_group, enable_script_security):
	// the user and group scripts and notify commands run as by default (""
	// = keepalived_script if it exists, else lbd's own user), and whether a
	// script to run as root is refused when a non-root user could change it.
	ScriptUser           string `yaml:"script_user"`
	ScriptGroup          string `yaml:"script_group"`
	EnableScriptSecurity bool   `yaml:"enable_script_security"`

	// The control socket's bounds on its clients (internal/httplimit):
	// connections served at once, and how long a connection may sit idle
	// between requests, take to send a request's headers and body, and go
	// without progress in a response write. Applied at start (control.go).
	ControlMaxConnections int           `yaml:"control_max_connections"` // default 64
	ControlIdleTimeout    time.Duration `yaml:"control_idle_timeout"`    // default 30s
	ControlHeaderTimeout  time.Duration `yaml:"control_header_timeout"`  // default 5s
	ControlBodyTimeout    time.Duration `yaml:"control_body_timeout"`    // default 10s
	ControlWriteTimeout   time.Duration `yaml:"control_write_timeout"`   // default 10s
}

// IPVS is kernel-wide IPVS settings.
type IPVS struct {
	Timeouts   Timeouts    `yaml:"timeouts"`
	Sysctls    IPVSSysctls `yaml:"sysctls"`
	SyncDaemon *SyncDaemon `yaml:"sync_daemon"` // nil = no sync daemon
}

// Timeouts are the IPVS connection timeouts (ipvsadm --set tcp tcpfin udp).
// Zero leaves the kernel's value.
type Timeouts struct {
	TCP    time.Duration `yaml:"tcp"`
	TCPFin time.Duration `yaml:"tcpfin"`
	UDP    time.Duration `yaml:"udp"`
}

// IPVSSysctls are sysctls lbd sets at start; nil leaves the kernel's value.
type IPVSSysctls struct {
	IPForward               *bool `yaml:"ip_forward"`                // net.ipv4.ip_forward
	IPv6Forwarding          *bool `yaml:"ipv6_forwarding"`           // net.ipv6.conf.all.forwarding
	ExpireNodestConn        *bool `yaml:"expire_nodest_conn"`        // net.ipv4.vs.expire_nodest_conn
	ExpireQuiescentTemplate *bool `yaml:"expire_quiescent_template"` // net.ipv4.vs.expire_quiescent_template
	Conntrack               *bool `yaml:"conntrack"`                 // net.ipv4.vs.conntrack
	SloppyTCP               *bool `yaml:"sloppy_tcp"`                // net.ipv4.vs.sloppy_tcp
	SNATReroute             *bool `yaml:"snat_reroute"`              // net.ipv4.vs.snat_reroute
	ConnReuseMode           *int  `yaml:"conn_reuse_mode"`           // net.ipv4.vs.conn_reuse_mode, 0-3 (a bitmap)
}

// SyncDaemon is the IPVS connection-sync daemon (keepalived lvs_sync_daemon).
type SyncDaemon struct {
	Interface string   `yaml:"interface"` // required
	SyncID    int      `yaml:"sync_id"`   // 0-255
	Role      SyncRole `yaml:"role"`      // default auto
	Instance  string   `yaml:"instance"`  // VRRP instance driving the role; required with auto
}

// Timing is the health-check timing keys, which may appear on a virtual
// server, a real server and a check; nil means "inherit". See
// VirtualServer.EffectiveCheck.
type Timing struct {
	DelayLoop        *time.Duration `yaml:"delay_loop"`         // between checks, default 60s
	ConnectTimeout   *time.Duration `yaml:"connect_timeout"`    // default 5s
	Retry            *int           `yaml:"retry"`              // default 1
	DelayBeforeRetry *time.Duration `yaml:"delay_before_retry"` // default 3s
	Warmup           *time.Duration `yaml:"warmup"`             // random delay max before the first check, default 0
	Alpha            *bool          `yaml:"alpha"`              // start down until the first pass
	Rise             *int           `yaml:"rise"`               // 0 = 1
	Fall             *int           `yaml:"fall"`               // 0 = retry+1
}

// VirtualServer is one IPVS service and its real servers (keepalived
// virtual_server).
type VirtualServer struct {
	Address            netip.Addr       `yaml:"address"`  // zero for fwmark services
	Port               uint16           `yaml:"port"`     // 0 only with persistence
	Protocol           Protocol         `yaml:"protocol"` // default TCP; "" for fwmark services
	FWMark             uint32           `yaml:"fwmark"`   // > 0: fwmark service
	Family             Family           `yaml:"family"`   // always set: from Address, or default ipv4 with fwmark
	Scheduler          Scheduler        `yaml:"scheduler"`
	SchedulerFlags     []SchedulerFlag  `yaml:"scheduler_flags"`
	PersistenceTimeout time.Duration    `yaml:"persistence_timeout"` // 0 = not persistent; whole seconds
	PersistenceNetmask Netmask          `yaml:"persistence_netmask"` // prefix length; default 32 or 128
	OnePacket          bool             `yaml:"one_packet"`          // UDP only
	Forwarding         Forwarding       `yaml:"forwarding"`          // default for real servers, default DR
	Quorum             int              `yaml:"quorum"`              // default 1
	Hysteresis         int              `yaml:"hysteresis"`
	QuorumUp           Argv             `yaml:"quorum_up"`
	QuorumDown         Argv             `yaml:"quorum_down"`
	Omega              bool             `yaml:"omega"`              // on stop, run notify_down of the servers up and quorum_down
	InhibitOnFailure   bool             `yaml:"inhibit_on_failure"` // default for real servers
	SlowStart          `yaml:",inline"` // default for real servers
	SorryServer        *SorryServer     `yaml:"sorry_server"`
	Timing             `yaml:",inline"`
	RealServers        []RealServer `yaml:"real_servers"`
	// Discovery takes (more) real servers from a ZooKeeper registry
	// (discovery.go); nil = the static real servers only.
	Discovery *Discovery `yaml:"discovery"`
	// Announce: announce the address with BGP (bgp.go) while this
	// director is ready for it.
	Announce bool `yaml:"announce"`
}

// SorryServer replaces the real servers while none is up (or quorum is lost).
type SorryServer struct {
	Address    netip.Addr `yaml:"address"`    // required
	Port       uint16     `yaml:"port"`       // default: service port
	Forwarding Forwarding `yaml:"forwarding"` // default: service forwarding
	Inhibit    bool       `yaml:"inhibit"`    // keep it with weight 0 instead of removing it
}

// RealServer is one IPVS destination (keepalived real_server). Port, Weight,
// Forwarding and InhibitOnFailure hold effective values after loading.
type RealServer struct {
	Address          netip.Addr       `yaml:"address"`            // required
	Port             uint16           `yaml:"port"`               // default: service port
	Weight           int              `yaml:"weight"`             // 0-65535, default 1
	Forwarding       Forwarding       `yaml:"forwarding"`         // default: service forwarding
	Tunnel           *Tunnel          `yaml:"tunnel"`             // TUN only; nil = ipip
	UpperThreshold   int              `yaml:"upper_threshold"`    // 0 = none
	LowerThreshold   int              `yaml:"lower_threshold"`    // 0 = none
	InhibitOnFailure bool             `yaml:"inhibit_on_failure"` // default: service's
	SlowStart        `yaml:",inline"` // default: service's
	NotifyUp         Argv             `yaml:"notify_up"`
	NotifyDown       Argv             `yaml:"notify_down"`
	Timing           `yaml:",inline"`
	Checks           []Check `yaml:"checks"` // all must pass; none = always up
	// Source is where the real server comes from: "" for the file, the
	// member's znode ("/sgroup/sub0000000001") for a discovered one. Never
	// read from the file.
	Source string `yaml:"-"`
}

// Tunnel is the encapsulation of a TUN real server.
type Tunnel struct {
	Type     TunnelType     `yaml:"type"`     // default ipip
	Port     uint16         `yaml:"port"`     // GUE destination port (required with gue)
	Checksum TunnelChecksum `yaml:"checksum"` // default none
}

// Check is one health check of a real server. Which keys apply depends on
// Type; the others are rejected when loading.
type Check struct {
	Type        CheckType  `yaml:"type"`         // required
	ConnectIP   netip.Addr `yaml:"connect_ip"`   // default: real server address (see EffectiveTarget)
	ConnectPort uint16     `yaml:"connect_port"` // default: real server port
	BindTo      netip.Addr `yaml:"bindto"`       // source address, optional
	Timing      `yaml:",inline"`

	// http, https
	URLs        []URL  `yaml:"urls"`
	VirtualHost string `yaml:"virtualhost"`
	// https
	TLSVerify bool   `yaml:"tls_verify"`
	SNI       string `yaml:"sni"` // default: VirtualHost

	// script
	Command Argv `yaml:"command"`
	Dynamic bool `yaml:"dynamic"` // exit 2-255 sets weight to code-2

	// script: the user it runs as (keepalived MISC_CHECK user)
	User  string `yaml:"user"`  // default global.script_user
	Group string `yaml:"group"` // default the user's

	// dns
	QueryType DNSType `yaml:"query_type"` // default SOA
	QueryName string  `yaml:"query_name"` // default "."

	// udp: hex strings in keepalived's free form ("Ab12f 3" is AB 12 0F 03);
	// reply may use x digits as wildcards.
	Payload        string `yaml:"payload"`          // default: 32 random bytes
	RequireReply   bool   `yaml:"require_reply"`    // silence fails (else only an error does)
	Reply          string `yaml:"reply"`            // needs require_reply; the reply must start so
	MinReplyLength *int   `yaml:"min_reply_length"` // needs require_reply; default 0
	MaxReplyLength *int   `yaml:"max_reply_length"` // needs require_reply; default 255

	// smtp
	HeloName string `yaml:"helo_name"` // default smtpchecker.keepalived.org
}

// URL is one HTTP(S) request of a check; all of a check's URLs must pass.
type URL struct {
	Path        string        `yaml:"path"`         // required, starts with "/"
	Digest      string        `yaml:"digest"`       // MD5 of the body, 32 lower-case hex digits, optional
	StatusCodes []StatusRange `yaml:"status_codes"` // default 200-299
}
