package vrrp

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeProcesses is a process table the test changes: each change is an
// event, as the connector reports it.
type fakeProcesses struct {
	mu     sync.Mutex
	procs  map[int]Process
	events chan ProcEvent
	lists  int // full reads
}

func newFakeProcesses(ps ...Process) *fakeProcesses {
	f := &fakeProcesses{procs: map[int]Process{}, events: make(chan ProcEvent, 64)}
	for _, p := range ps {
		f.procs[p.PID] = p
	}
	return f
}

func (f *fakeProcesses) Watch(ctx context.Context) (<-chan ProcEvent, error) { return f.events, nil }

func (f *fakeProcesses) List(argv bool) ([]Process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	var out []Process
	for _, p := range f.procs {
		out = append(out, p)
	}
	return out, nil
}

func (f *fakeProcesses) Read(pid int, argv bool) (Process, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.procs[pid]
	return p, ok
}

func (f *fakeProcesses) listed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func (f *fakeProcesses) exec(p Process) {
	f.mu.Lock()
	f.procs[p.PID] = p
	f.mu.Unlock()
	f.events <- ProcEvent{Kind: ProcExec, PID: p.PID}
}

func (f *fakeProcesses) exit(pid int) {
	f.mu.Lock()
	delete(f.procs, pid)
	f.mu.Unlock()
	f.events <- ProcEvent{Kind: ProcExit, PID: pid}
}

// fakeFiles holds the tracked files' contents; write reports a change.
type fakeFiles struct {
	mu      sync.Mutex
	files   map[string]string
	created []string // "path=content overwrite?"
	events  chan FileEvent
}

func newFakeFiles(files map[string]string) *fakeFiles {
	return &fakeFiles{files: files, events: make(chan FileEvent, 64)}
}

func (f *fakeFiles) Watch(ctx context.Context, paths []string) (<-chan FileEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range paths {
		f.events <- f.event(p)
	}
	return f.events, nil
}

func (f *fakeFiles) event(p string) FileEvent {
	s, ok := f.files[p]
	return FileEvent{Path: p, Data: []byte(s), Missing: !ok}
}

func (f *fakeFiles) Create(path string, content []byte, overwrite bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := path + "=" + string(content)
	if overwrite {
		c += " overwrite"
	}
	f.created = append(f.created, c)
	if _, ok := f.files[path]; !ok || overwrite {
		f.files[path] = string(content)
	}
	return nil
}

func (f *fakeFiles) write(path, content string) {
	f.mu.Lock()
	f.files[path] = content
	e := f.event(path)
	f.mu.Unlock()
	f.events <- e
}

func (f *fakeFiles) remove(path string) {
	f.mu.Lock()
	delete(f.files, path)
	e := f.event(path)
	f.mu.Unlock()
	f.events <- e
}

func priorityOf(run *running) uint8 { return run.r.Stats().Instances[0].Priority }

func waitPriority(t *testing.T, run *running, want uint8) {
	t.Helper()
	eventually(t, "the priority to change", func() bool { return priorityOf(run) == want })
}

// startTracked starts a master (priority 200) tracking what opts says
// against a plain backup (priority 100).
func startTracked(t *testing.T, procs *fakeProcesses, files *fakeFiles, opts Options, ca Config) (a, b *running) {
	t.Helper()
	lan := newFakeLAN()
	ha := newFakeHost(lan, "10.0.0.1", "eth1")
	if procs != nil {
		ha.procs = procs
	}
	if files != nil {
		ha.files = files
	}
	opts.Instances = []Config{ca}
	a = start(t, lan, ha, opts)
	b = start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{fastConfig("VI_1", 100)}})
	return a, b
}

