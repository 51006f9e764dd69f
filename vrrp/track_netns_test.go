//go:build netns

package vrrp

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/proctest"
)

// These tests follow real processes (the kernel's process events
// connector, root needed) and real files (inotify): the fallbacks are set
// to poll once an hour, so a change seen within the test's bounds was seen
// by an event. The router's network side is the fake LAN.

// startAlone runs one router tracking what opts says, with the real
// process and file monitors and the real script runner.
func startAlone(t *testing.T, opts Options, procs *LinuxProcesses) *running {
	t.Helper()
	lan := newFakeLAN()
	h := newFakeHost(lan, "10.0.0.1")
	opts.Env = h.env(lan)
	if procs != nil {
		opts.Env.Processes = procs
	}
	opts.Env.Files = &LinuxFiles{PollInterval: time.Hour, Log: quietLog()}
	opts.Env.Runner = ExecRunner{}
	opts.Logger = quietLog()
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	run := &running{r: r, host: h, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	run.cancel = cancel
	go func() { run.done <- r.Run(ctx) }()
	t.Cleanup(func() { run.stop(t) })
	return run
}

// awaitPriority polls the effective priority every 100µs and returns when
// it became want.
func awaitPriority(t *testing.T, run *running, want uint8, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if priorityOf(run) == want {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("priority %d, want %d within %v", priorityOf(run), want, within)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func TestNetnsTrackProcessEvents(t *testing.T) {
	bin, comm := proctest.CopiedSleep(t, t.TempDir(), "lbdtrk")
	procs := &LinuxProcesses{PollInterval: time.Hour, Log: quietLog()}
	c := fastConfig("VI_1", 200)
	c.TrackProcesses = []TrackProcess{{Name: "byname"}, {Name: "byargv"}}
	run := startAlone(t, Options{Instances: []Config{c}, TrackProcesses: []ProcessConfig{
		{Name: "byname", Process: []string{comm}, Weight: -150},
		{Name: "byargv", Process: []string{bin, "3600"}, Weight: -20}, // exact parameters
	}}, procs)
	awaitPriority(t, run, 30, 5*time.Second) // nothing runs yet: 200-150-20
	if !procs.EventDriven() {
		t.Fatal("the process events connector is not used (this test needs root in the initial user and PID namespaces)")
	}

	p := startProcess(t, bin, "3600")
	awaitPriority(t, run, 200, 5*time.Second) // exec seen: both match
	other := startProcess(t, bin, "3601")     // matches by name only
	killProcess(t, p)
	awaitPriority(t, run, 180, 5*time.Second) // byname still has one, byargv none
	killProcess(t, other)
	awaitPriority(t, run, 30, 5*time.Second)

	// A shell (not counted) that execs the program is counted at its
	// exec.
	sh := startProcess(t, "/bin/sh", "-c", fmt.Sprintf("exec %s 3600", bin))
	awaitPriority(t, run, 200, 5*time.Second)
	killProcess(t, sh)
	awaitPriority(t, run, 30, 5*time.Second)
}

func TestNetnsTrackFileInotify(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "weight")
	c := fastConfig("VI_1", 100)
	c.TrackFiles = []TrackFile{{Name: "w"}}
	run := startAlone(t, Options{Instances: []Config{c}, TrackFiles: []FileConfig{{Name: "w", Path: path, Weight: 2, InitFile: ptr(5)}}}, nil)
	awaitPriority(t, run, 110, 5*time.Second) // init_file wrote 5
	if b, err := os.ReadFile(path); err != nil || string(b) != "5\n" {
		t.Fatalf("init_file: %q, %v", b, err)
	}
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("20\n")
	awaitPriority(t, run, 140, 5*time.Second)
	// Replaced by a rename, as editors and config tools do.
	tmp := filepath.Join(dir, "weight.tmp")
	if err := os.WriteFile(tmp, []byte("-30"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	awaitPriority(t, run, 40, 5*time.Second)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	awaitPriority(t, run, 100, 5*time.Second) // missing: 0
	write("-200")
	waitState(t, run, "VI_1", StateFault) // -400 is below -253
	write("1")
	waitState(t, run, "VI_1", StateMaster)
	awaitPriority(t, run, 102, 5*time.Second)
}

// TestNetnsTrackProcessLatency measures the time from a process's kill to
// the priority change: followed by events (track_process) and by a track
// script run every second (pgrep, fall 1), each kill at a random point of
// the script's period.
func TestNetnsTrackProcessLatency(t *testing.T) {
	bin, comm := proctest.CopiedSleep(t, t.TempDir(), "lbdtrk")
	const rounds = 6
	measure := func(t *testing.T, opts Options, _ Config, procs *LinuxProcesses) []time.Duration {
		run := startAlone(t, opts, procs)
		awaitPriority(t, run, 50, 5*time.Second)
		var lat []time.Duration
		for range rounds {
			p := startProcess(t, bin, "3600")
			awaitPriority(t, run, 200, 5*time.Second)
			time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
			at := killProcess(t, p)
			lat = append(lat, awaitPriority(t, run, 50, 5*time.Second).Sub(at))
		}
		slices.Sort(lat)
		return lat
	}
	c := fastConfig("VI_1", 200)
	c.TrackProcesses = []TrackProcess{{Name: "p"}}
	procs := &LinuxProcesses{PollInterval: time.Hour, Log: quietLog()}
	events := measure(t, Options{Instances: []Config{c}, TrackProcesses: []ProcessConfig{{Name: "p", Process: []string{comm}, Weight: -150}}}, c, procs)

	c = fastConfig("VI_1", 200)
	c.TrackScripts = []TrackScript{{Name: "chk"}}
	script := measure(t, Options{Instances: []Config{c}, Scripts: []ScriptConfig{{Name: "chk", Command: []string{"/usr/bin/pgrep", "-x", comm},
		Interval: time.Second, Rise: 1, Fall: 1, Weight: -150}}}, c, nil)
	t.Logf("kill -> priority change, %d kills each: track_process (events) median %v max %v; track script every 1s (pgrep) median %v max %v",
		rounds, events[len(events)/2], events[len(events)-1], script[len(script)/2], script[len(script)-1])
	if m := events[len(events)-1]; m > 500*time.Millisecond {
		t.Errorf("an event-driven change took %v: events are not followed", m)
	}
}
