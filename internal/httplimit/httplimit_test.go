package httplimit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// serve runs h under lim on a loopback listener and returns its address.
func serve(t *testing.T, h http.Handler, lim Limits) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs, hl := Server(l, h, lim)
	go func() { _ = hs.Serve(hl) }()
	t.Cleanup(func() { _ = hs.Close() })
	return l.Addr().String()
}

// get sends one request on a new connection and returns its status line's
// code, or an error (a deadline of d).
func get(addr, path string, d time.Duration) (int, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(d))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// TestLimitEvictsTheIdlest: at the limit, a new client takes the place of
// the connection that has waited longest for its client; the newer idle one
// stays.
func TestLimitEvictsTheIdlest(t *testing.T) {
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), Limits{MaxConns: 2})
	var silent [2]net.Conn
	for i := range silent {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent[i] = c
		time.Sleep(50 * time.Millisecond) // the first has waited longer
	}
	if code, err := get(addr, "/", 5*time.Second); err != nil || code != 200 {
		t.Fatalf("a client at the limit: %d %v", code, err)
	}
	silent[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent[0].Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("the idlest connection: read %v, want EOF (evicted)", err)
	}
	silent[1].SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := silent[1].Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the newer idle connection: read %v, want it still open", err)
	}
}

// TestLimitNeverEvictsAHandler: requests in their handler keep their
// connections; a new client waits for one of them to end, then is served.
func TestLimitNeverEvictsAHandler(t *testing.T) {
	release := make(chan struct{})
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
	}), Limits{MaxConns: 2})
	slow := make(chan error, 2)
	for range 2 {
		go func() {
			code, err := get(addr, "/slow", 10*time.Second)
			if err == nil && code != 200 {
				err = fmt.Errorf("HTTP %d", code)
			}
			slow <- err
		}()
	}
	time.Sleep(200 * time.Millisecond) // both in their handler
	fast := make(chan error, 1)
	go func() {
		code, err := get(addr, "/fast", 10*time.Second)
		if err == nil && code != 200 {
			err = fmt.Errorf("HTTP %d", code)
		}
		fast <- err
	}()
	select {
	case err := <-fast:
		t.Fatalf("served beyond the limit while both slots were in a handler: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	for range 2 {
		if err := <-slow; err != nil {
			t.Errorf("a request in its handler lost its connection: %v", err)
		}
	}
	if err := <-fast; err != nil {
		t.Errorf("the waiting client: %v", err)
	}
}
