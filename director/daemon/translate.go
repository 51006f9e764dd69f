package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/healthcheck"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/vrrp"
)

// Component is a set of VRRP instances that must run in one vrrp.Router
// (see vrrp.Set.Split). Components are independent of each other, so a
// reload restarts only those whose configuration changed.
type Component struct {
	// Name identifies the component: its instance names, sorted, joined by ",".
	Name string
	Set  vrrp.Set
}

// Components splits the VRRP configuration into its components, in the
// order of their first instance in the file.
func Components(v *vrrp.Set) []Component {
	var out []Component
	for _, s := range v.Split() {
		out = append(out, Component{Name: s.Name(), Set: s})
	}
	return out
}

// CheckSpec translates check c of real server rs of vs into the health
// checker's runtime types.
func CheckSpec(vs *config.VirtualServer, rs *config.RealServer, c *config.Check) (healthcheck.Spec, healthcheck.Timing) {
	s := healthcheck.Spec{
		Type:        healthcheck.CheckType(c.Type),
		BindTo:      c.BindTo,
		VirtualHost: c.VirtualHost,
		SNI:         c.SNI,
		TLSVerify:   c.TLSVerify,
		Command:     slices.Clone([]string(c.Command)),
		Dynamic:     c.Dynamic,
	}
	switch c.Type {
	case config.CheckScript:
	case config.CheckDNS:
		s.Target = rs.EffectiveTarget(c)
		s.DNSType = string(c.QueryType)
		s.DNSName = c.QueryName
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
	t := vs.EffectiveCheck(rs, c)
	return s, healthcheck.Timing{
		DelayLoop:        t.DelayLoop,
		ConnectTimeout:   t.ConnectTimeout,
		Retry:            t.Retry,
		DelayBeforeRetry: t.DelayBeforeRetry,
		Warmup:           t.Warmup,
		Alpha:            t.Alpha,
		Rise:             t.Rise,
		Fall:             t.Fall,
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
	for i := range vss {
		vs := &vss[i]
		key := ServiceKeyOf(vs)
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			rid := director.RealServerID{Service: key, Address: rs.Address, Port: rs.Port}
			seen := map[string]int{}
			for k := range vs.RealServers[j].Checks {
				c := &rs.Checks[k]
				spec, timing := CheckSpec(vs, rs, c)
				sum := sha256.Sum256([]byte(healthcheck.Key(spec, timing)))
				h := hex.EncodeToString(sum[:6])
				n := seen[h]
				seen[h]++
				id := fmt.Sprintf("%s|%s|%s|%s", key, rs.AddrPort(), c.Type, h)
				if n > 0 {
					id += fmt.Sprintf("-%d", n)
				}
				out = append(out, CheckSub{
					ID: healthcheck.ID(id), Server: rid, Name: fmt.Sprintf("%s#%d", c.Type, k), Index: k,
					Spec: spec, Timing: timing,
				})
			}
		}
	}
	return out
}

func netipAddrPort(rs director.RealServerID) string {
	return netip.AddrPortFrom(rs.Address, rs.Port).String()
}
