package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/config"
)

// CheckSpec translates check c of real server rs of vs into the health
// checker's runtime types.
func CheckSpec(vs *config.VirtualServer, rs *config.RealServer, c *config.Check) (healthcheck.Spec, healthcheck.Timing) {
	return checkSpec(vs, rs, c, nil)
}

// shared holds one copy of what many checks have alike, while Checks
// translates a configuration: 10,000 checks asking the same URLs share
// one list (never modified), and their names one string each.
type shared struct {
	urls  map[string][]healthcheck.URL
	names map[string]string
}

// urlList returns the shared list equal to urls.
func (sh *shared) urlList(urls []healthcheck.URL) []healthcheck.URL {
	if sh == nil || len(urls) == 0 {
		return urls
	}
	key := fmt.Sprintf("%q", urls)
	if u, ok := sh.urls[key]; ok {
		return u
	}
	sh.urls[key] = urls
	return urls
}

// name returns the shared string equal to s.
func (sh *shared) name(s string) string {
	if n, ok := sh.names[s]; ok {
		return n
	}
	sh.names[s] = s
	return s
}

func checkSpec(vs *config.VirtualServer, rs *config.RealServer, c *config.Check, sh *shared) (healthcheck.Spec, healthcheck.Timing) {
	s := healthcheck.Spec{
		Type:        healthcheck.CheckType(c.Type),
		BindTo:      c.BindTo,
		VirtualHost: c.VirtualHost,
		SNI:         c.SNI,
		TLSVerify:   c.TLSVerify,
		Command:     slices.Clone([]string(c.Command)),
		Dynamic:     c.Dynamic,
		User:        c.User,
		Group:       c.Group,
	}
	switch c.Type {
	case config.CheckScript:
	case config.CheckDNS:
		s.Target = rs.EffectiveTarget(c)
		s.DNSType = string(c.QueryType)
		s.DNSName = c.QueryName
	case config.CheckUDP:
		s.Target = rs.EffectiveTarget(c)
		udpSpec(&s, c)
	case config.CheckPing:
		s.Target = netip.AddrPortFrom(rs.EffectiveTarget(c).Addr(), 0)
	case config.CheckSMTP:
		s.Target = rs.EffectiveTarget(c)
		s.HeloName = c.HeloName
	default:
		s.Target = rs.EffectiveTarget(c)
	}
	for _, u := range c.URLs {
		hu := healthcheck.URL{Path: u.Path, Digest: u.Digest}
		for _, r := range u.StatusCodes {
			hu.StatusCodes = append(hu.StatusCodes, healthcheck.StatusRange{Min: r.Lo, Max: r.Hi})
		}
		s.URLs = append(s.URLs, hu)
	}
	s.URLs = sh.urlList(s.URLs)
	return s, vs.EffectiveCheck(rs, c)
}

// udpSpec fills a UDP check's payload and reply requirements from c, whose
// hex strings the configuration's validation has parsed already.
func udpSpec(s *healthcheck.Spec, c *config.Check) {
	if c.Payload != "" {
		s.Payload, _, _ = healthcheck.ParseHex(c.Payload, false)
	}
	s.RequireReply = c.RequireReply
	if c.Reply != "" {
		s.Reply, s.ReplyMask, _ = healthcheck.ParseHex(c.Reply, true)
	}
	if c.RequireReply {
		s.MinReply, s.MaxReply = 0, 255
		if c.MinReplyLength != nil {
			s.MinReply = *c.MinReplyLength
		}
		if c.MaxReplyLength != nil {
			s.MaxReply = *c.MaxReplyLength
		}
	}
}

// CheckSub is one health-check subscription: a check of a real server of
// a service.
type CheckSub struct {
	ID     healthcheck.ID
	Server director.RealServerID
	// Name is the check's label in logs and metrics: "http#0" (type and
	// position among the real server's checks).
	Name string
	// Index is the check's position among the real server's checks.
	Index  int
	Spec   healthcheck.Spec
	Timing healthcheck.Timing
}

