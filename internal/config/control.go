package config

import (
	"time"

	"github.com/lvsd/lb/internal/httplimit"
)

// Bounds of the control socket's keys: the connection limit stays far
// below the descriptors lbd's health checks need; a timeout is at least a
// second (a client on a busy host must get its request in) and at most an
// hour.
const (
	MaxControlConnections = 4096
	minControlTimeout     = time.Second
	maxControlTimeout     = time.Hour
)

// controlKey is one control socket timeout: its key under global, its
// field and its default.
type controlKey struct {
	key  string
	v    *time.Duration
	dflt time.Duration
}

func controlTimeouts(g *Global) []controlKey {
	return []controlKey{
		{"control_idle_timeout", &g.ControlIdleTimeout, httplimit.DefaultIdleTimeout},
		{"control_header_timeout", &g.ControlHeaderTimeout, httplimit.DefaultReadHeaderTimeout},
		{"control_body_timeout", &g.ControlBodyTimeout, httplimit.DefaultBodyTimeout},
		{"control_write_timeout", &g.ControlWriteTimeout, httplimit.DefaultWriteTimeout},
	}
}

// controlDefaults sets the control socket's bounds the file leaves out
// (an explicit 0 stays, for validateControl to refuse).
func (r *report) controlDefaults(g *Global) {
	if !r.has("global.control_max_connections") {
		g.ControlMaxConnections = httplimit.DefaultMaxConns
	}
	for _, k := range controlTimeouts(g) {
		if !r.has("global." + k.key) {
			*k.v = k.dflt
		}
	}
}

func (r *report) validateControl(g *Global) {
	if n := g.ControlMaxConnections; n < 1 || n > MaxControlConnections {
		r.errf("global.control_max_connections", "must be within 1-%d, got %d", MaxControlConnections, n)
	}
	for _, k := range controlTimeouts(g) {
		if *k.v < minControlTimeout || *k.v > maxControlTimeout {
			r.errf("global."+k.key, "must be within %s-%s, got %s", minControlTimeout, maxControlTimeout, *k.v)
		}
	}
}

// ControlLimits are the control socket's bounds the file sets (the body
// and header sizes keep httplimit's defaults).
func (g Global) ControlLimits() httplimit.Limits {
	return httplimit.Limits{
		MaxConns:          g.ControlMaxConnections,
		IdleTimeout:       g.ControlIdleTimeout,
		ReadHeaderTimeout: g.ControlHeaderTimeout,
		BodyTimeout:       g.ControlBodyTimeout,
		WriteTimeout:      g.ControlWriteTimeout,
	}
}
