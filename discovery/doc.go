// Package discovery takes real servers from a ZooKeeper registry: the
// members under a base path, in the seed's AppServer format (the znode's
// data is "host:port" or a bare address) or in ours (JSON: address, port,
// weight, forwarding).
//
// The pure part (member.go, set.go, tracker.go) parses members, orders them
// the same way on every director, diffs a new list against the last applied
// one, holds an update that would remove too large a share of a pool, and
// keeps the "stale since T" state while the registry is unreachable.
package discovery
