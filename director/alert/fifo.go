package alert

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lvsd/lb/internal/runas"
)

// FIFOConfig is one notify FIFO.
type FIFOConfig struct {
	Path string
	// Script, if set, is started once the FIFO exists, with the FIFO's
	// path as its last argument, to read it (keepalived notify_fifo_script);
	// it is sent SIGTERM at Close.
	Script []string
	// Exec starts Script (as script_user, under enable_script_security);
	// nil: runas's zero policy.
	Exec *runas.Runner
}

const (
	// fifoQueue bounds the lines waiting for a FIFO writer.
	fifoQueue = 1024
	// fifoWriteTimeout is how long a line waits for room in the pipe (its
	// reader absent or slow) before it is dropped.
	fifoWriteTimeout = time.Second
)

// fifoWriter writes queued lines to a FIFO from its own goroutine. The
// FIFO is opened read-write, as keepalived does, so the open never waits
// for a reader and a write never fails for want of one: lines wait in the
// pipe (64 KiB on Linux) for a reader to come; once the pipe is full, a
// line that finds no room within fifoWriteTimeout is dropped.
type fifoWriter struct {
	cfg FIFOConfig
	log *slog.Logger
	q   chan string

	mu       sync.Mutex
	closed   bool
	stop     chan struct{}
	deadline time.Time // of the drain, set before stop closes
	done     chan struct{}

	written, dropped atomic.Uint64

	// The writer goroutine's own.
	f        *os.File
	file     atomic.Pointer[os.File] // f, for close to cut a write short
	created  bool
	openErr  string
	dropping uint64 // lines dropped in the current episode, 0 when none
	script   *exec.Cmd
	scriptWG sync.WaitGroup
}

func startFIFO(cfg FIFOConfig, log *slog.Logger) *fifoWriter {
	w := &fifoWriter{cfg: cfg, log: log.With("fifo", cfg.Path), q: make(chan string, fifoQueue),
		stop: make(chan struct{}), done: make(chan struct{})}
	w.open()
	w.startScript()
	go w.run()
	return w
}

// enqueue queues a line, or drops it (counted) when the queue is full.
func (w *fifoWriter) enqueue(line string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.dropped.Add(1)
		return
	}
	select {
	case w.q <- line:
	default:
		w.dropped.Add(1)
		if w.dropped.Load()&(w.dropped.Load()-1) == 0 { // 1, 2, 4, 8...: a flood logs a few lines
			w.log.Warn("notify fifo: queue full, line dropped", "queue", fifoQueue, "dropped_total", w.dropped.Load())
		}
	}
}

func (w *fifoWriter) counters() (written, dropped uint64) { return w.written.Load(), w.dropped.Load() }

func (w *fifoWriter) run() {
	defer close(w.done)
	serveQueue(w.q, w.stop, func(line string) { w.write(line, time.Now().Add(fifoWriteTimeout)) }, w.drainOne)
}

// drainOne writes a line queued before close, if the deadline allows.
func (w *fifoWriter) drainOne(line string) {
	if time.Now().After(w.deadline) {
		w.drop(line, errors.New("lbd stopping"))
		return
	}
	dl := time.Now().Add(fifoWriteTimeout)
	if w.deadline.Before(dl) {
		dl = w.deadline
	}
	w.write(line, dl)
}

// open creates the FIFO if it does not exist and opens it read-write
// (which never waits for a reader). A path that is not a FIFO is refused.
func (w *fifoWriter) open() {
	if w.f != nil {
		return
	}
	err := w.openErrOrNil()
	if err != nil {
		if msg := err.Error(); msg != w.openErr {
			w.openErr = msg
			w.log.Error("notify fifo: cannot open; its lines are dropped", "err", err)
		}
	}
}

func (w *fifoWriter) openErrOrNil() error {
	st, err := os.Lstat(w.cfg.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := syscall.Mkfifo(w.cfg.Path, 0o600); err != nil {
			return fmt.Errorf("creating FIFO %s: %w", w.cfg.Path, err)
		}
		w.created = true
	case err != nil:
		return fmt.Errorf("notify FIFO %s: %w", w.cfg.Path, err)
	case st.Mode()&fs.ModeNamedPipe == 0:
		return fmt.Errorf("notify FIFO %s: exists and is not a FIFO (%s)", w.cfg.Path, st.Mode().Type())
	}
	f, err := os.OpenFile(w.cfg.Path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening FIFO %s: %w", w.cfg.Path, err)
	}
	w.f, w.openErr = f, ""
	w.file.Store(f)
	return nil
}

// write writes one line, or drops it if the FIFO is not open or has no
// room until dl.
func (w *fifoWriter) write(line string, dl time.Time) {
	w.open()
	if w.f == nil {
		w.drop(line, errors.New("not open"))
		return
	}
	if err := w.f.SetWriteDeadline(dl); err != nil {
		w.drop(line, fmt.Errorf("setting the write deadline: %w", err))
		return
	}
	// A line is shorter than PIPE_BUF: it goes in whole or not at all.
	if _, err := w.f.WriteString(line); err != nil {
		w.drop(line, err)
		return
	}
	w.written.Add(1)
	if w.dropping > 0 {
		w.log.Info("notify fifo: writing again", "dropped_in_episode", w.dropping)
		w.dropping = 0
	}
}

// drop counts a line lost; the first of an episode is logged.
func (w *fifoWriter) drop(line string, err error) {
	w.dropped.Add(1)
	if w.dropping == 0 {
		w.log.Warn("notify fifo: line dropped (no reader draining the FIFO, or it cannot be written); more may follow",
			"line", line[:len(line)-1], "err", err)
	}
	w.dropping++
}

// startScript runs the FIFO's reader, if configured.
func (w *fifoWriter) startScript() {
	if len(w.cfg.Script) == 0 {
		return
	}
	args := append(append([]string(nil), w.cfg.Script[1:]...), w.cfg.Path)
	cmd, err := w.cfg.Exec.Command(context.Background(), append([]string{w.cfg.Script[0]}, args...), runas.Who{})
	if err != nil {
		w.log.Error("notify fifo script: refused", "script", w.cfg.Script, "err", err)
		return
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		w.log.Error("notify fifo script: cannot start", "script", w.cfg.Script, "err", err)
		return
	}
	w.script = cmd
	w.scriptWG.Add(1)
	go func() {
		defer w.scriptWG.Done()
		err := cmd.Wait()
		w.log.Info("notify fifo script exited", "script", w.cfg.Script[0], "err", err)
	}()
}

// close drains the queue until deadline, closes the FIFO (removing it if
// it was created here) and stops the script.
func (w *fifoWriter) close(deadline time.Time) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed, w.deadline = true, deadline
	close(w.stop)
	w.mu.Unlock()
	if f := w.file.Load(); f != nil {
		_ = f.SetWriteDeadline(deadline) // a write waiting for room waits no longer
	}
	<-w.done
	if w.script != nil {
		_ = w.script.Process.Signal(syscall.SIGTERM)
		stopped := make(chan struct{})
		go func() { w.scriptWG.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			_ = w.script.Process.Kill()
			<-stopped
		}
	}
	if w.f != nil {
		_ = w.f.Close()
	}
	if w.created {
		_ = os.Remove(w.cfg.Path)
	}
}
