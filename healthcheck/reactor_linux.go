//go:build linux

package healthcheck

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reactor runs plain HTTP and TCP checks on one goroutine over epoll, with
// non-blocking sockets: no goroutine, netpoller hand-off or runtime timer
// per check (the Scheduler runs one reactor per usable CPU, at most 4). At
// thousands of checks per second most of a checker's CPU is the kernel's
// TCP work and the Go runtime's cross-thread wake-ups; this removes the
// second. HTTPS, scripts and DNS keep the goroutine path. Its results are
// the same as the net path's (tests run every case through both).
type reactor struct {
	epfd int // owned by the loop goroutine, closed when it returns
	// epf owns epfd; epraw is epfd registered with Go's network poller
	// (nil if that failed: the loop then blocks in epoll_wait itself).
	// The loop waits on it like on a socket: its goroutine parks instead
	// of holding a thread in a blocking syscall, which cost the runtime a
	// thread hand-off (futex wake-ups, sysmon retakes) per wait.
	epf   *os.File
	epraw syscall.RawConn

	mu sync.Mutex
	// evfd wakes the loop. Other goroutines write to it (start, cancel,
	// the context's AfterFunc), some of them after the loop has returned,
	// so it is written and closed only under mu, and -1 once closed: a
	// late write must not land on whatever file has reused the number.
	evfd    int
	queue   []*rop // to start
	cancels []*rop // to cancel
	closed  bool

	// Owned by the loop goroutine.
	conns    map[int]*rop
	gen      int32 // of the last socket opened
	timeouts timeHeap[*rop]
	buf      []byte
	res      *resources
	batch    int // events read per epoll_wait
	// beforeWait, if set, runs before each wait (tests: a loop that falls
	// behind, as on a starved machine).
	beforeWait func()
}

// reactorState is where a reactor operation is.
type reactorState int

const (
	stConnect reactorState = iota
	stWrite
	stRead
)

// rop is one check attempt in the reactor: one connection at a time (one
// per URL, in turn).
type rop struct {
	hc       *httpChecker // nil for a TCP connect check
	tc       *tcpChecker
	url      int
	start    time.Time
	deadline time.Time
	budget   time.Duration
	done     func(Result)

	fd    int
	gen   int32
	state reactorState
	off   int // of the request written
	index int // in the timeout heap
	ended bool

	hdr      []byte
	hdrDone  bool
	resp     response
	hd       head
	h        hash.Hash
	draining bool // body complete, waiting for the server's FIN
	// peerClosed: the server closed first, so the connection is over and
	// we close with a reset: no FIN/ACK exchange, no TIME_WAIT left on
	// the server (HAProxy closes its checks the same way).
	peerClosed bool
	chunks     []byte
}

const (
	maxHeadBytes    = 64 << 10
	maxChunkedBytes = 8 << 20
)

func newReactor(res *resources) (*reactor, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	rc := &reactor{epfd: epfd, evfd: evfd, conns: map[int]*rop{}, buf: make([]byte, 64<<10), res: res, batch: 256}
	rc.epf, rc.epraw = pollable(epfd)
	return rc, nil
}

// pollable registers an epoll descriptor with Go's network poller (an
// epoll set is readable while events are ready). The file owns the
// descriptor from then on (closing it closes epfd); raw is nil when the
// poller refused it, and blocking waits are used.
func pollable(epfd int) (*os.File, syscall.RawConn) {
	_ = unix.SetNonblock(epfd, true) // epoll_wait's timeout ignores it
	f := os.NewFile(uintptr(epfd), "epoll")
	raw, err := f.SyscallConn()
	if err == nil {
		// Only a file the poller took accepts a deadline.
		err = f.SetReadDeadline(time.Time{})
	}
	if err != nil {
		return f, nil
	}
	return f, raw
}

