package control_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/httplimit"
	"github.com/lvsd/lb/internal/httplimit/floodtest"
)

func TestMain(m *testing.M) {
	floodtest.MaybeHelper() // the child of floodtest.Start
	os.Exit(m.Run())
}

// TestFloodKeepsServing: 2,000 hostile connections (idle keep-alive,
// silent, slow headers, slow bodies, each dialed again when closed) hold at
// most MaxConns of the server's descriptors, and a normal client still gets
// its status. Before the limits the server held one descriptor per
// connection, for ever.
func TestFloodKeepsServing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	_, stop := serve(t, control.ServerConfig{Path: path, Daemon: &sources{}})
	defer stop()
	c := control.NewClient(path)
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := floodtest.OpenFDs(t)
	const conns = 2000
	fc := floodtest.Start(t, path, conns)
	t.Logf("flood: %d connections dialed (%d dial errors)", fc.Dials, fc.DialErrors)

	maxFDs, maxLatency := 0, time.Duration(0)
	for range 4 {
		if n := floodtest.OpenFDs(t); n > maxFDs {
			maxFDs = n
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t0 := time.Now()
		st, err := c.Status(ctx)
		cancel()
		if d := time.Since(t0); d > maxLatency {
			maxLatency = d
		}
		if err != nil || st.Daemon.PID != 42 {
			t.Fatalf("status during the flood: %+v %v", st.Daemon, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("during a flood of %d connections: server descriptors %d -> max %d (bound %d); status latency max %v",
		conns, base, maxFDs, base+httplimit.DefaultMaxConns+8, maxLatency)
	if maxFDs > base+httplimit.DefaultMaxConns+8 {
		t.Errorf("the server holds %d descriptors during the flood, %d before: not bounded by %d connections",
			maxFDs, base, httplimit.DefaultMaxConns)
	}
	// A protocol bound, not a timing figure: the status waits at most for
	// a few grace periods of eviction, far below the 5 s header timeout a
	// slow client would otherwise hold a slot for.
	if maxLatency > 10*time.Second {
		t.Errorf("status took %v during the flood", maxLatency)
	}
}

// rawGet sends one keep-alive GET on c and reads its answer.
func rawGet(c net.Conn, br *bufio.Reader, path string) (*http.Response, error) {
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: lbd\r\n\r\n", path); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}

// TestIdleConnectionsClosed: a keep-alive connection idle past the idle
// timeout is closed by the server (before: kept for ever).
func TestIdleConnectionsClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	const idle = 300 * time.Millisecond
	_, stop := serve(t, control.ServerConfig{Path: path, Daemon: &sources{}, Limits: httplimit.Limits{IdleTimeout: idle}})
	defer stop()
	base := floodtest.OpenFDs(t)
	const n = 10
	type result struct {
		closedAfter time.Duration
		err         error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			c, err := net.Dial("unix", path)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			if resp, err := rawGet(c, br, "/v1/status"); err != nil || resp.StatusCode != 200 {
				results <- result{err: fmt.Errorf("first request: %v", err)}
				return
			}
			t0 := time.Now()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = br.ReadByte()
			if !errors.Is(err, io.EOF) {
				results <- result{err: fmt.Errorf("idle connection: read %v, want EOF (closed by the server)", err)}
				return
			}
			results <- result{closedAfter: time.Since(t0)}
		}()
	}
	var longest time.Duration
	for range n {
		r := <-results
		if r.err != nil {
			t.Error(r.err)
			continue
		}
		longest = max(longest, r.closedAfter)
		if r.closedAfter < idle/2 {
			t.Errorf("closed after %v, before the idle timeout %v", r.closedAfter, idle)
		}
	}
	t.Logf("%d idle keep-alive connections closed by the server at most %v after their request (idle timeout %v)", n, longest, idle)
	waitFDs(t, base)
}

// waitFDs waits until the process holds no more descriptors than want.
func waitFDs(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for floodtest.OpenFDs(t) > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open, want <= %d", floodtest.OpenFDs(t), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRequestBodyBounds: a body over the bound is refused before the
// handler runs, a body that does not arrive within the body timeout too
// (before, the reload ran at once and the connection waited for the body
// for ever).
func TestRequestBodyBounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	src := &sources{}
	lim := httplimit.Limits{BodyTimeout: 300 * time.Millisecond, MaxBodyBytes: 1000}
	_, stop := serve(t, control.ServerConfig{Path: path, Daemon: src, Limits: lim})
	defer stop()
	for _, tc := range []struct {
		name    string
		head    string
		body    string // sent, then nothing more
		code    int
		errText string
	}{
		{"declared too large", "Content-Length: 1001\r\n", "", 413, "request body over 1000 bytes"},
		{"chunked too large", "Transfer-Encoding: chunked\r\n", "3e9\r\n" + strings.Repeat("x", 1001) + "\r\n0\r\n\r\n", 413, "request body too large"},
		{"slow body", "Content-Length: 10\r\n", "12345", 400, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "POST /v1/reload HTTP/1.1\r\nHost: lbd\r\n%s\r\n%s", tc.head, tc.body)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.errText) || !resp.Close {
				t.Errorf("answer %d %q (close %v), want %d with %q and close", resp.StatusCode, b, resp.Close, tc.code, tc.errText)
			}
			if src.reloads != 0 {
				t.Errorf("the reload ran (%d)", src.reloads)
			}
		})
	}
	// A body within the bounds reaches the handler (which ignores it).
	req, _ := http.NewRequest(http.MethodPost, "http://lbd/v1/reload", strings.NewReader(`{"force":false}`))
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != 200 || src.reloads != 1 {
		t.Fatalf("small body: %v %v, reloads %d", resp, err, src.reloads)
	}
	resp.Body.Close()
}

