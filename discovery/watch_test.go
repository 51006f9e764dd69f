package discovery

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// harness runs a Watcher on a fake and collects what it reports.
type harness struct {
	t       *testing.T
	zk      *fakeZK
	w       *Watcher
	updates chan Update
	stale   chan Status
}

func startWatcher(t *testing.T, f *fakeZK, p Policy) *harness {
	t.Helper()
	h := &harness{t: t, zk: f, updates: make(chan Update, 100), stale: make(chan Status, 100)}
	w, err := NewWatcher(f, f.kick, WatchConfig{Path: "/sgroup", Format: FormatSeed, Defaults: Defaults{Port: 80, Weight: 1},
		Policy: p, Retry: 20 * time.Millisecond,
		OnUpdate: func(u Update) { h.updates <- u }, OnStale: func(s Status) { h.stale <- s }})
	if err != nil {
		t.Fatal(err)
	}
	h.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// next waits for an update whose applied or held members have the
// addresses want (earlier updates on the way there are skipped).
func (h *harness) next(want ...string) Update {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case u := <-h.updates:
			if slices.Equal(addrsOf(u.Members), want) {
				return u
			}
		case <-deadline:
			h.t.Fatalf("no update with members %v; registry %v, status %+v", want, h.zk.names(), h.w.Status())
		}
	}
}

func addrsOf(s Set) []string {
	out := []string{}
	for _, m := range s {
		out = append(out, m.Addr.String())
	}
	return out
}

func (h *harness) waitStale() Status {
	h.t.Helper()
	select {
	case s := <-h.stale:
		return s
	case <-time.After(10 * time.Second):
		h.t.Fatal("never stale")
	}
	return Status{}
}

func TestWatcherFollowsChildrenAndData(t *testing.T) {
	f := newFakeZK("/sgroup")
	f.set("sub0000000002", "10.0.0.2:80")
	f.set("sub0000000001", "10.0.0.1")
	h := startWatcher(t, f, Policy{HoldShare: 1})
	u := h.next("10.0.0.1:80", "10.0.0.2:80")
	if len(u.Result.Apply.Added) != 2 || u.Status.Stale {
		t.Fatalf("first update %+v", u)
	}
	f.set("sub0000000003", "10.0.0.3:8080")
	u = h.next("10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:8080")
	if len(u.Result.Apply.Added) != 1 || u.Result.Apply.Added[0].Znode != "sub0000000003" {
		t.Fatalf("join: %+v", u.Result)
	}
	f.set("sub0000000002", "10.0.0.9:80") // the data changes: a new address
	u = h.next("10.0.0.1:80", "10.0.0.3:8080", "10.0.0.9:80")
	if len(u.Result.Apply.Added) != 1 || len(u.Result.Apply.Removed) != 1 {
		t.Fatalf("data change: %+v", u.Result)
	}
	f.del("sub0000000001")
	u = h.next("10.0.0.3:8080", "10.0.0.9:80")
	if len(u.Result.Apply.Removed) != 1 || u.Result.Apply.Removed[0].Znode != "sub0000000001" {
		t.Fatalf("leave: %+v", u.Result)
	}
	f.set("bad", "not-an-address")
	u = h.next("10.0.0.3:8080", "10.0.0.9:80")
	for len(u.Errs) == 0 { // the bad child's own list may come after one without it
		u = h.next("10.0.0.3:8080", "10.0.0.9:80")
	}
	if !u.Result.Apply.Empty() {
		t.Fatalf("a bad child changed the set: %+v", u.Result)
	}
}