// Checks returns every check subscription of the configuration. A
// subscription's ID is derived from the service, the real server and the
// check's content, so an unchanged check keeps its ID (and its state)
// across reloads and a changed one gets a new ID.
func Checks(vss []config.VirtualServer) []CheckSub {
	var out []CheckSub
	sh := &shared{urls: map[string][]healthcheck.URL{}, names: map[string]string{}}
	for i := range vss {
		vs := &vss[i]
		key := ServiceKeyOf(vs)
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			rid := director.RealServerID{Service: key, Address: rs.Address, Port: rs.Port}
			seen := map[string]int{}
			for k := range vs.RealServers[j].Checks {
				c := &rs.Checks[k]
				spec, timing := checkSpec(vs, rs, c, sh)
				sum := sha256.Sum256([]byte(healthcheck.Key(spec, timing)))
				h := hex.EncodeToString(sum[:6])
				n := seen[h]
				seen[h]++
				id := fmt.Sprintf("%s|%s|%s|%s", key, rs.AddrPort(), c.Type, h)
				if n > 0 {
					id += fmt.Sprintf("-%d", n)
				}
				out = append(out, CheckSub{
					ID: healthcheck.ID(id), Server: rid, Name: sh.name(fmt.Sprintf("%s#%d", c.Type, k)), Index: k,
					Spec: spec, Timing: timing,
				})
			}
		}
	}
	return out
}

// serverString is a real server as logs and labels show it: "10.0.0.1:80".
func serverString(rs director.RealServerID) string {
	return netip.AddrPortFrom(rs.Address, rs.Port).String()
}

// subRef is what the daemon keeps of a subscription in force: whose check
// it is. The scheduler keeps its spec and timing (Status.Spec); a copy of
// each here cost about 450 bytes a check, 4.5 MB at 1,000 x 10.
type subRef struct {
	Server director.RealServerID
	Name   string
	Index  int
}

// sub is the subscription ref names, with the spec and timing its check
// runs with (st, from the scheduler).
func (ref subRef) sub(id healthcheck.ID, st healthcheck.Status) CheckSub {
	return CheckSub{ID: id, Server: ref.Server, Name: ref.Name, Index: ref.Index, Spec: st.Spec, Timing: st.Timing}
}

// subscriptions returns a copy of the check subscriptions in force.
func (d *Daemon) subscriptions() map[healthcheck.ID]subRef {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.checks)
}

// checkLabel is a check's short label: its name ("http#0"), what it asks
// and, when it connects elsewhere than the real server, where.
func checkLabel(s CheckSub) string {
	parts := []string{s.Name}
	sp := s.Spec
	switch sp.Type {
	case healthcheck.TypeHTTP, healthcheck.TypeHTTPS:
		paths := make([]string, len(sp.URLs))
		for i, u := range sp.URLs {
			paths[i] = u.Path
		}
		if len(paths) > 0 {
			parts = append(parts, "GET "+strings.Join(paths, ","))
		}
	case healthcheck.TypeScript:
		if len(sp.Command) > 0 {
			parts = append(parts, filepath.Base(sp.Command[0]))
		}
	case healthcheck.TypeDNS:
		typ, name := sp.DNSType, sp.DNSName
		if typ == "" {
			typ = "SOA"
		}
		if name == "" {
			name = "."
		}
		parts = append(parts, typ+" "+name)
	case healthcheck.TypeSMTP:
		if sp.HeloName != "" {
			parts = append(parts, "HELO "+sp.HeloName)
		}
	}
	if sp.Type == healthcheck.TypePing {
		if sp.Target.Addr() != s.Server.Address {
			parts = append(parts, "at "+sp.Target.Addr().String())
		}
	} else if sp.Target.IsValid() && sp.Target != netip.AddrPortFrom(s.Server.Address, s.Server.Port) {
		parts = append(parts, "at "+sp.Target.String())
	}
	return strings.Join(parts, " ")
}
