//go:build linux && (amd64 || arm64)

package kernel

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvNonblock is recvfrom(fd, p, flags|MSG_DONTWAIT) as a raw system
// call: it never blocks (EAGAIN when nothing is queued), so the runtime
// need not be told, and it does not hand the thread's P over as a blocking
// call may (see read.go). It returns the datagram's length.
func recvNonblock(fd int, p []byte, flags int) (int, error) {
	if len(p) == 0 {
		return 0, unix.EINVAL
	}
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		uintptr(flags|unix.MSG_DONTWAIT), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
