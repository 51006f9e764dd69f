package vrrp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// The Linux process table: /proc for reads, the kernel's process events
// connector (NETLINK_CONNECTOR, CN_IDX_PROC) for changes. The connector
// needs CAP_NET_ADMIN in the initial user namespace and the initial PID
// namespace (not in most containers); without it, or when the kernel does
// not answer the subscription, changes are found by reading the whole
// table every PollInterval.

// DefaultProcessPollInterval is how often the process table is read when
// the process events connector is not available.
const DefaultProcessPollInterval = time.Second

// Connector and process event constants (linux/connector.h, cn_proc.h).
const (
	cnIdxProc          = 1
	cnValProc          = 1
	procCnMcastListen  = 1
	procCnMcastIgnore  = 2
	procEventNone      = 0x00000000
	procEventFork      = 0x00000001
	procEventExec      = 0x00000002
	procEventComm      = 0x00000200
	procEventExit      = 0x80000000
	cnMsgLen           = 20 // struct cn_msg without data
	procEventHeaderLen = 16 // what, cpu, timestamp_ns
	procConnAckWait    = time.Second
)

// LinuxProcesses reads /proc and follows the process events connector.
type LinuxProcesses struct {
	// PollInterval is the period of the full reads when the connector is
	// not available; 0 means DefaultProcessPollInterval.
	PollInterval time.Duration
	Log          *slog.Logger
	// events is set once the connector is subscribed (for tests and logs).
	events atomic.Bool
	// subscribe, if set, replaces the connector (tests of the fallback).
	subscribe func() (*procConn, error)
}

// EventDriven reports whether the last Watch follows the connector (false:
// it polls).
func (l *LinuxProcesses) EventDriven() bool { return l.events.Load() }

func (l *LinuxProcesses) poll() time.Duration {
	if l.PollInterval <= 0 {
		return DefaultProcessPollInterval
	}
	return l.PollInterval
}

func (l *LinuxProcesses) log() *slog.Logger {
	if l.Log == nil {
		return slog.Default()
	}
	return l.Log
}

// Watch subscribes to the process events connector, or falls back to
// asking for a full read (ProcRescan) every PollInterval. The connector's
// socket is opened from a new goroutine: its thread is in the process's
// initial network namespace, where the kernel sends the events, even when
// the caller's thread was moved to another.
func (l *LinuxProcesses) Watch(ctx context.Context) (<-chan ProcEvent, error) {
	out := make(chan ProcEvent, 1024)
	type opened struct {
		s   *procConn
		err error
	}
	ch := make(chan opened, 1)
	try := func(subscribe func() (*procConn, error)) opened {
		go func() {
			s, err := subscribe()
			ch <- opened{s, err}
		}()
		return <-ch
	}
	var o opened
	if l.subscribe != nil {
		o = try(l.subscribe)
	} else if o = try(subscribeHere); o.err != nil {
		// The kernel sends process events in the initial network
		// namespace only: from another one (lbd started in a test
		// namespace, a container sharing the host's PID namespace), open
		// the socket there.
		o2 := try(subscribeInitialNetns)
		l.log().Debug("vrrp: process events from the initial network namespace", "err", o2.err)
		if o2.err == nil {
			o = o2
		}
	}
	if o.err != nil {
		poll := l.poll()
		l.events.Store(false)
		l.log().Warn("vrrp: process events are not available, reading the process table periodically",
			"every", poll, "err", o.err)
		go pollProcesses(ctx, poll, out)
		return out, nil
	}
	l.events.Store(true)
	go func() {
		<-ctx.Done()
		o.s.close()
	}()
	go o.s.run(ctx, l.log(), l.poll(), out)
	return out, nil
}

func pollProcesses(ctx context.Context, every time.Duration, out chan<- ProcEvent) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			select {
			case out <- ProcEvent{Kind: ProcRescan}:
			default: // one rescan pending is enough
			}
		}
	}
}

// procConn is a subscribed process events connector socket.
type procConn struct {
	f *os.File
}

// subscribeHere opens and subscribes the connector's socket in this
// thread's network namespace.
func subscribeHere() (*procConn, error) {
	c, err := openProcConn()
	if err != nil {
		return nil, err
	}
	if err := c.subscribe(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func openProcConn() (*procConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("opening the process events connector: %w", err)
	}
	// A large buffer: a burst of forks must not overflow it (an overflow
	// costs a full read of the table).
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding the process events connector: %w", err)
	}
	return &procConn{f: os.NewFile(uintptr(fd), "proc-connector")}, nil
}