func TestRouterTrackProcess(t *testing.T) {
	for _, tc := range []struct {
		name       string
		weight     int
		reverse    bool
		wantFailed State // the master's state once nginx is gone
		wantPrio   uint8
	}{
		{"weight 0 means FAULT", 0, false, StateFault, 200},
		{"negative weight lowers the priority below the backup", -150, false, StateBackup, 50},
		{"reverse positive weight: subtracted while up, so the loss raises it back", 150, true, StateMaster, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			procs := newFakeProcesses(Process{PID: 10, Comm: "nginx"}, Process{PID: 11, Comm: "bash"})
			ca := fastConfig("VI_1", 200)
			ca.TrackProcesses = []TrackProcess{{Name: "nginx"}}
			specs := []ProcessConfig{{Name: "nginx", Process: []string{"nginx"}, Weight: tc.weight, Reverse: tc.reverse}}
			a, b := startTracked(t, procs, nil, Options{TrackProcesses: specs}, ca)
			if tc.reverse {
				// Up with a reversed +150: 200-150 = 50, the backup wins.
				waitState(t, b, "VI_1", StateMaster)
				waitPriority(t, a, 50)
				procs.exit(10)
				waitState(t, a, "VI_1", StateMaster)
				waitPriority(t, a, 200)
				return
			}
			waitState(t, a, "VI_1", StateMaster)
			waitState(t, b, "VI_1", StateBackup)
			procs.exit(10) // nginx died
			waitState(t, a, "VI_1", tc.wantFailed)
			waitState(t, b, "VI_1", StateMaster)
			if p := priorityOf(a); p != tc.wantPrio {
				t.Fatalf("priority %d, want %d", p, tc.wantPrio)
			}
			procs.exec(Process{PID: 12, Comm: "nginx"}) // restarted
			waitState(t, a, "VI_1", StateMaster)
			waitState(t, b, "VI_1", StateBackup)
			waitPriority(t, a, 200)
		})
	}
}

func TestRouterTrackProcessRescan(t *testing.T) {
	// A lost-events notice makes the router read the table again: an
	// exit it never heard of is found.
	procs := newFakeProcesses(Process{PID: 10, Comm: "nginx"})
	ca := fastConfig("VI_1", 200)
	ca.TrackProcesses = []TrackProcess{{Name: "nginx", Weight: ptr(-150)}}
	a, b := startTracked(t, procs, nil, Options{TrackProcesses: []ProcessConfig{{Name: "nginx", Process: []string{"nginx"}}}}, ca)
	waitState(t, a, "VI_1", StateMaster)
	procs.mu.Lock()
	delete(procs.procs, 10) // no event
	procs.mu.Unlock()
	procs.events <- ProcEvent{Kind: ProcRescan}
	waitState(t, b, "VI_1", StateMaster)
	waitPriority(t, a, 50)
	if n := procs.listed(); n != 2 {
		t.Fatalf("the table was read %d times, want 2 (at start and on the lost events)", n)
	}
}

func TestRouterTrackProcessWaitsForFirstRead(t *testing.T) {
	// Nothing tracked is reported yet: a weighted process holds the start
	// too (as a weight 0 script does), so that the instance does not
	// start at a priority it does not have.
	procs := newFakeProcesses()
	procs.mu.Lock() // List blocks until the test lets it go
	ca := fastConfig("VI_1", 200)
	ca.TrackProcesses = []TrackProcess{{Name: "nginx"}}
	lan := newFakeLAN()
	ha := newFakeHost(lan, "10.0.0.1")
	ha.procs = procs
	a := start(t, lan, ha, Options{Instances: []Config{ca}, TrackProcesses: []ProcessConfig{{Name: "nginx", Process: []string{"nginx"}, Weight: 10}}})
	for range 20 {
		if s := a.state("VI_1"); s != StateInit {
			t.Fatalf("started (%v) before the process table was read", s)
		}
		time.Sleep(2 * time.Millisecond)
	}
	procs.mu.Unlock()
	waitState(t, a, "VI_1", StateMaster)
	if p := priorityOf(a); p != 200 {
		t.Fatalf("priority %d, want 200 (nginx not running, +10 not added)", p)
	}
}