// wait waits for events until deadline, at most: on Go's poller when it
// can, else in epoll_wait.
func (rc *reactor) wait(events []unix.EpollEvent, deadline time.Time) (int, error) {
	if rc.epraw == nil {
		ms := int((time.Until(deadline) + time.Millisecond - 1) / time.Millisecond)
		return unix.EpollWait(rc.epfd, events, max(0, ms))
	}
	// The poller's Read returns at a past deadline without looking; else
	// it looks (the callback) before it parks.
	if !time.Now().Before(deadline) {
		return rawEpollPoll(rc.epfd, events)
	}
	if err := rc.epf.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	var n int
	var werr error
	err := rc.epraw.Read(func(fd uintptr) bool {
		n, werr = rawEpollPoll(int(fd), events)
		return n > 0 || werr != nil
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return n, werr
}

// canRun says whether the reactor can run this checker.
func (rc *reactor) canRun(c Checker) bool {
	switch c := c.(type) {
	case *httpChecker:
		return c.sa != nil && c.urls[0].tls == nil
	case *tcpChecker:
		return c.sa != nil
	}
	return false
}

// start queues an attempt; done is called once, from the reactor's
// goroutine (or a new one if the reactor has stopped). The returned
// function cancels the attempt.
func (rc *reactor) start(c Checker, timeout time.Duration, done func(Result)) (cancel func()) {
	now := time.Now()
	op := &rop{start: now, deadline: now.Add(timeout), budget: timeout.Round(time.Millisecond), done: done, fd: -1, index: -1}
	switch c := c.(type) {
	case *httpChecker:
		op.hc = c
	case *tcpChecker:
		op.tc = c
	}
	rc.mu.Lock()
	if rc.closed {
		rc.mu.Unlock()
		go done(failResult(KindError, "check cancelled"))
		return func() {}
	}
	if len(rc.queue) == 0 && len(rc.cancels) == 0 {
		rc.wakeLocked()
	}
	rc.queue = append(rc.queue, op)
	rc.mu.Unlock()
	return func() {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.closed {
			return
		}
		if len(rc.queue) == 0 && len(rc.cancels) == 0 {
			rc.wakeLocked()
		}
		rc.cancels = append(rc.cancels, op)
	}
}

// wake wakes the loop up, if it still runs.
func (rc *reactor) wake() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.wakeLocked()
}

func (rc *reactor) wakeLocked() {
	if rc.evfd < 0 {
		return // the loop has returned and closed it
	}
	var one = [8]byte{1}
	_, _ = unix.Write(rc.evfd, one[:]) // non-blocking; EAGAIN means already signalled
}

// run is the loop; it returns when ctx is done, after failing every
// attempt still open.
func (rc *reactor) run(ctx context.Context) {
	defer func() {
		rc.epf.Close() // and epfd
		rc.epfd = -1
		// The AfterFunc below may still be about to run (stop does not
		// wait for it), and start or cancel may be racing the stop: they
		// all write under mu and see evfd = -1.
		rc.mu.Lock()
		unix.Close(rc.evfd)
		rc.evfd = -1
		rc.mu.Unlock()
	}()
	stop := context.AfterFunc(ctx, rc.wake)
	defer stop()
	events := make([]unix.EpollEvent, rc.batch)
	evfd := rc.evfd // closed only after this loop returns
	for {
		rc.mu.Lock()
		queue, cancels := rc.queue, rc.cancels
		rc.queue, rc.cancels = nil, nil
		// Decided once, under the lock: after closed is set, start
		// answers by itself, so nothing queued later is lost.
		stopping := ctx.Err() != nil
		rc.closed = stopping
		rc.mu.Unlock()
		for _, op := range queue {
			if stopping {
				rc.end(op, failResult(KindError, "check cancelled"))
				continue
			}
			rc.begin(op)
		}
		for _, op := range cancels {
			if !op.ended {
				rc.end(op, failResult(KindError, "check cancelled"))
			}
		}
		if stopping {
			for _, op := range rc.conns {
				rc.end(op, failResult(KindError, "check cancelled"))
			}
			return
		}
		deadline := time.Now().Add(time.Second)
		if len(rc.timeouts) > 0 && rc.timeouts[0].deadline.Before(deadline) {
			deadline = rc.timeouts[0].deadline
		}
		if rc.beforeWait != nil {
			rc.beforeWait()
		}
		n, err := rc.wait(events, deadline)
		if err != nil && !errors.Is(err, unix.EINTR) {
			// Cannot happen with valid arguments; do not spin.
			time.Sleep(10 * time.Millisecond)
		}
		rc.dispatch(events[:max(n, 0)], evfd)
		// Every answer already there before any deadline: a loop that
		// fell behind (a starved machine) must not fail checks whose
		// answers wait in the socket.
		for n == len(events) {
			n, _ = rawEpollPoll(rc.epfd, events)
			rc.dispatch(events[:max(n, 0)], evfd)
		}
		now := time.Now()
		for len(rc.timeouts) > 0 && !rc.timeouts[0].deadline.After(now) {
			op := rc.timeouts[0]
			if op.draining {
				// The whole body came; the server just never closed.
				op.draining = false
				rc.urlDone(op)
				continue
			}
			rc.fail(op, rc.phase(op), os.ErrDeadlineExceeded)
		}
	}
}

// dispatch handles a batch of events.
func (rc *reactor) dispatch(events []unix.EpollEvent, evfd int) {
	for _, e := range events {
		fd := int(e.Fd)
		if fd == evfd {
			var b [8]byte
			_, _ = rawRead(evfd, b[:])
			continue
		}
		// The generation tells a socket from an earlier one that had the
		// same descriptor and was closed in this batch.
		if op := rc.conns[fd]; op != nil && op.gen == e.Pad {
			rc.handle(op, e.Events)
		}
	}
}

func (rc *reactor) phase(op *rop) phase {
	switch op.state {
	case stConnect:
		return phaseConnect
	case stWrite:
		return phaseRequest
	}
	return phaseResponse
}

// begin opens the attempt's next connection.
func (rc *reactor) begin(op *rop) {
	var sa, bind unix.Sockaddr
	if op.hc != nil {
		sa, bind = op.hc.sa, op.hc.bind
	} else {
		sa, bind = op.tc.sa, op.tc.bind
	}
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := rawSocket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		rc.end(op, classifyNetErr(fmt.Errorf("socket: %w", err), phaseConnect, op.budget).prefixed(op))
		return
	}
	op.fd, op.state, op.off = fd, stConnect, 0
	op.hdr, op.hdrDone, op.resp, op.hd, op.h, op.draining, op.chunks, op.peerClosed = nil, false, response{}, head{}, nil, false, nil, false
	if op.index < 0 {
		heap.Push(&rc.timeouts, op)
	}
	if bind != nil {
		if err := rawBind(fd, bind); err != nil {
			rc.fail(op, phaseConnect, fmt.Errorf("bind: %w", err))
			return
		}
	}
	if err := rawConnect(fd, sa); err != nil && !errors.Is(err, unix.EINPROGRESS) {
		rc.fail(op, phaseConnect, err)
		return
	}
	events := uint32(unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET)
	if op.hc != nil {
		sent, err := rc.sendEarly(op)
		if err != nil {
			rc.fail(op, phaseConnect, err)
			return
		}
		if sent {
			events &^= unix.EPOLLOUT // only the answer is awaited
		}
	}
	rc.gen++
	op.gen = rc.gen
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: op.gen}
	if err := rawEpollCtl(rc.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		rc.fail(op, phaseConnect, fmt.Errorf("epoll_ctl: %w", err))
		return
	}
	rc.conns[fd] = op
}

