// Package httplimit bounds what the clients of lbd's HTTP servers (the
// control socket, the metrics endpoint) can hold: connections served at once,
// idle keep-alive time, the time to send headers and a body, the size of a
// body, and the time a response write may go without progress. Descriptors
// are shared with the health checks, so no client may take them all.
//
// At the connection limit, a new connection takes the place of the one that
// has waited longest for its client outside a handler (idle keep-alive,
// silent, or slow to send its headers or body; a normal client has sent its
// whole request by the time it is accepted, so it never waits): a flood of
// idle or slow clients can never lock a normal client out, and nothing is
// evicted until a new connection is there. While no connection can be
// evicted (all are in a handler), the new one is held (one descriptor over
// the limit) and the next ones wait in the kernel's backlog until one ends,
// which the write timeout bounds once the handler writes.
package httplimit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Limits are the bounds; a zero field takes its default.
type Limits struct {
	// MaxConns is the number of connections served at once (default 64).
	MaxConns int
	// IdleTimeout closes a keep-alive connection idle this long (default 30s).
	IdleTimeout time.Duration
	// ReadHeaderTimeout is the time a client has to send a request's
	// headers (default 5s).
	ReadHeaderTimeout time.Duration
	// BodyTimeout is the time a client has to send a request's body once the
	// headers are in (default 10s).
	BodyTimeout time.Duration
	// WriteTimeout fails a response write that makes no progress for this
	// long (default 10s): a per-write deadline, so a large answer (the
	// status of 1,000 services x 10) may take as long as it keeps moving.
	WriteTimeout time.Duration
	// MaxHeaderBytes bounds the request headers (default 64 KiB).
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request body (default 64 KiB); a larger one is
	// answered 413 and the connection closed, before the handler runs.
	MaxBodyBytes int64
}

// The defaults.
const (
	DefaultMaxConns          = 64
	DefaultIdleTimeout       = 30 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultBodyTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxBodyBytes      = 64 << 10
)

// writeChunk is the most written under one write deadline.
const writeChunk = 32 << 10

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	set(&l.IdleTimeout, DefaultIdleTimeout)
	set(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&l.BodyTimeout, DefaultBodyTimeout)
	set(&l.WriteTimeout, DefaultWriteTimeout)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return l
}

// Server returns an http.Server serving h under the limits, and the
// listener to pass to its Serve (l, bounded to MaxConns connections).
// The server sets no ReadTimeout on purpose: net/http cancels a request's
// context when that deadline passes, which would cut a long reload short;
// the body's deadline is BodyTimeout, set while the body is read.
func Server(l net.Listener, h http.Handler, lim Limits) (*http.Server, net.Listener) {
	lim = lim.WithDefaults()
	ll := newListener(l, lim.MaxConns)
	hs := &http.Server{
		Handler:           Handler(h, lim),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		IdleTimeout:       lim.IdleTimeout,
		// The deadline of answers the server writes itself (400, 431);
		// Handler's writer moves it on with each chunk of a response.
		WriteTimeout:   lim.WriteTimeout,
		MaxHeaderBytes: lim.MaxHeaderBytes,
		ConnContext:    connContext,
	}
	// Shutdown waits for the requests in a handler; the rest (idle, or
	// still sending a request) are cut at once.
	hs.RegisterOnShutdown(ll.closeIdle)
	return hs, ll
}

// Handler wraps h: the request body, if any, is read in full before h runs,
// within BodyTimeout and MaxBodyBytes (h gets it from memory), and each
// chunk of the response is written under a fresh WriteTimeout deadline.
func Handler(h http.Handler, lim Limits) http.Handler {
	lim = lim.WithDefaults()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &progressWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: lim.WriteTimeout}
		if r.ContentLength > lim.MaxBodyBytes {
			refuse(pw, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", lim.MaxBodyBytes))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			body, err := readBody(pw, r, lim)
			if err != nil {
				code := http.StatusBadRequest
				if errors.As(err, new(*http.MaxBytesError)) {
					code = http.StatusRequestEntityTooLarge
				}
				refuse(pw, code, err.Error())
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if c, ok := r.Context().Value(connKey{}).(*conn); ok {
			c.busy.Store(true)
			defer func() {
				// The read net/http keeps pending during the handler (to see
				// a client go away) is not a wait for the client: the answer
				// is still to be flushed.
				c.readAt.Store(0)
				c.busy.Store(false)
			}()
		}
		h.ServeHTTP(pw, r)
	})
}

