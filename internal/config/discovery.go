package config

import (
	"net"
	"path"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Discovery defaults (issue 15).
const (
	DefaultDiscoverySessionTimeout  = 5 * time.Second
	DefaultDiscoveryMaxRemovalShare = 0.5
	DefaultDiscoveryLeaveTimeout    = 30 * time.Second
)

// Discovery is a virtual server's real servers taken from a ZooKeeper
// registry: the members under Path, each becoming a real server with the
// template's checks and timing. Static real servers may be written beside
// it; a static one at a member's address and port wins.
type Discovery struct {
	ZooKeeper      []string        `yaml:"zookeeper"`       // the ensemble, host:port each; required
	SessionTimeout time.Duration   `yaml:"session_timeout"` // default 5s
	Path           string          `yaml:"path"`            // base path, required, absolute
	Format         DiscoveryFormat `yaml:"format"`          // default seed
	Port           uint16          `yaml:"port"`            // for seed members that are a bare address; default the service's
	Weight         int             `yaml:"weight"`          // for members that carry none; default 1
	Forwarding     Forwarding      `yaml:"forwarding"`      // default the service's
	// MaxRemovalShare: an update removing more than this share of the
	// pool (static members included) is held until confirmed. (0, 1].
	MaxRemovalShare float64 `yaml:"max_removal_share"` // default 0.5
	// TrustNew: a new member gets traffic at once, before its first
	// check passes (default: it starts down, alpha).
	TrustNew bool `yaml:"trust_new"`
	// LeaveTimeout: a member that leaves the registry keeps its
	// destination at weight 0 (no new connections) until the kernel
	// counts no connection on it, at most this long; 0 removes it at once.
	LeaveTimeout time.Duration `yaml:"leave_timeout"` // default 30s
	Checks       []Check       `yaml:"checks"`        // templates every member gets
	Timing       `yaml:",inline"`
}

// DiscoveryFormat is how a member's znode data is written.
type DiscoveryFormat string

// Discovery formats.
const (
	FormatSeed DiscoveryFormat = "seed" // the seed's AppServer: "host:port" or an address
	FormatJSON DiscoveryFormat = "json" // {"address", "port", "weight", "forwarding"}
)

func (f *DiscoveryFormat) decodeYAML(n *yaml.Node) error {
	s, err := oneOf(n, "discovery format", string(FormatSeed), string(FormatJSON))
	*f = DiscoveryFormat(s)
	return err
}

// Ensemble is the key that identifies one ZooKeeper connection: the
// servers and the session timeout.
func (d *Discovery) Ensemble() string {
	k := d.SessionTimeout.String()
	for _, s := range d.ZooKeeper {
		k += " " + s
	}
	return k
}

// discoveryDefaults fills the discovery section of the virtual server at p.
func (r *report) discoveryDefaults(vs *VirtualServer, p string) {
	d := vs.Discovery
	if d == nil {
		return
	}
	dp := p + ".discovery"
	if !r.has(dp + ".session_timeout") {
		d.SessionTimeout = DefaultDiscoverySessionTimeout
	}
	if d.Format == "" {
		d.Format = FormatSeed
	}
	if !r.has(dp + ".port") {
		d.Port = vs.Port
	}
	if !r.has(dp + ".weight") {
		d.Weight = 1
	}
	if d.Forwarding == "" {
		d.Forwarding = vs.Forwarding
	}
	if !r.has(dp + ".max_removal_share") {
		d.MaxRemovalShare = DefaultDiscoveryMaxRemovalShare
	}
	if !r.has(dp + ".leave_timeout") {
		d.LeaveTimeout = DefaultDiscoveryLeaveTimeout
	}
	for k := range d.Checks {
		r.checkDefaults(&d.Checks[k], itemPath(dp+".checks", k))
	}
}

// validateDiscovery checks the discovery section of the virtual server at p.
func (r *report) validateDiscovery(vs *VirtualServer, p string) {
	d := vs.Discovery
	if d == nil {
		return
	}
	dp := p + ".discovery"
	switch {
	case !r.has(dp + ".zookeeper"):
		r.missing(dp, "zookeeper")
	case len(d.ZooKeeper) == 0 && r.ok(dp+".zookeeper"):
		r.errf(dp+".zookeeper", "at least one ZooKeeper server (host:port) required")
	}
	for i, s := range d.ZooKeeper {
		if why := hostPortProblem(s); why != "" {
			r.errf(itemPath(dp+".zookeeper", i), "%q is not host:port: %s", s, why)
		}
	}
	if r.has(dp+".session_timeout") && r.ok(dp+".session_timeout") && d.SessionTimeout < 100*time.Millisecond {
		r.errf(dp+".session_timeout", "must be at least 100ms, got %s", d.SessionTimeout)
	}
	switch {
	case !r.has(dp + ".path"):
		r.missing(dp, "path")
	case d.Path == "" || d.Path[0] != '/' || path.Clean(d.Path) != d.Path:
		r.errf(dp+".path", "must be an absolute path without a trailing / (like /sgroup), got %q", d.Path)
	}
	r.intRange(dp+".weight", d.Weight, 0, 65535)
	if r.ok(dp+".max_removal_share") && !(d.MaxRemovalShare > 0 && d.MaxRemovalShare <= 1) {
		r.errf(dp+".max_removal_share", "must be more than 0 and at most 1, got %v", d.MaxRemovalShare)
	}
	if r.ok(dp+".leave_timeout") && (d.LeaveTimeout < 0 || d.LeaveTimeout > time.Hour) {
		r.errf(dp+".leave_timeout", "must be 0 (remove at once) to 1h, got %s", d.LeaveTimeout)
	}
	r.validateTiming(dp, &d.Timing)
	// The checks are a real server's: a member always has a port (its data
	// or discovery.port), so a check needs no connect_port.
	member := &RealServer{Port: max(d.Port, 1)}
	for k := range d.Checks {
		r.validateCheck(member, &d.Checks[k], itemPath(dp+".checks", k))
	}
}

// hostPortProblem says why s is not "host:port" with a port of 1-65535.
func hostPortProblem(s string) string {
	h, port, err := net.SplitHostPort(s)
	if err != nil {
		return err.Error()
	}
	if h == "" {
		return "no host"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "the port must be 1-65535"
	}
	return ""
}
