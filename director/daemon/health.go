package daemon

import (
	"context"
	"log/slog"
	"sort"
	"sync"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/healthcheck"
)

// healthSink is what the health aggregator drives: the Manager in lbd.
type healthSink interface {
	SetHealth(ctx context.Context, id director.RealServerID, h director.Health) (director.Result, error)
}

// checkState is the last reported state of one check subscription.
type checkState struct {
	known  bool
	up     bool
	weight *int
	reason string
}

// serverVerdict is the health of one real server as last given to the sink.
type serverVerdict struct {
	down   bool
	weight *uint32
	reason string
}

func (v serverVerdict) equal(o serverVerdict) bool {
	if v.down != o.down {
		return false
	}
	if (v.weight == nil) != (o.weight == nil) {
		return false
	}
	return v.weight == nil || *v.weight == *o.weight
}

// serverNotify holds the notify commands of a real server.
type serverNotify struct {
	up, down []string
}

// healthAgg turns per-check transitions into per-real-server health with
// keepalived's rule: a real server is up only while all its checks pass; a
// dynamic script's weight replaces the configured weight.
type healthAgg struct {
	sink   healthSink
	log    *slog.Logger
	starts func(argv []string) error // runs notify commands without a shell

	mu      sync.Mutex
	subs    map[healthcheck.ID]CheckSub
	state   map[healthcheck.ID]checkState
	servers map[director.RealServerID]serverVerdict // last verdict given to the sink
	notify  map[director.RealServerID]serverNotify
}

func newHealthAgg(sink healthSink, log *slog.Logger, start func([]string) error) *healthAgg {
	return &healthAgg{
		sink: sink, log: log, starts: start,
		subs:    map[healthcheck.ID]CheckSub{},
		state:   map[healthcheck.ID]checkState{},
		servers: map[director.RealServerID]serverVerdict{},
		notify:  map[director.RealServerID]serverNotify{},
	}
}

// setSubs records the current subscriptions and notify commands (start and
// reload). State of IDs still present is kept. It returns the real servers
// whose verdict must be recomputed (their set of checks changed).
func (a *healthAgg) setSubs(subs []CheckSub, notify map[director.RealServerID]serverNotify) []director.RealServerID {
	a.mu.Lock()
	defer a.mu.Unlock()
	touched := map[director.RealServerID]bool{}
	next := make(map[healthcheck.ID]CheckSub, len(subs))
	for _, s := range subs {
		next[s.ID] = s
		if _, ok := a.subs[s.ID]; !ok {
			touched[s.Server] = true
		}
	}
	for id, s := range a.subs {
		if _, ok := next[id]; !ok {
			touched[s.Server] = true
			delete(a.state, id)
		}
	}
	a.subs = next
	a.notify = notify
	// Forget verdicts of servers that are gone (the Manager forgets them too).
	for rs := range a.servers {
		if _, ok := notify[rs]; !ok {
			delete(a.servers, rs)
			delete(touched, rs)
		}
	}
	var out []director.RealServerID
	for rs := range touched {
		out = append(out, rs)
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Service.Compare(out[j].Service); c != 0 {
			return c < 0
		}
		if c := out[i].Address.Compare(out[j].Address); c != 0 {
			return c < 0
		}
		return out[i].Port < out[j].Port
	})
	return out
}

// refresh recomputes the verdict of servers and applies changes.
func (a *healthAgg) refresh(ctx context.Context, servers []director.RealServerID) {
	for _, rs := range servers {
		a.apply(ctx, rs, false)
	}
}