// subscribeInitialNetns opens and subscribes the connector's socket in the
// initial network namespace, the only one the kernel sends process events
// to, from another one (root only): it tries the namespaces of PID 1 and
// of this process's ancestors (a launcher such as "ip netns exec" runs in
// the initial one) until the kernel accepts the subscription.
func subscribeInitialNetns() (*procConn, error) {
	var self unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &self); err != nil {
		return nil, fmt.Errorf("reading this thread's network namespace: %w", err)
	}
	tried := map[uint64]bool{self.Ino: true}
	err := errors.New("no other network namespace found among PID 1 and this process's ancestors")
	for _, pid := range append([]int{1}, ancestors(os.Getppid(), 32)...) {
		path := fmt.Sprintf("/proc/%d/ns/net", pid)
		var st unix.Stat_t
		if unix.Stat(path, &st) != nil || tried[st.Ino] {
			continue
		}
		tried[st.Ino] = true
		c, oerr := openProcConnIn(path)
		if oerr == nil {
			if oerr = c.subscribe(); oerr == nil {
				return c, nil
			}
			c.close()
		}
		err = fmt.Errorf("in the network namespace of PID %d: %w", pid, oerr)
	}
	return nil, err
}

// ancestors returns pid and up to n-1 of its ancestors (from
// /proc/PID/stat), nearest first.
func ancestors(pid, n int) []int {
	var out []int
	for pid > 1 && len(out) < n {
		out = append(out, pid)
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			break
		}
		end := bytes.LastIndexByte(b, ')')
		if end < 0 {
			break
		}
		f := strings.Fields(string(b[end+1:])) // state, ppid, ...
		if len(f) < 2 {
			break
		}
		if pid, err = strconv.Atoi(f[1]); err != nil {
			break
		}
	}
	return out
}

// openProcConnIn opens the connector's socket in the network namespace at
// nsPath, from this goroutine's thread, moved there and back; if it cannot
// be moved back it is not unlocked, so it ends with the goroutine (callers
// run this on a goroutine of its own).
func openProcConnIn(nsPath string) (*procConn, error) {
	runtime.LockOSThread()
	here, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("opening this thread's network namespace: %w", err)
	}
	defer here.Close()
	there, err := os.Open(nsPath)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("opening %s: %w", nsPath, err)
	}
	defer there.Close()
	if err := unix.Setns(int(there.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("entering %s: %w", nsPath, err)
	}
	c, err := openProcConn()
	if unix.Setns(int(here.Fd()), unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	return c, err
}

func (c *procConn) close() {
	_ = c.send(procCnMcastIgnore)
	c.f.Close()
}

// send writes a connector control message with op.
func (c *procConn) send(op uint32) error {
	b := make([]byte, unix.NLMSG_HDRLEN+cnMsgLen+4)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.NLMSG_DONE)
	cn := b[unix.NLMSG_HDRLEN:]
	ne.PutUint32(cn[0:], cnIdxProc)
	ne.PutUint32(cn[4:], cnValProc)
	ne.PutUint16(cn[16:], 4)
	ne.PutUint32(cn[cnMsgLen:], op)
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return serr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}

// subscribe asks for the events and waits for the kernel's answer (an
// event NONE carrying an error number): no answer means this process
// cannot listen (another user or PID namespace).
func (c *procConn) subscribe() error {
	if err := c.send(procCnMcastListen); err != nil {
		return fmt.Errorf("subscribing to process events: %w", err)
	}
	deadline := time.Now().Add(procConnAckWait)
	buf := make([]byte, 4096)
	for {
		if err := c.f.SetReadDeadline(deadline); err != nil {
			return err
		}
		n, err := c.recv(buf)
		if err != nil {
			return fmt.Errorf("waiting for the process events subscription: %w", err)
		}
		m, ok := parseProcEvent(buf[:n])
		if !ok || m.what != procEventNone || len(m.data) < 4 {
			continue
		}
		_ = c.f.SetReadDeadline(time.Time{})
		if e := binary.NativeEndian.Uint32(m.data); e != 0 {
			return fmt.Errorf("subscribing to process events: %w", unix.Errno(e))
		}
		return nil
	}
}

