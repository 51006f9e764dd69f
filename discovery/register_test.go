package discovery

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// fakeTree is a whole ZooKeeper tree in memory behind RegConn: ephemeral
// owners, sequence numbers per parent, a session that can expire.
type fakeTree struct {
	mu      sync.Mutex
	nodes   map[string]*fakeNode
	seq     map[string]int
	state   zk.State
	session int64
	ops     []string // "create /a", "set /a", "delete /a"
	failNth map[string]error
	block   chan struct{} // Create waits for it (no server answering) when set
}

type fakeNode struct {
	data  []byte
	owner int64
}

func newFakeTree() *fakeTree {
	return &fakeTree{nodes: map[string]*fakeNode{"/": {}}, seq: map[string]int{}, state: zk.StateHasSession, session: 0x100}
}

func (f *fakeTree) State() zk.State  { f.mu.Lock(); defer f.mu.Unlock(); return f.state }
func (f *fakeTree) SessionID() int64 { f.mu.Lock(); defer f.mu.Unlock(); return f.session }
func (f *fakeTree) log(op, p string) { f.ops = append(f.ops, op+" "+p) }
func (f *fakeTree) up() error {
	return map[bool]error{true: nil, false: zk.ErrNoServer}[f.state == zk.StateHasSession]
}
func (f *fakeTree) fail(op string) error { return f.failNth[op] }

func (f *fakeTree) Create(p string, data []byte, flags int32, _ []zk.ACL) (string, error) {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.up(); err != nil {
		return "", err
	}
	if err := f.fail("create"); err != nil {
		delete(f.failNth, "create")
		return "", err
	}
	parent := path.Dir(p)
	if _, ok := f.nodes[parent]; !ok {
		return "", zk.ErrNoNode
	}
	if flags&zk.FlagSequence != 0 {
		p = fmt.Sprintf("%s%010d", p, f.seq[parent])
		f.seq[parent]++
	}
	if _, ok := f.nodes[p]; ok {
		return "", zk.ErrNodeExists
	}
	n := &fakeNode{data: slices.Clone(data)}
	if flags&zk.FlagEphemeral != 0 {
		n.owner = f.session
	}
	f.nodes[p] = n
	f.log("create", p)
	return p, nil
}

func (f *fakeTree) Set(p string, data []byte, _ int32) (*zk.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.up(); err != nil {
		return nil, err
	}
	n, ok := f.nodes[p]
	if !ok {
		return nil, zk.ErrNoNode
	}
	n.data = slices.Clone(data)
	f.log("set", p)
	return &zk.Stat{}, nil
}

func (f *fakeTree) Delete(p string, _ int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.up(); err != nil {
		return err
	}
	if _, ok := f.nodes[p]; !ok {
		return zk.ErrNoNode
	}
	delete(f.nodes, p)
	f.log("delete", p)
	return nil
}

func (f *fakeTree) Exists(p string) (bool, *zk.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.up(); err != nil {
		return false, nil, err
	}
	n, ok := f.nodes[p]
	if !ok {
		return false, nil, nil
	}
	return true, &zk.Stat{EphemeralOwner: n.owner}, nil
}

func (f *fakeTree) Children(p string) ([]string, *zk.Stat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.up(); err != nil {
		return nil, nil, err
	}
	if _, ok := f.nodes[p]; !ok {
		return nil, nil, zk.ErrNoNode
	}
	var kids []string
	for q := range f.nodes {
		if q != p && path.Dir(q) == p {
			kids = append(kids, path.Base(q))
		}
	}
	slices.Sort(kids)
	return kids, &zk.Stat{}, nil
}

// expire ends the session as the server does: its ephemerals go; a new
// session (new id) follows when up.
func (f *fakeTree) expire(up bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, n := range f.nodes {
		if n.owner == f.session {
			delete(f.nodes, p)
		}
	}
	f.state = zk.StateExpired
	if up {
		f.session++
		f.state = zk.StateHasSession
	}
}

func (f *fakeTree) data(p string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.nodes[p]
	if !ok {
		return "", false
	}
	return string(n.data), true
}

func (f *fakeTree) owner(p string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.nodes[p]; ok {
		return n.owner
	}
	return -1
}

func (f *fakeTree) children(p string) []string {
	kids, _, _ := f.Children(p)
	return kids
}

var web1 = Member{Addr: netip.MustParseAddrPort("10.0.0.11:80"), Weight: 1, Forwarding: "DR"}

