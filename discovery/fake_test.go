package discovery

import (
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"
)

// fakeZK is one base path of a ZooKeeper tree in memory, with one-shot
// watches and a session state, behind Conn.
type fakeZK struct {
	mu        sync.Mutex
	base      string
	exists    bool
	kids      map[string][]byte
	kidWatch  []chan zk.Event
	dataWatch map[string][]chan zk.Event
	state     zk.State
	kick      chan struct{}
	calls     int // requests served
}

func newFakeZK(base string) *fakeZK {
	return &fakeZK{base: base, exists: true, kids: map[string][]byte{}, dataWatch: map[string][]chan zk.Event{},
		state: zk.StateHasSession, kick: make(chan struct{}, 1)}
}

func (f *fakeZK) up() bool { return f.state == zk.StateHasSession }

func (f *fakeZK) State() zk.State { f.mu.Lock(); defer f.mu.Unlock(); return f.state }

func (f *fakeZK) Children(p string) ([]string, *zk.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.children(p)
}

func (f *fakeZK) children(p string) ([]string, *zk.Stat, error) {
	f.calls++
	if !f.up() {
		return nil, nil, zk.ErrNoServer
	}
	if p != f.base || !f.exists {
		return nil, nil, zk.ErrNoNode
	}
	var ks []string
	for k := range f.kids {
		ks = append(ks, k)
	}
	return ks, &zk.Stat{}, nil
}

func (f *fakeZK) ChildrenW(p string) ([]string, *zk.Stat, <-chan zk.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ks, st, err := f.children(p)
	if err != nil {
		return nil, nil, nil, err
	}
	ch := make(chan zk.Event, 1)
	f.kidWatch = append(f.kidWatch, ch)
	return ks, st, ch, nil
}

func (f *fakeZK) get(p string) ([]byte, string, error) {
	f.calls++
	if !f.up() {
		return nil, "", zk.ErrNoServer
	}
	dir, k := path.Split(p)
	d, ok := f.kids[k]
	if strings.TrimSuffix(dir, "/") != f.base || !ok {
		return nil, "", zk.ErrNoNode
	}
	return d, k, nil
}

func (f *fakeZK) Get(p string) ([]byte, *zk.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, _, err := f.get(p)
	return d, &zk.Stat{}, err
}

func (f *fakeZK) GetW(p string) ([]byte, *zk.Stat, <-chan zk.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, k, err := f.get(p)
	if err != nil {
		return nil, nil, nil, err
	}
	ch := make(chan zk.Event, 1)
	f.dataWatch[k] = append(f.dataWatch[k], ch)
	return d, &zk.Stat{}, ch, nil
}

// fire sends ev to the watches and forgets them.
func fire(ws []chan zk.Event, ev zk.Event) {
	for _, ch := range ws {
		ch <- ev
		close(ch)
	}
}

// set creates or changes a child (as a server would: watches fire).
func (f *fakeZK) set(k, data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, had := f.kids[k]
	f.kids[k] = []byte(data)
	if had {
		fire(f.dataWatch[k], zk.Event{Type: zk.EventNodeDataChanged, Path: path.Join(f.base, k)})
		delete(f.dataWatch, k)
		return
	}
	fire(f.kidWatch, zk.Event{Type: zk.EventNodeChildrenChanged, Path: f.base})
	f.kidWatch = nil
}

func (f *fakeZK) del(k string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.kids, k)
	fire(f.dataWatch[k], zk.Event{Type: zk.EventNodeDeleted, Path: path.Join(f.base, k)})
	delete(f.dataWatch, k)
	fire(f.kidWatch, zk.Event{Type: zk.EventNodeChildrenChanged, Path: f.base})
	f.kidWatch = nil
}

// setState changes the session state and kicks; an expired session drops
// every watch (EventNotWatching), as the client does.
func (f *fakeZK) setState(st zk.State) {
	f.mu.Lock()
	f.state = st
	if st == zk.StateExpired {
		fire(f.kidWatch, zk.Event{Type: zk.EventNotWatching})
		f.kidWatch = nil
		for k, ws := range f.dataWatch {
			fire(ws, zk.Event{Type: zk.EventNotWatching})
			delete(f.dataWatch, k)
		}
	}
	f.mu.Unlock()
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// watches counts the outstanding watches.
func (f *fakeZK) watches() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.kidWatch)
	for _, ws := range f.dataWatch {
		n += len(ws)
	}
	return n
}

func (f *fakeZK) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ks []string
	for k := range f.kids {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
