//go:build !(linux && (amd64 || arm64))

package kernel

import "golang.org/x/sys/unix"

// recvNonblock is recvfrom(fd, p, flags|MSG_DONTWAIT) (see recv_raw.go).
func recvNonblock(fd int, p []byte, flags int) (int, error) {
	n, _, err := unix.Recvfrom(fd, p, flags|unix.MSG_DONTWAIT)
	return n, err
}