// sendEarly writes the request right after connect: on loopback and
// often on a LAN the handshake is over by the time connect returns, and
// then the check spares a wake-up for writability and the SO_ERROR
// query. It says whether the whole request went; EAGAIN (still
// connecting) leaves the attempt to the writability event. Any other
// error is the connection's: a write to a socket whose connect failed
// returns that failure (ECONNREFUSED) and clears it.
func (rc *reactor) sendEarly(op *rop) (bool, error) {
	req := op.hc.urls[op.url].req
	n, err := rawWrite(op.fd, req)
	switch {
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
		return false, nil
	case err != nil:
		return false, err
	}
	op.off = n
	if n < len(req) {
		op.state = stWrite
		return false, nil
	}
	op.state = stRead
	return true, nil
}

func (rc *reactor) handle(op *rop, ev uint32) {
	if op.state == stConnect {
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		soerr, err := rawSoError(op.fd)
		if err == nil && soerr != 0 {
			err = syscall.Errno(soerr)
		}
		if err != nil {
			rc.fail(op, phaseConnect, err)
			return
		}
		if op.tc != nil {
			rc.end(op, okResult("connected"))
			return
		}
		op.state = stWrite
	}
	if op.state == stWrite {
		req := op.hc.urls[op.url].req
		for op.off < len(req) {
			n, err := rawWrite(op.fd, req[op.off:])
			if errors.Is(err, unix.EAGAIN) {
				return // wait for the next EPOLLOUT edge
			}
			if err != nil {
				rc.fail(op, phaseRequest, err)
				return
			}
			op.off += n
		}
		op.state = stRead
		if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
			return // the answer comes with a later edge
		}
	}
	// Until done or on to the next URL: that one's socket often has the
	// same number, so the generation tells them apart.
	for gen := op.gen; !op.ended && op.gen == gen; {
		n, err := rawRead(op.fd, rc.buf)
		switch {
		case n > 0:
			rc.feed(op, rc.buf[:n])
		case err == nil: // EOF
			op.peerClosed = true
			rc.eof(op)
			return
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR):
		default:
			rc.fail(op, phaseResponse, err)
			return
		}
	}
}

