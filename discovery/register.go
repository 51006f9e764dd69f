package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// RegConn is the slice of a ZooKeeper client the registrar uses (*zk.Conn
// has it; the tests' fake too).
type RegConn interface {
	Create(path string, data []byte, flags int32, acl []zk.ACL) (string, error)
	Set(path string, data []byte, version int32) (*zk.Stat, error)
	Delete(path string, version int32) error
	Exists(path string) (bool, *zk.Stat, error)
	Children(path string) ([]string, *zk.Stat, error)
	State() zk.State
	SessionID() int64
}

// MemberData is the znode data that publishes m in format f, as
// ParseMember reads it back: "host:port" (seed; the weight and the
// forwarding method are not carried) or the JSON object.
func MemberData(f Format, m Member) ([]byte, error) {
	if !m.Addr.IsValid() || m.Addr.Port() == 0 {
		return nil, fmt.Errorf("member address %v: want an IP address and a port", m.Addr)
	}
	if err := checkMember(m); err != nil {
		return nil, err
	}
	ap := netip.AddrPortFrom(m.Addr.Addr().Unmap(), m.Addr.Port())
	switch f {
	case FormatSeed:
		return []byte(ap.String()), nil
	case FormatJSON:
		port, weight := int(ap.Port()), m.Weight
		j := jsonMember{Address: ap.Addr().String(), Port: &port, Weight: &weight}
		if m.Forwarding != "" {
			fw := m.Forwarding
			j.Forwarding = &fw
		}
		return json.Marshal(j)
	}
	return nil, fmt.Errorf("unknown format %v", f)
}

// RegisterConfig is one node's registration.
type RegisterConfig struct {
	Path   string // the base path (created, persistent, when missing)
	Name   string // "" = an EPHEMERAL_SEQUENTIAL child Prefix+sequence; else a stable ephemeral name
	Prefix string
	Format Format
	Member Member // what is published (Znode unused)
	Retry  time.Duration
	Now    func() time.Time
	Log    *slog.Logger
}

// RegStatus is the registration's state, for logs and status.
type RegStatus struct {
	Node       string    // the znode's full path; "" while not registered
	Registered bool      // the node exists on the current session
	Since      time.Time // when it was created (or the last attempt failed)
	Err        string    // the last failure, "" after a success
	Weight     int       // the published weight (json)
	Stopped    bool      // Deregister was called: no more registrations
}

// Registrar keeps one ephemeral node in place: it creates it once a
// session is up, creates it again on the next session after an expiry
// (the old one is gone with its session), rewrites its weight, and deletes
// it on Deregister.
type Registrar struct {
	cfg     RegisterConfig
	conn    RegConn
	session <-chan struct{}

	mu      sync.Mutex // serializes the ZooKeeper operations and guards below
	node    string     // full path of the node, "" when none
	owner   int64      // the session the node belongs to
	member  Member
	stopped bool

	stMu   sync.Mutex // guards status alone: Status never waits for a request
	status RegStatus
}

// NewRegistrar returns a registrar on conn; session is kicked on every
// session event (Dial's channel).
func NewRegistrar(conn RegConn, session <-chan struct{}, cfg RegisterConfig) (*Registrar, error) {
	if cfg.Path == "" || cfg.Path[0] != '/' || (len(cfg.Path) > 1 && strings.HasSuffix(cfg.Path, "/")) {
		return nil, fmt.Errorf("base path %q: want an absolute path without a trailing /", cfg.Path)
	}
	if strings.Contains(cfg.Name, "/") || strings.Contains(cfg.Prefix, "/") {
		return nil, fmt.Errorf("name %q, prefix %q: a znode name has no /", cfg.Name, cfg.Prefix)
	}
	if cfg.Name == "" && cfg.Prefix == "" {
		return nil, errors.New("neither a name nor a prefix for the sequential node")
	}
	if _, err := MemberData(cfg.Format, cfg.Member); err != nil {
		return nil, err
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Registrar{cfg: cfg, conn: conn, session: session, member: cfg.Member}
	r.status.Weight = cfg.Member.Weight
	return r, nil
}

// Status returns the registration's state.
func (r *Registrar) Status() RegStatus {
	r.stMu.Lock()
	defer r.stMu.Unlock()
	return r.status
}

// setStatus changes the status under its own lock.
func (r *Registrar) setStatus(fn func(*RegStatus)) {
	r.stMu.Lock()
	defer r.stMu.Unlock()
	fn(&r.status)
}

// forget drops the node (gone, or about to be).
func (r *Registrar) forget() {
	r.node = ""
	r.setStatus(func(st *RegStatus) { st.Node, st.Registered = "", false })
}

// Run keeps the node registered until ctx ends or Deregister is called:
// an attempt whenever a session is up without the node, again after every
// session event and every Retry after a failure.
func (r *Registrar) Run(ctx context.Context) {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		if err := r.Ensure(); err != nil {
			r.cfg.Log.Warn("register: failed; will retry", "path", r.cfg.Path, "err", err, "retry", r.cfg.Retry)
			retry.Reset(r.cfg.Retry)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.session:
		case <-retry.C:
		}
	}
}

