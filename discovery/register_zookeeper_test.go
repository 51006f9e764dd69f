//go:build zookeeper

package discovery

import (
	"context"
	"net"
	"net/netip"
	"path"
	"regexp"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/lvsd/lb/internal/zklab"
)

// runRegistrar dials servers and keeps cfg's node registered until the
// test ends.
func runRegistrar(t *testing.T, servers []string, cfg RegisterConfig) (*Registrar, *zk.Conn) {
	t.Helper()
	conn, kick, err := Dial(servers, 2*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Retry = 200 * time.Millisecond
	r, err := NewRegistrar(conn, kick, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; conn.Close() })
	return r, conn
}

func waitRegistered(t *testing.T, r *Registrar, not string) RegStatus {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st := r.Status(); st.Registered && st.Node != not {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("not registered (other than %q): %+v", not, r.Status())
		}
	}
}

// readMembers reads base's children as a director does: Build over the
// children's data.
func readMembers(t *testing.T, c *zk.Conn, base string, f Format) Set {
	t.Helper()
	kids, _, err := c.Children(base)
	if err != nil {
		t.Fatalf("children of %s: %v", base, err)
	}
	data := map[string][]byte{}
	for _, k := range kids {
		d, _, err := c.Get(path.Join(base, k))
		if err != nil {
			t.Fatal(err)
		}
		data[k] = d
	}
	set, errs := Build(f, data, Defaults{Port: 80, Weight: 1})
	if len(errs) > 0 {
		t.Fatalf("members of %s: %v", base, errs)
	}
	return set
}

// TestZooKeeperRegistrar: on a real 3-node ensemble the registrar writes
// the seed's layout (/sgroup/sub0000000000 holding host:port, /sgroup
// created) which a watcher and Build read back; our JSON under a stable
// name with its weight, SetWeight(0) seen by a reader; Deregister deletes.
func TestZooKeeperRegistrar(t *testing.T) {
	e := zklab.Start(t, zklab.Options{})
	admin := zkAdmin(t, e)

	seed, _ := runRegistrar(t, e.Servers(), RegisterConfig{Path: "/sgroup", Prefix: "sub", Format: FormatSeed,
		Member: Member{Addr: netip.MustParseAddrPort("10.0.0.11:80")}})
	st := waitRegistered(t, seed, "")
	if !regexp.MustCompile(`^/sgroup/sub[0-9]{10}$`).MatchString(st.Node) {
		t.Errorf("node %s: want the seed's /sgroup/subNNNNNNNNNN", st.Node)
	}
	if d, stat, err := admin.Get(st.Node); err != nil || string(d) != "10.0.0.11:80" || stat.EphemeralOwner == 0 {
		t.Errorf("node data %q, stat %+v, %v: want 10.0.0.11:80, ephemeral", d, stat, err)
	}
	_, _, updates := zkWatch(t, e)
	await(t, updates, "10.0.0.11:80")

	js, _ := runRegistrar(t, e.Servers(), RegisterConfig{Path: "/lb/web", Name: "web1", Format: FormatJSON,
		Member: Member{Addr: netip.MustParseAddrPort("10.0.0.12:8080"), Weight: 3, Forwarding: "DR"}})
	st = waitRegistered(t, js, "")
	want := Member{Znode: "web1", Addr: netip.MustParseAddrPort("10.0.0.12:8080"), Weight: 3, Forwarding: "DR"}
	if got := readMembers(t, admin, "/lb/web", FormatJSON); len(got) != 1 || got[0] != want {
		t.Errorf("json members %+v, want %+v", got, want)
	}
	if err := js.SetWeight(0); err != nil {
		t.Fatal(err)
	}
	want.Weight = 0
	if got := readMembers(t, admin, "/lb/web", FormatJSON); len(got) != 1 || got[0] != want {
		t.Errorf("after SetWeight(0): %+v, want %+v", got, want)
	}
	if err := js.Deregister(); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := admin.Exists(st.Node); ok || err != nil {
		t.Errorf("after Deregister: %s exists %v, %v", st.Node, ok, err)
	}
	if err := seed.Deregister(); err != nil {
		t.Fatal(err)
	}
	await(t, updates)
}

// TestZooKeeperRegistrarExpiry: the clients reach the ensemble through
// forwarders; cutting them past the session timeout makes the servers
// expire the sessions (their ephemerals go); once through again, the
// clients get new sessions and the registrars register again, a
// sequential node under a new sequence, a stable name under the same.
func TestZooKeeperRegistrarExpiry(t *testing.T) {
	e := zklab.Start(t, zklab.Options{})
	admin := zkAdmin(t, e)
	fwd, err := zklab.ForwardEnsemble(e, func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	var via []string
	for _, f := range fwd {
		defer f.Close()
		via = append(via, f.Addr())
	}
	seq, seqConn := runRegistrar(t, via, RegisterConfig{Path: "/sgroup", Prefix: "sub",
		Member: Member{Addr: netip.MustParseAddrPort("10.0.0.11:80")}})
	stable, _ := runRegistrar(t, via, RegisterConfig{Path: "/sgroup", Name: "web2",
		Member: Member{Addr: netip.MustParseAddrPort("10.0.0.12:80")}})
	first := waitRegistered(t, seq, "")
	waitRegistered(t, stable, "")
	_, stat, err := admin.Exists(first.Node)
	if err != nil {
		t.Fatal(err)
	}
	oldSession := stat.EphemeralOwner

	cut := time.Now()
	for _, f := range fwd {
		f.Pause()
	}
	for {
		ok1, _, _ := admin.Exists(first.Node)
		ok2, _, _ := admin.Exists("/sgroup/web2")
		if !ok1 && !ok2 {
			break
		}
		if time.Since(cut) > 20*time.Second {
			t.Fatalf("the cut clients' nodes still exist after 20 s (session 2 s): %v %v", ok1, ok2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	gone := time.Since(cut)
	for _, f := range fwd {
		f.Resume()
	}
	back := time.Now()
	again := waitRegistered(t, seq, first.Node)
	st2 := waitRegistered(t, stable, "")
	_, stat, err = admin.Exists(again.Node)
	if err != nil || stat.EphemeralOwner == oldSession || stat.EphemeralOwner != seqConn.SessionID() {
		t.Errorf("re-registered %s on session %#x (old %#x, client's %#x), %v", again.Node, stat.EphemeralOwner, oldSession, seqConn.SessionID(), err)
	}
	if st2.Node != "/sgroup/web2" {
		t.Errorf("stable node %s", st2.Node)
	}
	if got := readMembers(t, admin, "/sgroup", FormatSeed); len(got) != 2 {
		t.Errorf("members after the re-registration: %+v", got)
	}
	t.Logf("cut: nodes gone (session expired) after %v; through again: %s -> %s re-registered after %v",
		gone.Round(time.Millisecond), first.Node, again.Node, time.Since(back).Round(time.Millisecond))
}