// TestWatcherSessionLoss: while the session is down the members stay and
// the state is stale; the changes made meanwhile come as one diff on
// reconnect. An expired session's watches are set again.
func TestWatcherSessionLoss(t *testing.T) {
	for _, lost := range []zk.State{zk.StateDisconnected, zk.StateExpired} {
		t.Run(lost.String(), func(t *testing.T) {
			f := newFakeZK("/sgroup")
			for i := 1; i <= 4; i++ {
				f.set(fmt.Sprintf("sub%010d", i), fmt.Sprintf("10.0.0.%d:80", i))
			}
			h := startWatcher(t, f, Policy{})
			h.next("10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80")
			before := time.Now()
			f.setState(lost)
			st := h.waitStale()
			if !st.Stale || st.StaleSince.Before(before) || len(st.Applied) != 4 {
				t.Fatalf("stale status %+v: want stale, 4 members kept", st)
			}
			f.mu.Lock() // changes the client cannot see yet
			f.kids["sub0000000005"] = []byte("10.0.0.5:80")
			delete(f.kids, "sub0000000001")
			f.mu.Unlock()
			f.setState(zk.StateHasSession)
			u := h.next("10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80")
			if len(u.Result.Apply.Added) != 1 || len(u.Result.Apply.Removed) != 1 || u.Status.Stale {
				t.Fatalf("reconnect diff %+v, status %+v", u.Result, u.Status)
			}
			f.set("sub0000000006", "10.0.0.6:80") // the watches work again
			h.next("10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80", "10.0.0.6:80")
		})
	}
}

// TestWatcherHoldsMassRemoval: 2 of 3 members vanish while the session is
// down; the re-list is held, the applied set stays, Confirm applies it.
func TestWatcherHoldsMassRemoval(t *testing.T) {
	f := newFakeZK("/sgroup")
	for i := 1; i <= 3; i++ {
		f.set(fmt.Sprintf("sub%010d", i), fmt.Sprintf("10.0.0.%d:80", i))
	}
	h := startWatcher(t, f, Policy{})
	h.next("10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")
	f.setState(zk.StateDisconnected)
	h.waitStale()
	f.mu.Lock()
	delete(f.kids, "sub0000000001")
	delete(f.kids, "sub0000000002")
	f.mu.Unlock()
	f.setState(zk.StateHasSession)
	u := h.next("10.0.0.3:80")
	if !u.Result.Held || !u.Result.Apply.Empty() || len(u.Status.Applied) != 3 || !u.Status.Holding {
		t.Fatalf("mass removal not held: %+v", u)
	}
	c, ok := h.w.Confirm()
	if !ok || len(c.Removed) != 2 || len(h.w.Status().Applied) != 1 {
		t.Fatalf("Confirm: %+v %v", c, ok)
	}
}

// TestWatcherRetriesMissingPath: no base path yet -> stale, retried; the
// path appears -> members, fresh.
func TestWatcherRetriesMissingPath(t *testing.T) {
	f := newFakeZK("/sgroup")
	f.exists = false
	h := startWatcher(t, f, Policy{})
	h.waitStale()
	f.mu.Lock()
	f.exists = true
	f.kids["sub0000000001"] = []byte("10.0.0.1:80")
	f.mu.Unlock()
	if u := h.next("10.0.0.1:80"); u.Status.Stale {
		t.Fatalf("still stale after a good list: %+v", u.Status)
	}
}

// TestWatcherWatchesBounded: churn and reconnects never pile up watches:
// at most one per child and one for the children.
func TestWatcherWatchesBounded(t *testing.T) {
	f := newFakeZK("/sgroup")
	for i := 1; i <= 5; i++ {
		f.set(fmt.Sprintf("sub%010d", i), fmt.Sprintf("10.0.0.%d:80", i))
	}
	h := startWatcher(t, f, Policy{HoldShare: 1})
	h.next("10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80")
	for round := range 50 {
		f.set("sub0000000001", fmt.Sprintf("10.0.1.%d:80", round+1))
		h.next("10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80", fmt.Sprintf("10.0.1.%d:80", round+1))
		if round%10 == 0 {
			f.setState(zk.StateDisconnected)
			h.waitStale()
			f.setState(zk.StateHasSession)
			h.next("10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80", "10.0.0.5:80", fmt.Sprintf("10.0.1.%d:80", round+1))
		}
	}
	if n := f.watches(); n > 6 {
		t.Fatalf("%d watches outstanding for 5 children", n)
	}
}

func TestNewWatcherRefusesBadPath(t *testing.T) {
	for _, p := range []string{"", "sgroup", "/sgroup/"} {
		if _, err := NewWatcher(newFakeZK(p), nil, WatchConfig{Path: p}); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
	if _, err := NewWatcher(newFakeZK("/a"), nil, WatchConfig{Path: "/a", Policy: Policy{HoldShare: 2}}); err == nil {
		t.Error("hold share 2 accepted")
	}
}