func TestRouterTrackFile(t *testing.T) {
	const path = "/run/lbd/prio"
	files := newFakeFiles(map[string]string{path: "50\n"})
	ca := fastConfig("VI_1", 95) // the backup has 100
	ca.TrackFiles = []TrackFile{{Name: "prio"}}
	a, b := startTracked(t, nil, files, Options{TrackFiles: []FileConfig{{Name: "prio", Path: path}}}, ca)
	waitState(t, a, "VI_1", StateMaster)
	waitPriority(t, a, 145)
	for _, step := range []struct {
		content string
		remove  bool
		prio    uint8
		state   State
	}{
		{content: "-80", prio: 15, state: StateBackup},
		{content: "not a number", prio: 95, state: StateBackup}, // 0
		{content: "0x20", prio: 127, state: StateMaster},
		{content: "99999999999", prio: 127, state: StateMaster}, // out of range: ignored
		{content: "-254", state: StateFault},                    // below -253: FAULT
		{content: "300", prio: 254, state: StateMaster},         // capped at +253
		{remove: true, prio: 95, state: StateBackup},            // a missing file is 0
	} {
		if step.remove {
			files.remove(path)
		} else {
			files.write(path, step.content)
		}
		if step.state != StateFault {
			waitPriority(t, a, step.prio)
		}
		waitState(t, a, "VI_1", step.state)
		if step.state != StateMaster {
			waitState(t, b, "VI_1", StateMaster)
		}
	}
}

func TestRouterTrackFileInstanceWeight(t *testing.T) {
	// The instance's weight (and reverse) replace the file's.
	const path = "/run/lbd/prio"
	files := newFakeFiles(map[string]string{path: "10"})
	ca := fastConfig("VI_1", 100)
	ca.TrackFiles = []TrackFile{{Name: "prio", Weight: ptr(3), Reverse: ptr(true)}}
	a, _ := startTracked(t, nil, files, Options{TrackFiles: []FileConfig{{Name: "prio", Path: path, Weight: 7}}}, ca)
	waitPriority(t, a, 70)
}

func TestRouterInitFile(t *testing.T) {
	files := newFakeFiles(map[string]string{"/run/b": "5"})
	ca := fastConfig("VI_1", 100)
	ca.TrackFiles = []TrackFile{{Name: "a"}, {Name: "b"}}
	specs := []FileConfig{{Name: "a", Path: "/run/a", InitFile: ptr(7)}, {Name: "b", Path: "/run/b", InitFile: ptr(0), InitFileOverwrite: true}}
	a, _ := startTracked(t, nil, files, Options{TrackFiles: specs}, ca)
	waitPriority(t, a, 107) // a: 7 written, b: 0 written over the 5
	files.mu.Lock()
	defer files.mu.Unlock()
	if want := []string{"/run/a=7\n", "/run/b=0\n overwrite"}; !slices.Equal(files.created, want) {
		t.Fatalf("created %q, want %q", files.created, want)
	}
}

func TestRouterTrackInterfaceReverse(t *testing.T) {
	for _, tc := range []struct {
		name     string
		weight   int
		up, down uint8 // priority with eth1 up, down
		faultUp  bool
	}{
		{"positive weight reversed lowers while up", 120, 80, 200, false},
		{"negative weight reversed raises while down", -20, 200, 220, false},
		{"weight 0 reversed is FAULT while up", 0, 200, 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := fastConfig("VI_1", 200)
			ca.TrackInterfaces = []TrackInterface{{Name: "eth1", Weight: tc.weight, Reverse: true}}
			lan := newFakeLAN()
			ha := newFakeHost(lan, "10.0.0.1", "eth1")
			a := start(t, lan, ha, Options{Instances: []Config{ca}})
			b := start(t, lan, newFakeHost(lan, "10.0.0.2"), Options{Instances: []Config{fastConfig("VI_1", 100)}})
			if tc.faultUp {
				waitState(t, a, "VI_1", StateFault)
			} else {
				waitPriority(t, a, tc.up)
			}
			ha.links.set("eth1", false)
			waitPriority(t, a, tc.down)
			waitState(t, a, "VI_1", StateMaster)
			waitState(t, b, "VI_1", StateBackup)
		})
	}
}

func ptr[T any](v T) *T { return &v }
