package vrrp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultFilePollInterval is how often a tracked file is read when inotify
// cannot watch its directory (it does not exist yet, or inotify is out of
// watches).
const DefaultFilePollInterval = time.Second

// LinuxFiles watches tracked files with inotify on their directories (a
// file written and closed, moved in or out, or removed), as keepalived
// does; a directory inotify cannot watch is polled every PollInterval.
type LinuxFiles struct {
	PollInterval time.Duration // 0 means DefaultFilePollInterval
	Log          *slog.Logger
}

func (l *LinuxFiles) log() *slog.Logger {
	if l.Log == nil {
		return slog.Default()
	}
	return l.Log
}

// Create writes content to path when nothing is there (O_EXCL), or over
// what is there when overwrite is set.
func (l *LinuxFiles) Create(path string, content []byte, overwrite bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if overwrite {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating track file %s: %w", path, err)
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing track file %s: %w", path, err)
	}
	return nil
}

// readTrackFile reads at most trackFileReadLimit bytes of a regular file
// without blocking on a FIFO.
func readTrackFile(path string) FileEvent {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return FileEvent{Path: path, Missing: true}
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return FileEvent{Path: path, Missing: true}
	}
	b := make([]byte, trackFileReadLimit)
	n, _ := io.ReadFull(f, b)
	return FileEvent{Path: path, Data: b[:n]}
}

// Watch reports every path's contents, then its changes.
func (l *LinuxFiles) Watch(ctx context.Context, paths []string) (<-chan FileEvent, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watching track files: %w", err)
	}
	in := os.NewFile(uintptr(fd), "inotify")
	byWD := map[int32][]string{} // watch -> tracked paths in that directory
	var polled []string
	for _, p := range paths {
		wd, err := unix.InotifyAddWatch(fd, filepath.Dir(p), unix.IN_CLOSE_WRITE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO)
		if err != nil {
			l.log().Warn("vrrp: cannot watch a track file's directory, reading the file periodically",
				"file", p, "every", l.poll(), "err", err)
			polled = append(polled, p)
			continue
		}
		byWD[int32(wd)] = append(byWD[int32(wd)], p)
	}
	out := make(chan FileEvent, 64)
	for _, p := range paths {
		out <- readTrackFile(p)
	}
	go func() {
		<-ctx.Done()
		in.Close()
	}()
	go l.readInotify(ctx, in, byWD, out)
	if len(polled) > 0 {
		go l.pollFiles(ctx, polled, out)
	}
	return out, nil
}

func (l *LinuxFiles) poll() time.Duration {
	if l.PollInterval <= 0 {
		return DefaultFilePollInterval
	}
	return l.PollInterval
}

func (l *LinuxFiles) pollFiles(ctx context.Context, paths []string, out chan<- FileEvent) {
	t := time.NewTicker(l.poll())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range paths {
			select {
			case out <- readTrackFile(p):
			case <-ctx.Done():
				return
			}
		}
	}
}

// readInotify turns inotify events on the watched directories into the
// tracked files' contents; an overflowed queue re-reads every file.
func (l *LinuxFiles) readInotify(ctx context.Context, in *os.File, byWD map[int32][]string, out chan<- FileEvent) {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	send := func(e FileEvent) bool {
		select {
		case out <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		n, err := in.Read(buf)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			l.log().Error("vrrp: reading inotify events for track files", "err", err)
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			nameB := buf[off+unix.SizeofInotifyEvent : min(n, off+unix.SizeofInotifyEvent+nameLen)]
			off += unix.SizeofInotifyEvent + nameLen
			name := string(trimNUL(nameB))
			targets := byWD[wd]
			if mask&unix.IN_Q_OVERFLOW != 0 {
				targets = nil
				for _, ps := range byWD {
					targets = append(targets, ps...)
				}
			} else if mask&unix.IN_ISDIR != 0 {
				continue
			}
			for _, p := range targets {
				if mask&unix.IN_Q_OVERFLOW == 0 && filepath.Base(p) != name {
					continue
				}
				if !send(readTrackFile(p)) {
					return
				}
			}
		}
	}
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}
