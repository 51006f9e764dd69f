package vrrp

import (
	"fmt"
	"strings"
	"time"
)

// The options of the tracked objects beyond scripts and interfaces:
// processes (keepalived's vrrp_track_process) and files (track_file), and
// how an instance refers to them. Their rules follow config.go's: a field
// with its lbd.yaml key, keepalived's default in SetDefaults, its rule in
// validate, a FieldError on its key.

// keepalived's defaults and bounds for tracked processes and files.
const (
	DefaultProcessQuorum = 1
	DefaultFileWeight    = 1
	maxProcessQuorum     = 65535
	maxProcessDelay      = time.Hour
	maxFileWeight        = 1<<31 - 1
	// maxCommLen is the longest process name the kernel keeps (comm, 15
	// bytes): a longer name never matches unless full_command is set.
	maxCommLen = 15
)

// ParamMatch says how a tracked process's parameters are compared with a
// running process's (keepalived's param_match).
type ParamMatch string

// Parameter matches; "" means ParamMatchExact when parameters are given.
const (
	// ParamMatchExact: the parameters are exactly those given (none if
	// none is given).
	ParamMatchExact ParamMatch = "exact"
	// ParamMatchPartial: the first parameters are those given; more may
	// follow.
	ParamMatchPartial ParamMatch = "partial"
	// ParamMatchInitial: as partial, but the last given parameter need
	// only begin the process's.
	ParamMatchInitial ParamMatch = "initial"
)

// UnmarshalText accepts exact, partial or initial, in any case, and ""
// (unset: ParamMatch's zero value, as JSON writes it).
func (p *ParamMatch) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*p = ""
		return nil
	}
	for _, v := range []ParamMatch{ParamMatchExact, ParamMatchPartial, ParamMatchInitial} {
		if strings.EqualFold(string(b), string(v)) {
			*p = v
			return nil
		}
	}
	return fmt.Errorf("unknown param_match %q (want one of exact, partial, initial)", b)
}

// ProcessConfig is a tracked process (keepalived vrrp_track_process): the
// object is up while the number of matching processes is within
// Quorum..QuorumMax.
type ProcessConfig struct {
	Name string `yaml:"-"`
	// Process is the process to count: its name alone (matched exactly
	// against the kernel's process name, /proc/PID/comm, at most 15
	// bytes), or a program and parameters (matched against the command
	// line, /proc/PID/cmdline). Required.
	Process []string `yaml:"process,argv"`
	// ParamMatch compares the parameters (default exact when Process has
	// parameters; setting it with none given means "no parameters" for
	// exact, anything for partial and initial). Setting it matches the
	// command line, as FullCommand does.
	ParamMatch ParamMatch `yaml:"param_match"`
	// FullCommand matches Process[0] against the command line's first
	// word instead of the process name.
	FullCommand bool `yaml:"full_command"`
	Quorum      int  `yaml:"quorum"` // default 1; 1..65535
	// QuorumMax is the most matching processes for success; nil means no
	// limit, 0 means "up while none runs" (then quorum defaults to 0).
	QuorumMax *int `yaml:"quorum_max"`
	// ForkDelay waits before counting a quorum gained by a fork;
	// TerminateDelay before counting one lost by an exit (keepalived's
	// fork_delay, terminate_delay; "delay" sets both). 0 = at once.
	Delay          time.Duration `yaml:"delay"`
	ForkDelay      time.Duration `yaml:"fork_delay"`
	TerminateDelay time.Duration `yaml:"terminate_delay"`
	Weight         int           `yaml:"weight"`  // -254..254; 0 = FAULT while down
	Reverse        bool          `yaml:"reverse"` // the weight's effect is reversed (weight 0: FAULT while up)
}

// FileConfig is a tracked file (keepalived track_file): the number it
// holds, times the weight, is added to the priority of the instances
// tracking it.
type FileConfig struct {
	Name string `yaml:"-"`
	Path string `yaml:"file"` // required; absolute
	// Weight multiplies the file's number (default 1; -2147483647 to
	// 2147483647 as keepalived); 0 means FAULT while the number is not 0.
	Weight  int  `yaml:"weight"`
	Reverse bool `yaml:"reverse"`
	// InitFile, if set, is written to the file at start when the file
	// does not exist (keepalived init_file VALUE); InitFileOverwrite
	// writes it even when the file exists (init_file VALUE overwrite).
	InitFile          *int `yaml:"init_file"`
	InitFileOverwrite bool `yaml:"init_file_overwrite"`
}

// TrackProcess makes an instance follow a ProcessConfig by name.
type TrackProcess struct {
	Name    string `yaml:"name"`    // a process of the Set; required
	Weight  *int   `yaml:"weight"`  // replaces the process's weight for this instance
	Reverse *bool  `yaml:"reverse"` // replaces the process's reverse for this instance
}

