// Package floodtest is a hostile client of an HTTP server on a unix socket,
// for tests: it opens many connections of four kinds (keep-alive idle after
// one request, silent, slow headers, slow body) and keeps them open,
// dialing again, after a pause, each one the server closes.
//
// Start runs it in a child process (the test binary, re-executed), so the
// server's process holds only its own ends of the connections and its
// descriptor count is the server's alone; the test binary's TestMain calls
// MaybeHelper to become that child.
package floodtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Env variables that make the test binary a flood helper.
const (
	envSocket = "LB_FLOODTEST_SOCKET"
	envConns  = "LB_FLOODTEST_CONNS"
)

// Kinds of connections, opened in turn.
var kinds = []string{"idle", "silent", "slowheader", "slowbody"}

// Counts are what a flood has done so far.
type Counts struct {
	Dials, DialErrors, Closed int64 // closed: by the server
}

type flood struct {
	path                      string
	dials, dialErrors, closed atomic.Int64
}

// Run opens n connections to the socket at path and keeps them until ctx
// ends; ready is called once each has been dialed once.
func Run(ctx context.Context, path string, n int, ready func(Counts)) {
	f := &flood{path: path}
	var first, all sync.WaitGroup
	first.Add(n)
	all.Add(n)
	for i := range n {
		go func() {
			defer all.Done()
			f.keep(ctx, kinds[i%len(kinds)], first.Done)
		}()
	}
	first.Wait()
	ready(f.counts())
	<-ctx.Done()
	all.Wait()
}

func (f *flood) counts() Counts {
	return Counts{Dials: f.dials.Load(), DialErrors: f.dialErrors.Load(), Closed: f.closed.Load()}
}

// keep holds one connection of the kind open, dialing again after the
// server closes it.
func (f *flood) keep(ctx context.Context, kind string, dialed func()) {
	var once sync.Once
	defer once.Do(dialed)
	for ctx.Err() == nil {
		c, err := (&net.Dialer{}).DialContext(ctx, "unix", f.path)
		f.dials.Add(1)
		if err == nil {
			once.Do(dialed)
			f.hold(ctx, c, kind)
			c.Close()
		} else {
			f.dialErrors.Add(1)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// hold plays the kind on c until the server closes it or ctx ends.
func (f *flood) hold(ctx context.Context, c net.Conn, kind string) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	closed := make(chan struct{})
	go func() { // the server closing the connection ends the hold
		_, _ = io.Copy(io.Discard, c)
		close(closed)
	}()
	var head, trickle string
	switch kind {
	case "idle":
		head = "GET /v1/status HTTP/1.1\r\nHost: lbd\r\n\r\n"
	case "slowheader":
		head, trickle = "GET /v1/status HTTP/1.1\r\nHost: lbd\r\n", "X-Slow: 1\r\n"
	case "slowbody":
		head, trickle = "POST /v1/resync HTTP/1.1\r\nHost: lbd\r\nContent-Length: 60000\r\n\r\n", "x"
	}
	if head != "" {
		if _, err := io.WriteString(c, head); err != nil {
			<-closed
			f.closed.Add(1)
			return
		}
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-closed:
			if ctx.Err() == nil {
				f.closed.Add(1)
			}
			return
		case <-t.C:
			if trickle != "" {
				_, _ = io.WriteString(c, trickle)
			}
		}
	}
}

// MaybeHelper makes the process a flood helper when Start asked for one:
// it floods, prints "ready" with the counts, and exits when its stdin
// closes. Otherwise it returns at once. Call it first in TestMain.
func MaybeHelper() {
	path := os.Getenv(envSocket)
	if path == "" {
		return
	}
	n, err := strconv.Atoi(os.Getenv(envConns))
	if err != nil {
		fmt.Fprintln(os.Stderr, "floodtest: bad", envConns, err)
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	Run(ctx, path, n, func(c Counts) {
		fmt.Printf("ready %d %d %d\n", c.Dials, c.DialErrors, c.Closed)
	})
	os.Exit(0)
}

// Start runs a flood of n connections against the socket at path in a
// child process, returns once each connection has been dialed once, and
// stops the child at the test's end.
func Start(t testing.TB, path string, n int) Counts {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSocket+"="+path, envConns+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start flood helper: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	var c Counts
	if _, serr := fmt.Sscanf(strings.TrimSpace(line), "ready %d %d %d", &c.Dials, &c.DialErrors, &c.Closed); err != nil || serr != nil {
		t.Fatalf("flood helper: %q %v %v", line, err, serr)
	}
	return c
}

// OpenFDs counts the calling process's descriptors (the server's, when the
// flood runs in the child). A failure to count (EMFILE: the descriptors are
// gone) is a test error and counts 0.
func OpenFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Errorf("count descriptors: %v", err)
		return 0
	}
	return len(ents)
}