// onTransition is the Scheduler's callback.
func (a *healthAgg) onTransition(ctx context.Context, t healthcheck.Transition) {
	var affected []director.RealServerID
	a.mu.Lock()
	for _, id := range t.IDs {
		sub, ok := a.subs[id]
		if !ok {
			continue
		}
		prev := a.state[id]
		st := checkState{known: true, up: t.Up, weight: t.Weight, reason: t.Result.Reason}
		a.state[id] = st
		if changed := !prev.known || prev.up != st.up; changed && !(t.Initial && st.up) {
			lvl, msg := slog.LevelWarn, "check down"
			if st.up {
				lvl, msg = slog.LevelInfo, "check up"
			}
			attrs := []any{"service", sub.Server.Service.String(), "server", serverString(sub.Server),
				"check", sub.Name, "target", t.Target.String(), "kind", string(t.Result.Kind)}
			if t.Result.Reason != "" {
				attrs = append(attrs, "reason", t.Result.Reason)
			}
			if t.Initial {
				attrs = append(attrs, "initial", true)
			}
			a.log.Log(ctx, lvl, msg, attrs...)
		}
		affected = append(affected, sub.Server)
	}
	a.mu.Unlock()
	seen := map[director.RealServerID]bool{}
	for _, rs := range affected {
		if seen[rs] {
			continue
		}
		seen[rs] = true
		a.apply(ctx, rs, true)
	}
}

func sameInt(a, b *int) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return a == nil || *a == *b
}

// verdictLocked computes a real server's health from its checks' states.
func (a *healthAgg) verdictLocked(rs director.RealServerID) serverVerdict {
	var ids []healthcheck.ID
	for id, s := range a.subs {
		if s.Server == rs {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return a.subs[ids[i]].Name < a.subs[ids[j]].Name })
	var v serverVerdict
	for _, id := range ids {
		st := a.state[id]
		if !st.known {
			continue // before its first report a check counts as up (as at start)
		}
		if !st.up && !v.down {
			v.down = true
			v.reason = a.subs[id].Name + ": " + st.reason
			if st.reason == "" {
				v.reason = a.subs[id].Name + ": down"
			}
		}
		if st.weight != nil && v.weight == nil {
			w := uint32(max(*st.weight, 0))
			v.weight = &w
		}
	}
	return v
}

// apply gives rs's verdict to the sink if it changed; fromCheck runs the
// notify commands.
func (a *healthAgg) apply(ctx context.Context, rs director.RealServerID, fromCheck bool) {
	a.mu.Lock()
	v := a.verdictLocked(rs)
	prev, had := a.servers[rs]
	if had && prev.equal(v) || !had && !v.down && v.weight == nil {
		if !had {
			a.servers[rs] = v
		}
		a.mu.Unlock()
		return
	}
	a.servers[rs] = v
	n := a.notify[rs]
	a.mu.Unlock()

	wasDown := had && prev.down
	attrs := []any{"service", rs.Service.String(), "server", serverString(rs)}
	if v.reason != "" {
		attrs = append(attrs, "reason", v.reason)
	}
	if v.weight != nil {
		attrs = append(attrs, "weight", *v.weight)
	}
	switch {
	case v.down && !wasDown:
		a.log.Warn("real server down", attrs...)
		if fromCheck && len(n.down) > 0 {
			a.run(n.down, rs)
		}
	case !v.down && wasDown:
		a.log.Info("real server up", attrs...)
		if fromCheck && len(n.up) > 0 {
			a.run(n.up, rs)
		}
	default:
		a.log.Info("real server weight set by check", attrs...)
	}
	h := director.Health{Down: v.down, Weight: v.weight, Reason: v.reason}
	res, err := a.sink.SetHealth(ctx, rs, h)
	if err != nil {
		a.log.Error("applying real server health", append(attrs, "err", err)...)
		return
	}
	a.log.Debug("health applied", "service", rs.Service.String(), "server", serverString(rs), "writes", res.Writes)
}

func (a *healthAgg) run(argv []string, rs director.RealServerID) {
	if a.starts == nil {
		return
	}
	if err := a.starts(argv); err != nil {
		a.log.Error("notify command failed to start", "service", rs.Service.String(), "server", serverString(rs),
			"command", argv, "err", err)
	}
}

// labels returns the service, server and check name of a subscription.
func (a *healthAgg) labels(id healthcheck.ID) (service, server, check string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.subs[id]
	if !ok {
		return "", "", "", false
	}
	return s.Server.Service.String(), serverString(s.Server), s.Name, true
}

func serverString(rs director.RealServerID) string {
	return netipAddrPort(rs)
}

// subsByID returns a copy of the current subscriptions.
func (a *healthAgg) subsByID() map[healthcheck.ID]CheckSub {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[healthcheck.ID]CheckSub, len(a.subs))
	for id, s := range a.subs {
		out[id] = s
	}
	return out
}