// feed takes response bytes.
func (rc *reactor) feed(op *rop, b []byte) {
	if !op.hdrDone {
		from := max(0, len(op.hdr)-2)
		op.hdr = append(op.hdr, b...)
		end := headEnd(op.hdr, from)
		if end < 0 {
			if len(op.hdr) > maxHeadBytes {
				rc.fail(op, phaseResponse, fmt.Errorf("response head longer than %d bytes: %w", maxHeadBytes, errMalformed))
			}
			return
		}
		if !rc.parseHead(op, op.hdr[:end]) {
			return
		}
		u := &op.hc.urls[op.url]
		if !statusOK(u.StatusCodes, op.resp.Status) {
			rc.urlDone(op)
			return
		}
		if u.Digest != "" {
			op.h = md5.New()
		}
		b = op.hdr[end:]
		op.hdrDone = true
	}
	if op.draining {
		return
	}
	if op.hd.chunked {
		op.chunks = append(op.chunks, b...)
		if len(op.chunks) > maxChunkedBytes {
			rc.fail(op, phaseResponse, fmt.Errorf("chunked body longer than %d bytes: %w", maxChunkedBytes, errMalformed))
			return
		}
		if bytes.HasSuffix(op.chunks, []byte("0\r\n\r\n")) {
			if rc.decodeChunks(op, false) {
				rc.urlDone(op)
			}
		}
		return
	}
	if cl := op.hd.contentLength; cl >= 0 {
		b = b[:min(int64(len(b)), cl-op.resp.BodyLen)]
	}
	if op.h != nil {
		op.h.Write(b)
	}
	op.resp.BodyLen += int64(len(b))
	if cl := op.hd.contentLength; cl >= 0 && op.resp.BodyLen == cl {
		if op.hd.serverCloses {
			op.draining = true // let the server close first
			return
		}
		rc.urlDone(op)
	}
}