// Ensure creates the node when the current session has none; a no-op
// when it has it, when no session is up (Run tries again on the next
// session event) or after Deregister.
func (r *Registrar) Ensure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.conn.State() != zk.StateHasSession {
		return nil
	}
	sid := r.conn.SessionID()
	if r.node != "" && r.owner == sid {
		return nil
	}
	if r.node != "" {
		r.cfg.Log.Info("register: session changed; the old node went with it", "node", r.node,
			"old_session", fmt.Sprintf("%#x", r.owner), "session", fmt.Sprintf("%#x", sid))
		r.forget()
	}
	node, err := r.create(sid)
	if err != nil {
		r.setStatus(func(st *RegStatus) { st.Err, st.Since = err.Error(), r.cfg.Now() })
		return err
	}
	r.node, r.owner = node, sid
	r.setStatus(func(st *RegStatus) {
		*st = RegStatus{Node: node, Registered: true, Since: r.cfg.Now(), Weight: r.member.Weight}
	})
	r.cfg.Log.Info("register: node created", "node", node, "session", fmt.Sprintf("%#x", sid), "data", string(r.data()))
	return nil
}

func (r *Registrar) data() []byte {
	d, _ := MemberData(r.cfg.Format, r.member) // checked by NewRegistrar and SetWeight
	return d
}

// create makes the node on session sid, creating missing parents. A
// sequential create whose answer was lost may have been made: a child of
// ours (same session) is looked for before trying again.
func (r *Registrar) create(sid int64) (string, error) {
	p, flags := path.Join(r.cfg.Path, r.cfg.Name), int32(zk.FlagEphemeral)
	if r.cfg.Name == "" {
		p, flags = path.Join(r.cfg.Path, r.cfg.Prefix), zk.FlagEphemeral|zk.FlagSequence
		if node, ok := r.adopt(sid); ok {
			return node, nil
		}
	}
	node, err := r.conn.Create(p, r.data(), flags, zk.WorldACL(zk.PermAll))
	if errors.Is(err, zk.ErrNoNode) {
		if err := r.parents(); err != nil {
			return "", err
		}
		node, err = r.conn.Create(p, r.data(), flags, zk.WorldACL(zk.PermAll))
	}
	if errors.Is(err, zk.ErrNodeExists) && r.cfg.Name != "" {
		return r.existing(p, sid)
	}
	if err != nil {
		return "", fmt.Errorf("create %s: %w", p, err)
	}
	return node, nil
}

// existing handles a stable name that is taken: ours (the same session,
// an answer lost) is kept and its data set; another session's (ours before
// a restart, until it expires, or another node's) or a persistent node is
// left alone and the registration retried.
func (r *Registrar) existing(p string, sid int64) (string, error) {
	ok, st, err := r.conn.Exists(p)
	switch {
	case err != nil:
		return "", fmt.Errorf("create %s: exists; reading it: %w", p, err)
	case !ok:
		return "", fmt.Errorf("create %s: exists, then gone: will create it again", p)
	case st.EphemeralOwner == sid:
		if _, err := r.conn.Set(p, r.data(), -1); err != nil {
			return "", fmt.Errorf("set %s: %w", p, err)
		}
		return p, nil
	case st.EphemeralOwner == 0:
		return "", fmt.Errorf("create %s: a persistent node has the name; not touching it", p)
	}
	return "", fmt.Errorf("create %s: held by session %#x (a former run's, until it expires, or another node's): waiting", p, st.EphemeralOwner)
}

// adopt finds a child Prefix+sequence that session sid already owns.
func (r *Registrar) adopt(sid int64) (string, bool) {
	kids, _, err := r.conn.Children(r.cfg.Path)
	if err != nil {
		return "", false
	}
	for _, k := range kids {
		if !strings.HasPrefix(k, r.cfg.Prefix) {
			continue
		}
		p := path.Join(r.cfg.Path, k)
		if ok, st, err := r.conn.Exists(p); err == nil && ok && st.EphemeralOwner == sid {
			return p, true
		}
	}
	return "", false
}

// parents creates the base path's missing nodes (persistent, empty).
func (r *Registrar) parents() error {
	p := ""
	for _, c := range strings.Split(strings.TrimPrefix(r.cfg.Path, "/"), "/") {
		p += "/" + c
		_, err := r.conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll))
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create parent %s: %w", p, err)
		}
	}
	return nil
}

// SetWeight publishes a new weight (format json; the seed's data has
// none): the node's data is rewritten now when registered, and every
// later registration carries it.
func (r *Registrar) SetWeight(w int) error {
	if r.cfg.Format != FormatJSON {
		return fmt.Errorf("format %v carries no weight", r.cfg.Format)
	}
	m := r.member
	m.Weight = w
	if err := checkMember(m); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.member = m
	r.setStatus(func(st *RegStatus) { st.Weight = w })
	if r.node == "" || r.conn.State() != zk.StateHasSession || r.owner != r.conn.SessionID() {
		return nil // the next registration carries it
	}
	if _, err := r.conn.Set(r.node, r.data(), -1); err != nil {
		return fmt.Errorf("set %s weight %d: %w", r.node, w, err)
	}
	return nil
}

// Deregister deletes the node and stops registering. No node (never
// registered, or gone with an expired session) is not an error.
func (r *Registrar) Deregister() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	r.setStatus(func(st *RegStatus) { st.Stopped = true })
	node := r.node
	if node == "" || r.owner != r.conn.SessionID() {
		r.forget()
		return nil
	}
	err := r.conn.Delete(node, -1)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("delete %s: %w", node, err)
	}
	r.forget()
	return nil
}
