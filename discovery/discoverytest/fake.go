// Package discoverytest is test infrastructure: an in-memory ZooKeeper
// tree behind discovery.Conn, with one-shot watches and a session state
// that tests move (lost, back, expired), so the daemon's discovery is
// unit-tested without Java. The real ensemble is internal/zklab's.
package discoverytest

import (
	"io"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/lvsd/lb/discovery"
)

// ZK is one ensemble's tree: directories (base paths) of children with
// data. Every connection dialed to it shares its tree and session state.
type ZK struct {
	mu        sync.Mutex
	dirs      map[string]map[string][]byte
	kidWatch  map[string][]chan zk.Event
	dataWatch map[string][]chan zk.Event // full child path -> watches
	state     zk.State
	kicks     []chan struct{}
	dials     int
	closed    int
	seq       int
}

// New returns an ensemble with a session (StateHasSession) and no paths.
func New() *ZK {
	return &ZK{dirs: map[string]map[string][]byte{}, kidWatch: map[string][]chan zk.Event{},
		dataWatch: map[string][]chan zk.Event{}, state: zk.StateHasSession}
}

// Dial is the daemon's dialer seam (daemon.Options.Discovery): a new
// connection to this ensemble.
func (z *ZK) Dial(servers []string, timeout time.Duration) (discovery.Conn, <-chan struct{}, io.Closer, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.dials++
	kick := make(chan struct{}, 1)
	z.kicks = append(z.kicks, kick)
	c := &conn{z: z, kick: kick}
	return c, kick, c, nil
}

// Dials and Closed count the connections dialed and closed.
func (z *ZK) Dials() (dials, closed int) {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.dials, z.closed
}

type conn struct {
	z    *ZK
	kick chan struct{}
	once sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.z.mu.Lock()
		defer c.z.mu.Unlock()
		c.z.closed++
		c.z.kicks = slices.DeleteFunc(c.z.kicks, func(k chan struct{}) bool { return k == c.kick })
	})
	return nil
}

func (c *conn) State() zk.State {
	c.z.mu.Lock()
	defer c.z.mu.Unlock()
	return c.z.state
}

func (c *conn) Children(p string) ([]string, *zk.Stat, error) {
	c.z.mu.Lock()
	defer c.z.mu.Unlock()
	return c.z.children(p)
}

func (c *conn) ChildrenW(p string) ([]string, *zk.Stat, <-chan zk.Event, error) {
	c.z.mu.Lock()
	defer c.z.mu.Unlock()
	ks, st, err := c.z.children(p)
	if err != nil {
		return nil, nil, nil, err
	}
	ch := make(chan zk.Event, 1)
	c.z.kidWatch[p] = append(c.z.kidWatch[p], ch)
	return ks, st, ch, nil
}

func (c *conn) Get(p string) ([]byte, *zk.Stat, error) {
	c.z.mu.Lock()
	defer c.z.mu.Unlock()
	d, err := c.z.get(p)
	return d, &zk.Stat{}, err
}

func (c *conn) GetW(p string) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	c.z.mu.Lock()
	defer c.z.mu.Unlock()
	d, err := c.z.get(p)
	if err != nil {
		return nil, nil, nil, err
	}
	ch := make(chan zk.Event, 1)
	c.z.dataWatch[p] = append(c.z.dataWatch[p], ch)
	return d, &zk.Stat{}, ch, nil
}

func (z *ZK) children(p string) ([]string, *zk.Stat, error) {
	if z.state != zk.StateHasSession {
		return nil, nil, zk.ErrNoServer
	}
	kids, ok := z.dirs[p]
	if !ok {
		return nil, nil, zk.ErrNoNode
	}
	ks := make([]string, 0, len(kids))
	for k := range kids {
		ks = append(ks, k)
	}
	return ks, &zk.Stat{}, nil
}

func (z *ZK) get(p string) ([]byte, error) {
	if z.state != zk.StateHasSession {
		return nil, zk.ErrNoServer
	}
	dir, k := path.Split(p)
	d, ok := z.dirs[path.Clean(dir)][k]
	if !ok {
		return nil, zk.ErrNoNode
	}
	return d, nil
}

// fire sends ev to the watches and forgets them.
func fire(ws []chan zk.Event, ev zk.Event) {
	for _, ch := range ws {
		ch <- ev
		close(ch)
	}
}

// Mkdir creates a base path (empty).
func (z *ZK) Mkdir(dir string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if _, ok := z.dirs[dir]; !ok {
		z.dirs[dir] = map[string][]byte{}
	}
}

// Set creates or changes child k of dir (creating dir), as a server would:
// the watches fire.
func (z *ZK) Set(dir, k, data string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.set(dir, k, data)
}

func (z *ZK) set(dir, k, data string) {
	kids, ok := z.dirs[dir]
	if !ok {
		kids = map[string][]byte{}
		z.dirs[dir] = kids
	}
	_, had := kids[k]
	kids[k] = []byte(data)
	p := path.Join(dir, k)
	if had {
		fire(z.dataWatch[p], zk.Event{Type: zk.EventNodeDataChanged, Path: p})
		delete(z.dataWatch, p)
		return
	}
	fire(z.kidWatch[dir], zk.Event{Type: zk.EventNodeChildrenChanged, Path: dir})
	delete(z.kidWatch, dir)
}

// Create adds an EPHEMERAL_SEQUENTIAL-like child prefix+10 digits, as the
// seed's AppServer does, and returns its name.
func (z *ZK) Create(dir, prefix, data string) string {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.seq++
	k := prefix + pad10(z.seq)
	z.set(dir, k, data)
	return k
}

func pad10(n int) string {
	s := make([]byte, 10)
	for i := 9; i >= 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}

// Delete removes children of dir, all in one step (one children event).
func (z *ZK) Delete(dir string, kids ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, k := range kids {
		delete(z.dirs[dir], k)
		p := path.Join(dir, k)
		fire(z.dataWatch[p], zk.Event{Type: zk.EventNodeDeleted, Path: p})
		delete(z.dataWatch, p)
	}
	fire(z.kidWatch[dir], zk.Event{Type: zk.EventNodeChildrenChanged, Path: dir})
	delete(z.kidWatch, dir)
}

// Children lists dir's children, sorted.
func (z *ZK) Children(dir string) []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	var ks []string
	for k := range z.dirs[dir] {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// SetState moves every connection's session (StateDisconnected: the
// ensemble lost; StateHasSession: back; StateExpired: the watches are
// dropped) and kicks the watchers.
func (z *ZK) SetState(st zk.State) {
	z.mu.Lock()
	z.state = st
	if st == zk.StateExpired {
		for d, ws := range z.kidWatch {
			fire(ws, zk.Event{Type: zk.EventNotWatching})
			delete(z.kidWatch, d)
		}
		for p, ws := range z.dataWatch {
			fire(ws, zk.Event{Type: zk.EventNotWatching})
			delete(z.dataWatch, p)
		}
	}
	kicks := slices.Clone(z.kicks)
	z.mu.Unlock()
	for _, k := range kicks {
		select {
		case k <- struct{}{}:
		default:
		}
	}
}