// TrackFile makes an instance follow a FileConfig by name.
type TrackFile struct {
	Name    string `yaml:"name"`    // a file of the Set; required
	Weight  *int   `yaml:"weight"`  // replaces the file's weight for this instance
	Reverse *bool  `yaml:"reverse"` // replaces the file's reverse for this instance
}

// SetDefaults fills keepalived's defaults into the fields given reports
// absent (nil: the zero ones).
func (p *ProcessConfig) SetDefaults(given Given) {
	if p.Delay != 0 {
		if !given.has("fork_delay", p.ForkDelay != 0) {
			p.ForkDelay = p.Delay
		}
		if !given.has("terminate_delay", p.TerminateDelay != 0) {
			p.TerminateDelay = p.Delay
		}
	}
	if len(p.Process) > 1 || p.ParamMatch != "" {
		p.FullCommand = true
	}
	if len(p.Process) > 1 && p.ParamMatch == "" {
		p.ParamMatch = ParamMatchExact
	}
	if !given.has("quorum", p.Quorum != 0) {
		p.Quorum = DefaultProcessQuorum
		if p.QuorumMax != nil && *p.QuorumMax == 0 {
			p.Quorum = 0
		}
	}
}

// quorumMax is the upper bound of the quorum (no limit: the largest int).
func (p *ProcessConfig) quorumMax() int {
	if p.QuorumMax == nil {
		return int(^uint(0) >> 1)
	}
	return *p.QuorumMax
}

// validate checks one tracked process after SetDefaults.
func (p *ProcessConfig) validate(given Given, f fields) {
	switch {
	case !given.has("process", len(p.Process) > 0):
		f.missing("process")
	case len(p.Process) == 0 || p.Process[0] == "":
		f.add("process", "empty process name")
	case !p.FullCommand && len(p.Process[0]) > maxCommLen:
		f.add("process", "process name %q is longer than the kernel's %d bytes: it can never match (set full_command to match the command line)", p.Process[0], maxCommLen)
	}
	switch p.ParamMatch {
	case "", ParamMatchExact, ParamMatchPartial, ParamMatchInitial:
	default:
		f.add("param_match", "unknown param_match %q (want one of exact, partial, initial)", p.ParamMatch)
	}
	if p.QuorumMax != nil {
		f.intRange("quorum_max", *p.QuorumMax, 0, maxProcessQuorum)
	}
	qmax := p.quorumMax()
	switch {
	case p.Quorum == 0 && qmax == 0:
	case p.Quorum < 1 || p.Quorum > maxProcessQuorum:
		f.add("quorum", "must be from 1 to %d, got %d", maxProcessQuorum, p.Quorum)
	case p.Quorum > qmax:
		f.add("quorum", "%d is above quorum_max %d: the process could never be up", p.Quorum, qmax)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"delay", p.Delay}, {"fork_delay", p.ForkDelay}, {"terminate_delay", p.TerminateDelay}} {
		if d.v < 0 || d.v > maxProcessDelay {
			f.add(d.key, "must be from 0 to 1h, got %s", d.v)
		}
	}
	f.weight("weight", p.Weight)
}

// SetDefaults fills keepalived's defaults into the fields given reports
// absent (nil: the zero ones).
func (t *FileConfig) SetDefaults(given Given) {
	if !given.has("weight", t.Weight != 0) {
		t.Weight = DefaultFileWeight
	}
}

// validate checks one tracked file after SetDefaults.
func (t *FileConfig) validate(given Given, f fields) {
	switch {
	case !given.has("file", t.Path != ""):
		f.missing("file")
	case !strings.HasPrefix(t.Path, "/"):
		f.add("file", "must be an absolute path, got %q", t.Path)
	case strings.HasSuffix(t.Path, "/"):
		f.add("file", "must name a file, not a directory: %q", t.Path)
	}
	f.intRange("weight", t.Weight, -maxFileWeight, maxFileWeight)
	if t.InitFileOverwrite && t.InitFile == nil {
		f.add("init_file_overwrite", "needs init_file (the value to write)")
	}
}

// validateTrackRefs checks an instance's track_processes and track_files.
func (c *Config) validateTrackRefs(given Given, f fields, isProcess, isFile func(string) bool) {
	for j, t := range c.TrackProcesses {
		p := "track_processes" + item(j)
		validateTrackRef(given, f.at(p), given.has(p+".name", t.Name != ""), t.Name, t.Weight, isProcess, "process", "vrrp.track_processes")
	}
	for j, t := range c.TrackFiles {
		p := "track_files" + item(j)
		validateTrackRef(given, f.at(p), given.has(p+".name", t.Name != ""), t.Name, t.Weight, isFile, "file", "vrrp.track_files")
	}
}

func validateTrackRef(_ Given, f fields, named bool, name string, weight *int, known func(string) bool, kind, where string) {
	switch {
	case !named:
		f.missing("name")
	case !known(name):
		f.add("name", "unknown tracked %s %q (define it under %s)", kind, name, where)
	}
	if weight != nil {
		f.weight("weight", *weight)
	}
}