// bigDaemon answers a status of 1,000 services x 10 real servers.
type bigDaemon struct{ sources }

func (b *bigDaemon) Status(context.Context) control.Status {
	var st control.Status
	for i := range 1000 {
		s := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP,
			Address: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), Port: 80}, Scheduler: "wrr", Netmask: 0xffffffff}
		for j := range 10 {
			s.Destinations = append(s.Destinations, table.Destination{Address: netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}),
				Port: uint16(8000 + j), Family: table.FamilyIPv4, Forward: table.ForwardRoute, Weight: 1})
		}
		st.IPVS.Table.Services = append(st.IPVS.Table.Services, s)
	}
	return st
}

// slowReader reads at most n bytes per read and sleeps between reads.
type slowReader struct {
	c     net.Conn
	n     int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.c.Read(p[:min(len(p), s.n)])
}

// TestWriteTimeoutIsPerWrite: the status of 1,000 services x 10 reaches a
// client that reads slowly (the whole answer takes many write timeouts, each
// write makes progress), and a client that never reads loses its connection
// after the write timeout (before: the server waited for ever).
func TestWriteTimeoutIsPerWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	const wt = time.Second
	_, stop := serve(t, control.ServerConfig{Path: path, Daemon: &bigDaemon{}, Limits: httplimit.Limits{WriteTimeout: wt}})
	defer stop()
	base := floodtest.OpenFDs(t)

	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.UnixConn).SetReadBuffer(4096)
	t0 := time.Now()
	fmt.Fprintf(c, "GET /v1/status HTTP/1.1\r\nHost: lbd\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReaderSize(&slowReader{c: c, n: 128 << 10, pause: 100 * time.Millisecond}, 128<<10), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	took := time.Since(t0)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("slow reader: %d bytes, %v, HTTP %d", n, err, resp.StatusCode)
	}
	t.Logf("status of 1,000 x 10: %d bytes to a slow reader in %v (write timeout %v)", n, took, wt)
	if took < 2*wt {
		t.Logf("the slow reader was not slower than the write timeout; the per-write deadline is not exercised")
	}

	c.Close()
	waitFDs(t, base)

	// A client that asks and never reads.
	stall, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer stall.Close()
	stall.(*net.UnixConn).SetReadBuffer(4096)
	fmt.Fprintf(stall, "GET /v1/status HTTP/1.1\r\nHost: lbd\r\n\r\n")
	t1 := time.Now()
	time.Sleep(100 * time.Millisecond)
	waitFDs(t, base+1) // the server gave up on the stalled write and closed its end; ours stays
	t.Logf("a client that never reads: the server closed its end after %v", time.Since(t1))
}
