package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Conn is the slice of a ZooKeeper client the watcher uses (*zk.Conn has
// it; the tests' fake too).
type Conn interface {
	Children(path string) ([]string, *zk.Stat, error)
	ChildrenW(path string) ([]string, *zk.Stat, <-chan zk.Event, error)
	Get(path string) ([]byte, *zk.Stat, error)
	GetW(path string) ([]byte, *zk.Stat, <-chan zk.Event, error)
	State() zk.State
}

// Dial connects to an ensemble. The returned channel is kicked (never
// blocking the client) on every session event; the watcher then reads
// the Conn's State, so no transition is lost to a full channel.
func Dial(servers []string, sessionTimeout time.Duration, log *slog.Logger) (*zk.Conn, <-chan struct{}, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kick := make(chan struct{}, 1)
	cb := func(ev zk.Event) {
		if ev.Type != zk.EventSession {
			return
		}
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	c, _, err := zk.Connect(servers, sessionTimeout, zk.WithEventCallback(cb), zk.WithLogger(zkLogger{log}))
	if err != nil {
		return nil, nil, fmt.Errorf("zookeeper %v: %w", servers, err)
	}
	return c, kick, nil
}

// zkLogger sends the client's messages to slog at debug level.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, a ...any) {
	l.log.Debug(fmt.Sprintf(format, a...), "component", "zk")
}

// Update is what the watcher reports after each list: the registry's
// members, what the tracker applied or held, and members left out.
type Update struct {
	Members Set     // as listed (applied unless Result.Held)
	Result  Result  // the change to make now, or held
	Errs    []error // children that did not parse
	Status  Status  // the tracker's state after the update
}

// WatchConfig is one base path's watch.
type WatchConfig struct {
	Path     string
	Format   Format
	Defaults Defaults
	Policy   Policy
	Retry    time.Duration // between failed lists; default 1 s
	Now      func() time.Time
	Log      *slog.Logger
	OnUpdate func(Update) // called from Run's goroutine
	OnStale  func(Status) // called when the registry is lost (members kept)
}

// Watcher follows the children of a base path and their data.
type Watcher struct {
	cfg     WatchConfig
	conn    Conn
	session <-chan struct{}

	mu      sync.Mutex // guards tracker (Status and Confirm come from other goroutines)
	tracker *Tracker

	// Run's own state.
	data      map[string][]byte // child -> data last read
	dataWatch map[string]bool   // a data watch is outstanding
	kidsWatch bool              // a children watch is outstanding
	fired     chan fired
}

type fired struct {
	child string // "" for the children watch
	ev    zk.Event
}

// NewWatcher returns a watcher of cfg.Path on conn; session is kicked on
// every session event (Dial's channel).
func NewWatcher(conn Conn, session <-chan struct{}, cfg WatchConfig) (*Watcher, error) {
	t, err := NewTracker(cfg.Policy)
	if err != nil {
		return nil, err
	}
	if cfg.Path == "" || cfg.Path[0] != '/' || (len(cfg.Path) > 1 && cfg.Path[len(cfg.Path)-1] == '/') {
		return nil, fmt.Errorf("base path %q: want an absolute path without a trailing /", cfg.Path)
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
	return &Watcher{cfg: cfg, conn: conn, session: session, tracker: t,
		data: map[string][]byte{}, dataWatch: map[string]bool{}, fired: make(chan fired)}, nil
}

// Status returns the tracker's state.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tracker.Status()
}

// Confirm applies a held update (see Tracker.Confirm).
func (w *Watcher) Confirm() (Change, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tracker.Confirm()
}

// Run follows the path until ctx ends: a list at start, after every watch
// event and after every session event while the session is up; while it
// is not, the members stay and the state is stale.
func (w *Watcher) Run(ctx context.Context) {
	need, full := true, true
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		if need && w.conn.State() == zk.StateHasSession {
			if err := w.list(ctx, full); err != nil {
				w.cfg.Log.Warn("discovery: list failed", "path", w.cfg.Path, "err", err)
				w.lost()
				retry.Reset(w.cfg.Retry)
			} else {
				need, full = false, false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.session:
			st := w.conn.State()
			if st != zk.StateHasSession {
				w.lost()
			}
			if st == zk.StateExpired {
				clear(w.dataWatch) // the server dropped every watch
				w.kidsWatch = false
			}
			need, full = true, true
		case f := <-w.fired:
			w.onFired(f)
			need = true
		case <-retry.C:
		}
	}
}

// onFired notes that a watch is spent.
func (w *Watcher) onFired(f fired) {
	if f.child == "" {
		w.kidsWatch = false
		return
	}
	if _, ok := w.dataWatch[f.child]; ok { // not a child already gone
		w.dataWatch[f.child] = false
	}
}

func (w *Watcher) lost() {
	w.mu.Lock()
	w.tracker.Lost(w.cfg.Now())
	st := w.tracker.Status()
	w.mu.Unlock()
	if w.cfg.OnStale != nil {
		w.cfg.OnStale(st)
	}
}

// list reads the children (re-reading every child's data when full) and
// applies the result.
func (w *Watcher) list(ctx context.Context, full bool) error {
	kids, err := w.children(ctx)
	if err != nil {
		return err
	}
	next := make(map[string][]byte, len(kids))
	for _, k := range kids {
		d, ok, err := w.child(ctx, k, full)
		if err != nil {
			return err
		}
		if ok {
			next[k] = d
		}
	}
	for k := range w.data {
		if _, ok := next[k]; !ok {
			delete(w.dataWatch, k) // its watch fires NodeDeleted (or already did)
		}
	}
	w.data = next
	set, errs := Build(w.cfg.Format, next, w.cfg.Defaults)
	w.mu.Lock()
	res := w.tracker.Update(w.cfg.Now(), set)
	w.tracker.Fresh()
	st := w.tracker.Status()
	w.mu.Unlock()
	if w.cfg.OnUpdate != nil {
		w.cfg.OnUpdate(Update{Members: set, Result: res, Errs: errs, Status: st})
	}
	return nil
}

func (w *Watcher) children(ctx context.Context) ([]string, error) {
	if w.kidsWatch {
		kids, _, err := w.conn.Children(w.cfg.Path)
		if err != nil {
			return nil, fmt.Errorf("children of %s: %w", w.cfg.Path, err)
		}
		return kids, nil
	}
	kids, _, ch, err := w.conn.ChildrenW(w.cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("children of %s: %w", w.cfg.Path, err)
	}
	w.kidsWatch = true
	go w.forward(ctx, "", ch)
	return kids, nil
}

// child reads one child's data: with a watch when none is outstanding, a
// plain read on a full list, else the data last read (its watch would have
// fired). ok is false when the child is already gone.
func (w *Watcher) child(ctx context.Context, k string, full bool) (data []byte, ok bool, err error) {
	p := path.Join(w.cfg.Path, k)
	switch {
	case !w.dataWatch[k]:
		var ch <-chan zk.Event
		data, _, ch, err = w.conn.GetW(p)
		if err == nil {
			w.dataWatch[k] = true
			go w.forward(ctx, k, ch)
		}
	case full:
		data, _, err = w.conn.Get(p)
	default:
		return w.data[k], true, nil
	}
	if errors.Is(err, zk.ErrNoNode) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("data of %s: %w", p, err)
	}
	return data, true, nil
}

// forward hands a watch's one event to Run.
func (w *Watcher) forward(ctx context.Context, child string, ch <-chan zk.Event) {
	select {
	case ev, ok := <-ch:
		if !ok {
			ev = zk.Event{Type: zk.EventNotWatching}
		}
		select {
		case w.fired <- fired{child: child, ev: ev}:
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
}
