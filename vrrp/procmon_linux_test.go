package vrrp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/proctest"
)

func startProcess(t *testing.T, argv ...string) *exec.Cmd {
	t.Helper()
	c := exec.Command(argv[0], argv[1:]...)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _, _ = c.Process.Wait() })
	return c
}

// killProcess kills c and returns when it was killed (the exit is reaped
// later: the router must see the exit, not the reaping).
func killProcess(t *testing.T, c *exec.Cmd) time.Time {
	t.Helper()
	at := time.Now()
	if err := c.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = c.Process.Wait() }()
	return at
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func quietLogTo(w *lockedBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// Without the process events connector (not root, a container), the
// table is read every PollInterval instead, and the log says so.
func TestLinuxProcessesFallbackPolls(t *testing.T) {
	bin, comm := proctest.CopiedSleep(t, t.TempDir(), "lbdtrk")
	var logs lockedBuffer
	procs := &LinuxProcesses{PollInterval: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil)),
		subscribe: func() (*procConn, error) { return nil, errors.New("no connector (test)") }}
	c := fastConfig("VI_1", 200)
	c.TrackProcesses = []TrackProcess{{Name: "p"}}
	lan := newFakeLAN()
	h := newFakeHost(lan, "10.0.0.1")
	h.procs = procs
	run := start(t, lan, h, Options{Instances: []Config{c}, TrackProcesses: []ProcessConfig{{Name: "p", Process: []string{comm}, Weight: -150}}})
	waitPriority(t, run, 50)
	if procs.EventDriven() {
		t.Fatal("EventDriven without the connector")
	}
	if !strings.Contains(logs.String(), "process events are not available, reading the process table periodically") {
		t.Fatalf("no log line says the table is polled:\n%s", logs.String())
	}
	p := startProcess(t, bin, "3600")
	waitPriority(t, run, 200)
	killProcess(t, p)
	waitPriority(t, run, 50)
}

func TestProcSeqs(t *testing.T) {
	s := procSeqs{}
	for _, step := range []struct {
		cpu, seq uint32
		lost     bool
	}{
		{0, 10, false},  // first of CPU 0
		{1, 500, false}, // first of CPU 1
		{0, 11, false},
		{1, 501, false},
		{0, 13, true}, // 12 never came
		{0, 14, false},
		{1, 0xffffffff, true},
		{1, 0, false}, // wraps
	} {
		if got := s.lost(step.cpu, step.seq); got != step.lost {
			t.Fatalf("cpu %d seq %d: lost %v, want %v", step.cpu, step.seq, got, step.lost)
		}
	}
}

func TestDecodeProcEvent(t *testing.T) {
	u32s := func(vs ...uint32) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.NativeEndian.AppendUint32(b, v)
		}
		return b
	}
	comm := append(u32s(7, 7), []byte("worker\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")...)
	tests := []struct {
		name string
		what uint32
		data []byte
		want ProcEvent
		ok   bool
	}{
		{"fork of a process", procEventFork, u32s(1, 1, 9, 9), ProcEvent{Kind: ProcFork, Parent: 1, PID: 9}, true},
		{"fork by a thread of the process", procEventFork, u32s(3, 1, 9, 9), ProcEvent{Kind: ProcFork, Parent: 1, PID: 9}, true},
		{"a new thread", procEventFork, u32s(1, 1, 10, 1), ProcEvent{}, false},
		{"exec", procEventExec, u32s(9, 9), ProcEvent{Kind: ProcExec, PID: 9}, true},
		{"exit of the process", procEventExit, u32s(9, 9, 0, 17), ProcEvent{Kind: ProcExit, PID: 9}, true},
		{"exit of a thread", procEventExit, u32s(10, 9, 0, 17), ProcEvent{}, false},
		{"name change", procEventComm, comm, ProcEvent{Kind: ProcComm, PID: 7, Comm: "worker"}, true},
		{"short message", procEventFork, u32s(1, 1), ProcEvent{}, false},
		{"uid change: not counted by", 0x4, u32s(9, 9, 0, 0), ProcEvent{}, false},
	}
	for _, tt := range tests {
		got, ok := decodeProcEvent(tt.what, tt.data)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
