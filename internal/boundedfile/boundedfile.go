// Package boundedfile reads files the program does not control (its
// configuration, a keepalived.conf and its includes, lbrs's state file):
// only regular files, only up to a size, never blocking on a FIFO.
package boundedfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrTooLarge is the error (inside a *fs.PathError) of a file over its limit.
var ErrTooLarge = errors.New("file too large")

// ErrNotRegular is the error (inside a *fs.PathError) of a FIFO, a device,
// a directory or a socket where a file was expected.
var ErrNotRegular = errors.New("not a regular file")

// Read reads the file at path if it is a regular file of at most limit
// bytes. It refuses anything else without blocking. Errors are
// *fs.PathError naming the path: ErrNotRegular ("not a regular file (a
// FIFO)"), ErrTooLarge ("larger than 8 MiB"), or what the system said.
func Read(path string, limit int64) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	// writer; it has no effect on a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kindOf(st.Mode()))}
	}
	if st.Size() > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: tooBig(limit)}
	}
	buf := bytes.NewBuffer(make([]byte, 0, st.Size()+512)) // one allocation
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if int64(len(data)) > limit { // grew while read
		return nil, &fs.PathError{Op: "read", Path: path, Err: tooBig(limit)}
	}
	return data, nil
}

func tooBig(limit int64) error {
	return fmt.Errorf("%w: larger than %s, its size limit", ErrTooLarge, SizeText(limit))
}

// SizeText writes a limit as an operator reads it: "8 MiB", "1000 bytes".
func SizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file"
}