// headEnd returns the offset just past the empty line that ends the head
// (CRLF or bare LF line ends), searching from from, or -1.
func headEnd(b []byte, from int) int {
	for i := from; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// parseHead parses a complete head with the shared parser.
func (rc *reactor) parseHead(op *rop, b []byte) bool {
	br := rc.res.readers.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(b))
	resp, hd, err := parseHead(br, false)
	br.Reset(nil)
	rc.res.readers.Put(br)
	if err != nil {
		rc.fail(op, phaseResponse, err)
		return false
	}
	op.resp, op.hd = resp, hd
	return true
}

// decodeChunks decodes the chunked body gathered so far; atEOF says no
// more is coming, so an incomplete body is an error.
func (rc *reactor) decodeChunks(op *rop, atEOF bool) bool {
	br := rc.res.readers.Get().(*bufio.Reader)
	defer func() { br.Reset(nil); rc.res.readers.Put(br) }()
	br.Reset(bytes.NewReader(op.chunks))
	var w io.Writer = io.Discard
	if op.h != nil {
		op.h.Reset()
		w = op.h
	}
	n, err := copyChunked(w, br)
	if err != nil {
		if atEOF {
			rc.fail(op, phaseResponse, err)
		}
		return false
	}
	op.resp.BodyLen = n
	return true
}

func (rc *reactor) eof(op *rop) {
	if !op.hdrDone {
		// Let the shared parser say what is missing.
		if rc.parseHead(op, op.hdr) {
			rc.fail(op, phaseResponse, fmt.Errorf("connection closed in headers: %w", errMalformed))
		}
		return
	}
	if op.hd.chunked {
		if rc.decodeChunks(op, true) {
			rc.urlDone(op)
		}
		return
	}
	if cl := op.hd.contentLength; cl >= 0 && op.resp.BodyLen < cl {
		rc.fail(op, phaseResponse, fmt.Errorf("body ended after %d of %d bytes: %w", op.resp.BodyLen, cl, io.ErrUnexpectedEOF))
		return
	}
	rc.urlDone(op)
}

// urlDone evaluates the response of the current URL and moves on to the
// next URL or ends the attempt.
func (rc *reactor) urlDone(op *rop) {
	u := &op.hc.urls[op.url]
	if op.h != nil {
		var sum [md5.Size]byte
		op.resp.MD5 = hex.EncodeToString(op.h.Sum(sum[:0]))
	}
	res := u.evaluate(op.resp, phaseResponse, nil, op.budget)
	if !res.OK || op.url == len(op.hc.urls)-1 {
		rc.end(op, res)
		return
	}
	rc.closeConn(op)
	op.url++
	rc.begin(op)
}

func (rc *reactor) fail(op *rop, ph phase, err error) {
	rc.end(op, classifyNetErr(err, ph, op.budget).prefixed(op))
}

func (r Result) prefixed(op *rop) Result {
	if op.hc != nil {
		r.Reason = "GET " + op.hc.urls[op.url].Path + ": " + r.Reason
	}
	return r
}

func (rc *reactor) closeConn(op *rop) {
	if op.fd >= 0 {
		delete(rc.conns, op.fd)
		if op.peerClosed {
			_ = rawLingerZero(op.fd)
		}
		_ = rawClose(op.fd) // also leaves the epoll set
		op.fd = -1
	}
}

func (rc *reactor) end(op *rop, res Result) {
	if op.ended {
		return
	}
	op.ended = true
	rc.closeConn(op)
	if op.index >= 0 {
		heap.Remove(&rc.timeouts, op.index)
	}
	res.Duration = time.Since(op.start)
	op.done(res)
}

// An attempt is ordered by its deadline.
func (op *rop) heapTime() time.Time { return op.deadline }
func (op *rop) setHeapIndex(i int)  { op.index = i }
