package vrrp

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// The router's side of tracked processes and files: it starts their
// monitors, which post what changed to the loop, and applies it to the
// instances tracking them.

// Loop messages of the process and file monitors.
type (
	procMsg []ProcChange
	fileMsg struct {
		path  string
		value int64
	}
)

// trackedObjects resolves an instance's tracked processes and files into
// its track list, with the instance's weight and reverse overrides.
func (r *Router) trackedObjects(in *instance, s Set) {
	for _, t := range in.cfg.TrackProcesses {
		p := s.TrackProcess(t.Name)
		w, rev := p.Weight, p.Reverse
		if t.Weight != nil {
			w = *t.Weight
		}
		if t.Reverse != nil {
			rev = *t.Reverse
		}
		in.track = append(in.track, trackRef{process: t.Name, weight: w, reverse: rev})
	}
	for _, t := range in.cfg.TrackFiles {
		f := s.TrackFile(t.Name)
		w, rev := f.Weight, f.Reverse
		if t.Weight != nil {
			w = *t.Weight
		}
		if t.Reverse != nil {
			rev = *t.Reverse
		}
		in.track = append(in.track, trackRef{file: f.Path, weight: w, reverse: rev})
	}
}

// startTrackers starts the process and file monitors of the tracked
// objects some instance follows.
func (r *Router) startTrackers(ctx context.Context, wg *sync.WaitGroup) error {
	var procs []ProcessConfig
	var files []FileConfig
	for _, p := range r.set.TrackProcesses {
		if r.tracks(func(t trackRef) bool { return t.process == p.Name }) {
			procs = append(procs, p)
		}
	}
	for _, f := range r.set.TrackFiles {
		if r.tracks(func(t trackRef) bool { return t.file == f.Path }) {
			files = append(files, f)
		}
	}
	if len(procs) > 0 {
		if r.env.Processes == nil {
			r.env.Processes = &LinuxProcesses{Log: r.log}
		}
		// Watch before the first read, so that no change is lost.
		events, err := r.env.Processes.Watch(ctx)
		if err != nil {
			return fmt.Errorf("vrrp: watching processes: %w", err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); r.monitorProcesses(ctx, procs, events) }()
	}
	if len(files) > 0 {
		if r.env.Files == nil {
			r.env.Files = &LinuxFiles{Log: r.log}
		}
		return r.watchFiles(ctx, wg, files)
	}
	return nil
}

func (r *Router) tracks(match func(trackRef) bool) bool {
	for _, in := range r.insts {
		for _, t := range in.track {
			if match(t) {
				return true
			}
		}
	}
	return false
}

func (r *Router) watchFiles(ctx context.Context, wg *sync.WaitGroup, files []FileConfig) error {
	var paths []string
	for _, f := range files {
		if f.InitFile != nil {
			if err := r.env.Files.Create(f.Path, []byte(strconv.Itoa(*f.InitFile)+"\n"), f.InitFileOverwrite); err != nil {
				r.log.Warn("vrrp: initialising a track file", "file", f.Name, "err", err)
			}
		}
		paths = append(paths, f.Path)
	}
	events, err := r.env.Files.Watch(ctx, paths)
	if err != nil {
		return fmt.Errorf("vrrp: watching track files: %w", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		forward(ctx, r, events, func(e FileEvent) any {
			if e.Missing {
				return fileMsg{e.Path, 0}
			}
			v, ok := parseTrackFile(e.Data)
			if !ok {
				r.log.Warn("vrrp: track file holds a number out of range, ignoring it", "file", e.Path, "data", string(e.Data))
				return nil
			}
			return fileMsg{e.Path, v}
		})
	}()
	return nil
}

// monitorProcesses reads the process table, then follows its changes and
// posts every tracked process whose quorum is gained or lost.
func (r *Router) monitorProcesses(ctx context.Context, specs []ProcessConfig, events <-chan ProcEvent) {
	t := newProcTracker(specs)
	argv := t.needArgv()
	procs := r.env.Processes
	first := true
	rescan := func() []ProcChange {
		list, err := procs.List(argv)
		if err != nil {
			r.log.Warn("vrrp: reading the process table", "err", err)
			if !first {
				return nil // keep the counts: an unreadable table is not an empty one
			}
		}
		first = false
		return t.Reset(list, time.Now())
	}
	if ch := rescan(); !r.post(procMsg(ch)) {
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Stop()
		var wake <-chan time.Time
		if next, ok := t.Next(); ok {
			timer.Reset(time.Until(next))
			wake = timer.C
		}
		var ch []ProcChange
		select {
		case <-ctx.Done():
			return
		case <-wake:
			ch = t.Expire(time.Now())
		case e, ok := <-events:
			if !ok {
				return
			}
			ch = r.procEvent(t, e, argv, rescan)
		}
		if len(ch) > 0 && !r.post(procMsg(ch)) {
			return
		}
	}
}

func (r *Router) procEvent(t *procTracker, e ProcEvent, argv bool, rescan func() []ProcChange) []ProcChange {
	now := time.Now()
	switch e.Kind {
	case ProcExec:
		p, ok := r.env.Processes.Read(e.PID, argv)
		if !ok {
			return t.Exit(e.PID, now)
		}
		return t.Exec(p, now)
	case ProcFork:
		return t.Fork(e.Parent, e.PID, now)
	case ProcExit:
		return t.Exit(e.PID, now)
	case ProcComm:
		return t.Comm(e.PID, e.Comm, now)
	case ProcRescan:
		return rescan()
	}
	return nil
}

// processChanged applies tracked processes' new statuses (under r.mu).
func (r *Router) processChanged(m procMsg) {
	now := time.Now()
	for _, c := range m {
		r.log.Info("vrrp: tracked process quorum changed", "process", c.Name, "up", c.Up, "running", c.N)
		st := trackDown
		if c.Up {
			st = trackUp
		}
		r.setTrack(func(t trackRef) bool { return t.process == c.Name }, st, 0, now)
	}
}

// fileChanged applies a tracked file's number (under r.mu).
func (r *Router) fileChanged(m fileMsg) {
	r.setTrack(func(t trackRef) bool { return t.file == m.path }, trackUp, m.value, time.Now())
}

// setTrack sets the status (and value) of the tracked objects match
// selects and recomputes the instances whose objects changed.
func (r *Router) setTrack(match func(trackRef) bool, st trackStatus, value int64, now time.Time) {
	for _, in := range r.insts {
		changed := false
		for i := range in.track {
			t := &in.track[i]
			if match(*t) && (t.status != st || t.value != value) {
				t.status, t.value = st, value
				changed = true
			}
		}
		if changed {
			r.retrack(in, now)
		}
	}
}
