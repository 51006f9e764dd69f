//go:build linux

package healthcheck

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The reactor's system calls on its non-blocking sockets, made without
// telling the Go scheduler (RawSyscall): none of them can block, and a
// call through unix.Syscall marks the thread as in a system call, which
// keeps the runtime's monitor thread (sysmon) waking every 20 µs to look
// whether to hand the processor over: at thousands of checks a second
// (eight calls a check) that was a third of the checker's sleeps and
// wake-ups. Only calls that return at once are made here: no blocking
// wait, no file that is not non-blocking.

func errnoErr(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}

func rawRead(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// rawClose closes a socket; with SO_LINGER 0 or none set, close does not
// wait.
func rawClose(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	return errnoErr(e)
}

func rawSocket(domain, typ, proto int) (int, error) {
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(domain), uintptr(typ), uintptr(proto))
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// rawSockaddr is sa (the checkers' are IPv4 and IPv6 only) in the
// kernel's layout.
type rawSockaddr struct {
	buf [unix.SizeofSockaddrInet6]byte
	len uintptr
}

func toRaw(sa unix.Sockaddr) (rawSockaddr, bool) {
	var r rawSockaddr
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.buf[0]))
		p.Family = unix.AF_INET
		port := (*[2]byte)(unsafe.Pointer(&p.Port))
		port[0], port[1] = byte(sa.Port>>8), byte(sa.Port)
		p.Addr = sa.Addr
		r.len = unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(&r.buf[0]))
		p.Family = unix.AF_INET6
		port := (*[2]byte)(unsafe.Pointer(&p.Port))
		port[0], port[1] = byte(sa.Port>>8), byte(sa.Port)
		p.Addr = sa.Addr
		p.Scope_id = sa.ZoneId
		r.len = unix.SizeofSockaddrInet6
	default:
		return r, false
	}
	return r, true
}

// rawConnect connects a non-blocking socket (EINPROGRESS when the
// handshake is not over).
func rawConnect(fd int, sa unix.Sockaddr) error {
	r, ok := toRaw(sa)
	if !ok {
		return unix.Connect(fd, sa)
	}
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&r.buf[0])), r.len)
	return errnoErr(e)
}

func rawBind(fd int, sa unix.Sockaddr) error {
	r, ok := toRaw(sa)
	if !ok {
		return unix.Bind(fd, sa)
	}
	_, _, e := unix.RawSyscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&r.buf[0])), r.len)
	return errnoErr(e)
}

func rawEpollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return errnoErr(e)
}

// rawEpollPoll is epoll_wait with a zero timeout: it never blocks.
func rawEpollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// rawSoError returns and clears the socket's pending error (SO_ERROR).
func rawSoError(fd int) (int, error) {
	var v int32
	l := uint32(4)
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_ERROR, uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
	return int(v), errnoErr(e)
}

// rawLingerZero makes close reset the connection at once.
func rawLingerZero(fd int) error {
	lg := unix.Linger{Onoff: 1, Linger: 0}
	_, _, e := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_LINGER, uintptr(unsafe.Pointer(&lg)), unsafe.Sizeof(lg), 0)
	return errnoErr(e)
}