func newReg(t *testing.T, f *fakeTree, cfg RegisterConfig) *Registrar {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = "/sgroup"
	}
	if cfg.Name == "" && cfg.Prefix == "" {
		cfg.Prefix = "sub"
	}
	if !cfg.Member.Addr.IsValid() {
		cfg.Member = web1
	}
	r, err := NewRegistrar(f, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// MemberData writes what ParseMember reads back, in both formats.
func TestMemberDataRoundTrip(t *testing.T) {
	tests := []struct {
		f    Format
		m    Member
		data string
		back Member
	}{
		{FormatSeed, web1, "10.0.0.11:80", Member{Znode: "sub0000000001", Addr: web1.Addr, Weight: 1}},
		{FormatSeed, Member{Addr: netip.MustParseAddrPort("[2001:db8::11]:8080")}, "[2001:db8::11]:8080",
			Member{Znode: "sub0000000001", Addr: netip.MustParseAddrPort("[2001:db8::11]:8080"), Weight: 1}},
		{FormatJSON, Member{Addr: web1.Addr, Weight: 0, Forwarding: "TUN"}, `{"address":"10.0.0.11","port":80,"weight":0,"forwarding":"TUN"}`,
			Member{Znode: "sub0000000001", Addr: web1.Addr, Weight: 0, Forwarding: "TUN"}},
	}
	for _, tt := range tests {
		d, err := MemberData(tt.f, tt.m)
		if err != nil || string(d) != tt.data {
			t.Errorf("MemberData(%v, %v) = %s, %v; want %s", tt.f, tt.m, d, err, tt.data)
			continue
		}
		got, err := ParseMember(tt.f, "sub0000000001", d, Defaults{Weight: 1})
		if err != nil || got != tt.back {
			t.Errorf("ParseMember(%s) = %+v, %v; want %+v", d, got, err, tt.back)
		}
	}
	for _, bad := range []Member{{}, {Addr: netip.MustParseAddrPort("10.0.0.1:0")}, {Addr: web1.Addr, Weight: 70000}} {
		if _, err := MemberData(FormatJSON, bad); err == nil {
			t.Errorf("MemberData(%+v): no error", bad)
		}
	}
}

// The seed's layout: missing parents created persistent, the node
// EPHEMERAL_SEQUENTIAL prefix+sequence holding host:port; Ensure is then
// a no-op on the same session.
func TestRegistrarSequential(t *testing.T) {
	f := newFakeTree()
	r := newReg(t, f, RegisterConfig{Path: "/lb/sgroup"})
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	want := []string{"create /lb", "create /lb/sgroup", "create /lb/sgroup/sub0000000000"}
	if !slices.Equal(f.ops, want) {
		t.Errorf("ops = %q, want %q", f.ops, want)
	}
	if d, _ := f.data("/lb/sgroup/sub0000000000"); d != "10.0.0.11:80" {
		t.Errorf("data = %q", d)
	}
	if f.nodes["/lb"].owner != 0 || f.nodes["/lb/sgroup/sub0000000000"].owner != 0x100 {
		t.Errorf("parents must be persistent, the node ephemeral: %+v %+v", f.nodes["/lb"], f.nodes["/lb/sgroup/sub0000000000"])
	}
	if st := r.Status(); !st.Registered || st.Node != "/lb/sgroup/sub0000000000" {
		t.Errorf("status = %+v", st)
	}
}

// Session expiry: the old ephemeral is gone with the session; nothing is
// tried while no session is up; the next session gets a new node.
func TestRegistrarExpiry(t *testing.T) {
	for _, name := range []string{"", "web1"} {
		t.Run("name="+name, func(t *testing.T) {
			f := newFakeTree()
			r := newReg(t, f, RegisterConfig{Name: name})
			if err := r.Ensure(); err != nil {
				t.Fatal(err)
			}
			first := r.Status().Node
			f.expire(false)
			if err := r.Ensure(); err != nil || len(f.children("/sgroup")) != 0 {
				t.Fatalf("no session: Ensure = %v, children %v", err, f.children("/sgroup"))
			}
			f.expire(true)
			if err := r.Ensure(); err != nil {
				t.Fatal(err)
			}
			st := r.Status()
			if !st.Registered || f.nodes[st.Node] == nil || f.nodes[st.Node].owner != 0x101 {
				t.Fatalf("after expiry: status %+v, tree %v", st, f.children("/sgroup"))
			}
			if name == "" && st.Node == first {
				t.Errorf("a sequential node comes back under a new sequence, got the old %s", first)
			}
			if name != "" && st.Node != "/sgroup/web1" {
				t.Errorf("stable node = %s", st.Node)
			}
		})
	}
}

// A stable name already taken: by another session (a former run's until
// it expires): wait, touch nothing; by a persistent node: refuse; by this
// session (an answer lost): adopt it and set its data.
func TestRegistrarStableNameExists(t *testing.T) {
	tests := []struct {
		name    string
		owner   int64
		wantErr string
		adopted bool
	}{
		{"former session", 0x99, "held by session 0x99", false},
		{"persistent", 0, "a persistent node has the name", false},
		{"this session", 0x100, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTree()
			f.nodes["/sgroup"] = &fakeNode{}
			f.nodes["/sgroup/web1"] = &fakeNode{data: []byte("old"), owner: tt.owner}
			r := newReg(t, f, RegisterConfig{Name: "web1"})
			err := r.Ensure()
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Ensure = %v, want %q", err, tt.wantErr)
			}
			d, _ := f.data("/sgroup/web1")
			if tt.adopted != (d == "10.0.0.11:80") || r.Status().Registered != tt.adopted {
				t.Errorf("data %q, status %+v: adopted want %v", d, r.Status(), tt.adopted)
			}
			if !tt.adopted {
				// The former session expires: the next attempt succeeds.
				delete(f.nodes, "/sgroup/web1")
				if err := r.Ensure(); err != nil || !r.Status().Registered {
					t.Errorf("after the old node went: %v, %+v", err, r.Status())
				}
			}
		})
	}
}