func readBody(pw *progressWriter, r *http.Request, lim Limits) ([]byte, error) {
	rc := pw.rc
	_ = rc.SetReadDeadline(time.Now().Add(lim.BodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(pw, r.Body, lim.MaxBodyBytes))
	// The connection's background read (it notices a client that goes
	// away) starts at the body's end: it must not inherit the deadline.
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return body, nil
}

// refuse answers code with a JSON error and closes the connection.
func refuse(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	_, _ = w.Write(append(b, '\n'))
}

// progressWriter writes in chunks, each under a fresh write deadline.
type progressWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		c := b
		if len(c) > writeChunk {
			c = c[:writeChunk]
		}
		_ = p.rc.SetWriteDeadline(time.Now().Add(p.d))
		m, err := p.ResponseWriter.Write(c)
		n += m
		if err != nil {
			return n, err
		}
		b = b[m:]
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the connection.
func (p *progressWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// waitingAfter is how long a connection outside a handler must have been
// waiting for its client's bytes before it may be evicted. A normal client
// has sent its whole request when it is accepted, so its reads never wait.
const waitingAfter = 5 * time.Millisecond

// listener bounds the connections served at once; see the package comment.
type listener struct {
	net.Listener
	max  int
	wake chan struct{} // a slot may have freed
	done chan struct{} // closed by Close
	once sync.Once

	mu    sync.Mutex
	conns map[*conn]struct{}
}

func newListener(l net.Listener, max int) *listener {
	return &listener{Listener: l, max: max, wake: make(chan struct{}, 1), done: make(chan struct{}),
		conns: map[*conn]struct{}{}}
}

// Accept accepts the next connection, then admits it when a slot is free,
// making one if need be by closing the connection that has waited longest
// for its client; while none can be closed (all are in a handler) it holds
// the new one (one descriptor more) and the kernel's backlog the rest.
// Nothing is evicted until a new connection is actually there.
func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &conn{Conn: c, l: l}
	for !l.admit(tc) {
		select {
		case <-l.wake:
		case <-time.After(waitingAfter): // a connection may have become evictable
		case <-l.done:
			c.Close()
			return nil, net.ErrClosed
		}
	}
	return tc, nil
}

// admit takes tc in if a slot is free or can be freed by evicting the
// connection that has waited longest for its client.
func (l *listener) admit(tc *conn) bool {
	l.mu.Lock()
	if len(l.conns) < l.max {
		l.conns[tc] = struct{}{}
		l.mu.Unlock()
		return true
	}
	var victim *conn
	var since int64
	limit := time.Now().Add(-waitingAfter).UnixNano()
	for c := range l.conns {
		if w := c.waitingSince(); w != 0 && w <= limit && (victim == nil || w < since) {
			victim, since = c, w
		}
	}
	if victim == nil {
		l.mu.Unlock()
		return false
	}
	delete(l.conns, victim)
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	_ = victim.Conn.Close() // its server goroutine sees the error and ends
	return true
}

func (l *listener) release(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// closeIdle closes every connection not in a handler.
func (l *listener) closeIdle() {
	l.mu.Lock()
	var idle []*conn
	for c := range l.conns {
		if !c.busy.Load() {
			idle = append(idle, c)
		}
	}
	l.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}
}

func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// conn releases its slot when closed, and tells whether it waits for its
// client outside a handler.
type conn struct {
	net.Conn
	l      *listener
	once   sync.Once
	busy   atomic.Bool  // in a handler
	readAt atomic.Int64 // when the pending Read began (UnixNano), 0 if none
}

func (c *conn) Read(p []byte) (int, error) {
	c.readAt.Store(time.Now().UnixNano())
	n, err := c.Conn.Read(p)
	c.readAt.Store(0)
	return n, err
}

// waitingSince is when c began waiting for its client outside a handler, or 0.
func (c *conn) waitingSince() int64 {
	if c.busy.Load() {
		return 0
	}
	return c.readAt.Load()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}

// connKey is the request context's key of its *conn.
type connKey struct{}

func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*conn); ok {
		return context.WithValue(ctx, connKey{}, tc)
	}
	return ctx
}
