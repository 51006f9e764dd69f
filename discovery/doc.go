// Package discovery takes real servers from a ZooKeeper registry: the
// members under a base path, in the seed's AppServer format (the znode's
// data is "host:port" or a bare address) or in ours (JSON: address, port,
// weight, forwarding).
//
// The pure part (member.go, set.go, tracker.go) parses members, orders them
// the same way on every director, diffs a new list against the last applied
// one, holds an update that would remove too large a share of a pool, and
// keeps the "stale since T" state while the registry is unreachable.
//
// The watcher (watch.go) follows a base path's children and their data
// through a narrow ZooKeeper seam (Conn; *zk.Conn from go-zookeeper/zk is
// the real one, fake_test.go the unit tests' double). Session lost: the
// members stay and the state is stale. Session back: a full re-list, applied
// as a diff. The real ensemble is proven by the tests tagged zookeeper.
package discovery