// A sequential create whose answer was lost but which was made: the
// retry adopts the node of this session instead of making a second one.
func TestRegistrarSequentialLostAnswer(t *testing.T) {
	f := newFakeTree()
	f.nodes["/sgroup"] = &fakeNode{}
	f.nodes["/sgroup/sub0000000007"] = &fakeNode{data: []byte("10.0.0.11:80"), owner: 0x100}
	f.nodes["/sgroup/sub0000000008"] = &fakeNode{data: []byte("10.0.0.12:80"), owner: 0x55}
	r := newReg(t, f, RegisterConfig{})
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	if got := r.Status().Node; got != "/sgroup/sub0000000007" || len(f.ops) != 0 {
		t.Errorf("node %s, ops %q: want the session's own node adopted, nothing created", got, f.ops)
	}
}

// SetWeight (json) rewrites the data with the new weight, which a later
// registration carries too; the seed format refuses it.
func TestRegistrarWeight(t *testing.T) {
	f := newFakeTree()
	r := newReg(t, f, RegisterConfig{Format: FormatJSON})
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := r.SetWeight(0); err != nil {
		t.Fatal(err)
	}
	node := r.Status().Node
	d, _ := f.data(node)
	m, err := ParseMember(FormatJSON, "x", []byte(d), Defaults{Weight: 1})
	if err != nil || m.Weight != 0 || m.Addr != web1.Addr || m.Forwarding != "DR" {
		t.Errorf("after SetWeight(0): %s -> %+v, %v", d, m, err)
	}
	f.expire(true)
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	if d, _ := f.data(r.Status().Node); !strings.Contains(d, `"weight":0`) {
		t.Errorf("re-registered with %s, want weight 0", d)
	}
	if err := r.SetWeight(70000); err == nil {
		t.Error("SetWeight(70000): no error")
	}
	seed := newReg(t, newFakeTree(), RegisterConfig{})
	if err := seed.SetWeight(0); err == nil {
		t.Error("seed format SetWeight: no error")
	}
}

// Deregister deletes the node and stops registering; no node is fine.
func TestRegistrarDeregister(t *testing.T) {
	f := newFakeTree()
	r := newReg(t, f, RegisterConfig{})
	if err := r.Deregister(); err != nil {
		t.Fatalf("Deregister before any node: %v", err)
	}
	f2 := newFakeTree()
	r = newReg(t, f2, RegisterConfig{})
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := r.Deregister(); err != nil {
		t.Fatal(err)
	}
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	if kids := f2.children("/sgroup"); len(kids) != 0 || !r.Status().Stopped {
		t.Errorf("after Deregister: children %v, status %+v", kids, r.Status())
	}
	// An expired session took the node already: nothing to delete.
	f3 := newFakeTree()
	r = newReg(t, f3, RegisterConfig{})
	r.Ensure()
	f3.expire(true)
	if err := r.Deregister(); err != nil || slices.Contains(f3.ops, "delete /sgroup/sub0000000000") {
		t.Errorf("Deregister after expiry: %v, ops %q", err, f3.ops)
	}
}

// Run retries a failed registration and follows session events.
func TestRegistrarRun(t *testing.T) {
	f := newFakeTree()
	f.failNth = map[string]error{"create": zk.ErrConnectionClosed}
	kick := make(chan struct{}, 1)
	r, err := NewRegistrar(f, kick, RegisterConfig{Path: "/sgroup", Prefix: "sub", Member: web1, Retry: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return r.Status().Registered })
	f.expire(true)
	kick <- struct{}{}
	waitFor(t, func() bool {
		st := r.Status()
		return st.Registered && f.owner(st.Node) == 0x101
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
	}
}

// Status answers while a request waits for a server (the stop and the
// log read it; they must not hang on an unreachable ensemble).
func TestRegistrarStatusNeverWaits(t *testing.T) {
	f := newFakeTree()
	f.block = make(chan struct{})
	r := newReg(t, f, RegisterConfig{})
	done := make(chan error, 1)
	go func() { done <- r.Ensure() }()
	got := make(chan RegStatus, 1)
	go func() { time.Sleep(10 * time.Millisecond); got <- r.Status() }()
	select {
	case st := <-got:
		if st.Registered {
			t.Errorf("registered before the create answered: %+v", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Status waits for a request in flight")
	}
	close(f.block)
	if err := <-done; err != nil || !r.Status().Registered {
		t.Errorf("after the answer: %v, %+v", err, r.Status())
	}
}