func (c *procConn) recv(buf []byte) (int, error) {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		var from unix.Sockaddr
		n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
		if rerr == unix.EAGAIN {
			return false
		}
		if sa, ok := from.(*unix.SockaddrNetlink); rerr == nil && (!ok || sa.Pid != 0) {
			n = 0 // not from the kernel: ignore
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}

// procEventMsg is one process event of the connector.
type procEventMsg struct {
	seq, cpu, what uint32
	data           []byte // after the event header
}

// parseProcEvent returns a connector message's sequence number, CPU, event
// type and data.
func parseProcEvent(b []byte) (procEventMsg, bool) {
	if len(b) < unix.NLMSG_HDRLEN+cnMsgLen+procEventHeaderLen {
		return procEventMsg{}, false
	}
	ne := binary.NativeEndian
	if t := ne.Uint16(b[4:]); t == unix.NLMSG_ERROR || t == unix.NLMSG_NOOP {
		return procEventMsg{}, false
	}
	cn := b[unix.NLMSG_HDRLEN:]
	if ne.Uint32(cn[0:]) != cnIdxProc || ne.Uint32(cn[4:]) != cnValProc {
		return procEventMsg{}, false
	}
	ev := cn[cnMsgLen:]
	return procEventMsg{seq: ne.Uint32(cn[8:]), cpu: ne.Uint32(ev[4:]), what: ne.Uint32(ev[0:]), data: ev[procEventHeaderLen:]}, true
}

// run reads events until the socket is closed, keeping processes (thread
// group leaders) and dropping threads, as keepalived does. Lost events (the
// socket overflowed, or a gap in a CPU's sequence numbers) ask for a full
// read of the table; if the socket fails, the table is read every poll
// from then on.
func (c *procConn) run(ctx context.Context, log *slog.Logger, poll time.Duration, out chan<- ProcEvent) {
	buf := make([]byte, 4096)
	seqs := procSeqs{}
	send := func(e ProcEvent) bool {
		select {
		case out <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		n, err := c.recv(buf)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, unix.ENOBUFS) {
			log.Warn("vrrp: process events were lost (socket overflow), reading the process table again")
			if !send(ProcEvent{Kind: ProcRescan}) {
				return
			}
			continue
		}
		if err != nil {
			log.Error("vrrp: reading process events failed, reading the process table periodically instead",
				"every", poll, "err", err)
			if send(ProcEvent{Kind: ProcRescan}) {
				pollProcesses(ctx, poll, out)
			}
			return
		}
		m, ok := parseProcEvent(buf[:n])
		if !ok || m.what == procEventNone {
			continue
		}
		if seqs.lost(m.cpu, m.seq) {
			log.Warn("vrrp: process events were lost (sequence gap), reading the process table again", "cpu", m.cpu)
			if !send(ProcEvent{Kind: ProcRescan}) {
				return
			}
		}
		if ev, ok := decodeProcEvent(m.what, m.data); ok && !send(ev) {
			return
		}
	}
}

// procSeqs is the last sequence number of each CPU's process events: the
// kernel numbers them per CPU, so a gap means events were lost.
type procSeqs map[uint32]uint32

// lost records seq for cpu and reports whether events came before it
// unseen.
func (s procSeqs) lost(cpu, seq uint32) bool {
	last, seen := s[cpu]
	s[cpu] = seq
	return seen && seq != last+1
}

// decodeProcEvent turns a process event into a ProcEvent; ok is false for
// threads and for the events processes are not counted by.
func decodeProcEvent(what uint32, d []byte) (ProcEvent, bool) {
	u32 := func(i int) int {
		if len(d) < 4*i+4 {
			return -1
		}
		return int(binary.NativeEndian.Uint32(d[4*i:]))
	}
	switch what {
	case procEventFork: // parent pid, parent tgid, child pid, child tgid
		if u32(3) < 0 || u32(2) != u32(3) {
			return ProcEvent{}, false // a new thread
		}
		return ProcEvent{Kind: ProcFork, Parent: u32(1), PID: u32(3)}, true
	case procEventExec, procEventExit: // pid, tgid
		if u32(1) < 0 || u32(0) != u32(1) {
			return ProcEvent{}, false
		}
		if what == procEventExit {
			return ProcEvent{Kind: ProcExit, PID: u32(1)}, true
		}
		return ProcEvent{Kind: ProcExec, PID: u32(1)}, true
	case procEventComm: // pid, tgid, comm[16]
		if len(d) < 8+16 || u32(0) != u32(1) {
			return ProcEvent{}, false
		}
		comm, _, _ := bytes.Cut(d[8:24], []byte{0})
		return ProcEvent{Kind: ProcComm, PID: u32(1), Comm: string(comm)}, true
	}
	return ProcEvent{}, false
}

// List reads every process of the table but zombies, with its command
// line when argv is set.
func (l *LinuxProcesses) List(argv bool) ([]Process, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("reading /proc: %w", err)
	}
	var out []Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 || !e.IsDir() {
			continue
		}
		if p, ok := l.Read(pid, argv); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// Read reads one process: its name from /proc/PID/stat (which also says
// whether it is a zombie) and, when argv is set, its command line. ok is
// false when it is gone or a zombie.
func (l *LinuxProcesses) Read(pid int, argv bool) (Process, bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return Process{}, false
	}
	comm, state, ok := parseProcStat(stat)
	if !ok || state == 'Z' || state == 'X' {
		return Process{}, false
	}
	p := Process{PID: pid, Comm: comm}
	if argv {
		b, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil {
			return Process{}, false
		}
		p.Argv = splitCmdline(b)
	}
	return p, true
}

// parseProcStat returns the name and state of /proc/PID/stat: "PID (NAME)
// STATE ...", where the name may hold spaces and parentheses.
func parseProcStat(b []byte) (comm string, state byte, ok bool) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open || end+2 >= len(b) {
		return "", 0, false
	}
	return string(b[open+1 : end]), b[end+2], true
}

// splitCmdline splits /proc/PID/cmdline's NUL-terminated arguments.
func splitCmdline(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}
