package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// runner is the command's zklab.TB: the ensemble's temporary directories
// and cleanups are the command's; a fatal error runs the cleanups and
// exits 2 (no verdict: the run could not be made).
type runner struct {
	mu       sync.Mutex
	dirs     []string
	cleanups []func()
}

func (r *runner) Helper()                        {}
func (r *runner) Logf(format string, a ...any)   { fmt.Printf("  "+format+"\n", a...) }
func (r *runner) Cleanup(f func())               { r.mu.Lock(); r.cleanups = append(r.cleanups, f); r.mu.Unlock() }
func (r *runner) Fatalf(format string, a ...any) { r.fail(fmt.Errorf(format, a...)) }
func (r *runner) fail(err error)                 { r.close(); fmt.Fprintf(os.Stderr, "zkbench: %v\n", err); os.Exit(2) }
func (r *runner) TempDir() string                { return r.tempDir() }
func (r *runner) tempDir() string {
	d, err := os.MkdirTemp("", "zkbench-")
	if err != nil {
		r.fail(fmt.Errorf("temporary directory: %w", err))
	}
	r.mu.Lock()
	r.dirs = append(r.dirs, d)
	r.mu.Unlock()
	return d
}

// close runs the cleanups (last first) and removes the directories.
func (r *runner) close() {
	r.mu.Lock()
	cs, ds := r.cleanups, r.dirs
	r.cleanups, r.dirs = nil, nil
	r.mu.Unlock()
	for _, f := range slices.Backward(cs) {
		f()
	}
	for _, d := range ds {
		os.RemoveAll(d)
	}
}

// quiet drops the bench clients' log lines.
var quiet = zk.WithLogger(nopLogger{})

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// session connects a client and waits for its session.
func session(servers []string, timeout time.Duration) (*zk.Conn, error) {
	c, _, err := zk.Connect(servers, timeout, quiet)
	if err != nil {
		return nil, fmt.Errorf("zookeeper %v: %w", servers, err)
	}
	for deadline := time.Now().Add(20 * time.Second); c.State() != zk.StateHasSession; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			c.Close()
			return nil, fmt.Errorf("zookeeper %v: no session after 20 s (%v)", servers, c.State())
		}
	}
	return c, nil
}

// memberAddr is the n-th member's address ("host:port", the seed's data)
// of a block (1 or 2, 3.1 million members each): 10.w.x.y, x and y never
// 0 nor 255.
func memberAddr(block, n int) string {
	return fmt.Sprintf("10.%d.%d.%d:80", 50*block+n/(250*250), n/250%250+1, n%250+1)
}

// verbOf reads a fake kernel write's description: "create-destination
// 10.1.1.1:80 of TCP ..." gives ("create", "10.1.1.1:80").
func verbOf(what string) (verb, addr string, ok bool) {
	f := strings.Fields(what)
	if len(f) < 2 {
		return "", "", false
	}
	verb, ok = strings.CutSuffix(f[0], "-destination")
	return verb, f[1], ok
}
