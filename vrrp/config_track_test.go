package vrrp

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestProcessConfigDefaults(t *testing.T) {
	n := func(i int) *int { return &i }
	tests := []struct {
		name  string
		in    ProcessConfig
		given Given
		want  ProcessConfig
	}{
		{"name only", ProcessConfig{Process: []string{"nginx"}}, nil,
			ProcessConfig{Process: []string{"nginx"}, Quorum: 1}},
		{"parameters match the command line exactly", ProcessConfig{Process: []string{"sleep", "9"}}, nil,
			ProcessConfig{Process: []string{"sleep", "9"}, Quorum: 1, FullCommand: true, ParamMatch: ParamMatchExact}},
		{"param_match alone matches the command line", ProcessConfig{Process: []string{"sleep"}, ParamMatch: ParamMatchPartial}, nil,
			ProcessConfig{Process: []string{"sleep"}, Quorum: 1, FullCommand: true, ParamMatch: ParamMatchPartial}},
		{"quorum_max 0 makes quorum 0", ProcessConfig{Process: []string{"x"}, QuorumMax: n(0)}, nil,
			ProcessConfig{Process: []string{"x"}, QuorumMax: n(0)}},
		{"delay sets fork_delay and terminate_delay", ProcessConfig{Process: []string{"x"}, Delay: time.Second}, nil,
			ProcessConfig{Process: []string{"x"}, Quorum: 1, Delay: time.Second, ForkDelay: time.Second, TerminateDelay: time.Second}},
		{"a given fork_delay is kept", ProcessConfig{Process: []string{"x"}, Delay: time.Second}, givenKeys("fork_delay"),
			ProcessConfig{Process: []string{"x"}, Quorum: 1, Delay: time.Second, TerminateDelay: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			got.SetDefaults(tt.given)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	f := FileConfig{Path: "/run/w"}
	f.SetDefaults(nil)
	if f.Weight != 1 {
		t.Fatalf("track file weight defaults to %d, want keepalived's 1", f.Weight)
	}
}

func TestValidateTrackedObjects(t *testing.T) {
	n := func(i int) *int { return &i }
	good := func() Config {
		return Config{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: []VIP{vip("10.0.0.1/32")}}
	}
	tests := []struct {
		name string
		mod  func(s *Set)
		want []string
	}{
		{"valid", func(s *Set) {
			s.TrackProcesses = []ProcessConfig{{Name: "ng", Process: []string{"nginx"}, Weight: -50, Quorum: 2, QuorumMax: n(4)}}
			s.TrackFiles = []FileConfig{{Name: "f", Path: "/run/lbd/w", Weight: 100000, InitFile: n(0), InitFileOverwrite: true}}
			s.Instances[0].TrackProcesses = []TrackProcess{{Name: "ng"}}
			s.Instances[0].TrackFiles = []TrackFile{{Name: "f", Weight: n(-3)}}
			s.Instances[0].TrackInterfaces = []TrackInterface{{Name: "eth1", Weight: 10, Reverse: true}}
		}, nil},
		{"process rules", func(s *Set) {
			s.TrackProcesses = []ProcessConfig{
				{Name: "a"},
				{Name: "b", Process: []string{"a-name-longer-than-15"}, Quorum: 3, QuorumMax: n(2), Weight: 255},
				{Name: "c", Process: []string{"x"}, ParamMatch: "fuzzy", Quorum: 70000, Delay: 2 * time.Hour},
			}
		}, []string{
			`track_processes[a]: missing required field "process"`,
			`track_processes[b].process: process name "a-name-longer-than-15" is longer than the kernel's 15 bytes: it can never match (set full_command to match the command line)`,
			"track_processes[b].quorum: 3 is above quorum_max 2: the process could never be up",
			"track_processes[b].weight: must be between -254 and 254, got 255",
			`track_processes[c].param_match: unknown param_match "fuzzy" (want one of exact, partial, initial)`,
			"track_processes[c].quorum: must be from 1 to 65535, got 70000",
			"track_processes[c].delay: must be from 0 to 1h, got 2h0m0s",
			"track_processes[c].fork_delay: must be from 0 to 1h, got 2h0m0s",
			"track_processes[c].terminate_delay: must be from 0 to 1h, got 2h0m0s",
		}},
		{"file rules", func(s *Set) {
			s.TrackFiles = []FileConfig{{Name: "a"}, {Name: "b", Path: "run/w", InitFileOverwrite: true}, {Name: "c", Path: "/run/"}}
		}, []string{
			`track_files[a]: missing required field "file"`,
			`track_files[b].file: must be an absolute path, got "run/w"`,
			"track_files[b].init_file_overwrite: needs init_file (the value to write)",
			`track_files[c].file: must name a file, not a directory: "/run/"`,
		}},
		{"references", func(s *Set) {
			s.TrackProcesses = []ProcessConfig{{Name: "ng", Process: []string{"nginx"}}}
			s.Instances[0].TrackProcesses = []TrackProcess{{Name: "nope"}, {Name: "ng", Weight: n(300)}, {}}
			s.Instances[0].TrackFiles = []TrackFile{{Name: "f"}}
		}, []string{
			`instances[VI_1].track_processes[0].name: unknown tracked process "nope" (define it under vrrp.track_processes)`,
			"instances[VI_1].track_processes[1].weight: must be between -254 and 254, got 300",
			`instances[VI_1].track_processes[2]: missing required field "name"`,
			`instances[VI_1].track_files[0].name: unknown tracked file "f" (define it under vrrp.track_files)`,
		}},
		{"duplicate names", func(s *Set) {
			s.TrackProcesses = []ProcessConfig{{Name: "ng", Process: []string{"nginx"}}, {Name: "ng", Process: []string{"nginx"}}}
		}, []string{"track_processes[ng]: defined twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Set{Instances: []Config{good()}}
			tt.mod(&s)
			s.SetDefaults(nil)
			err := s.Validate(nil)
			var got []string
			if err != nil {
				for _, e := range err.(FieldErrors) {
					got = append(got, e.Error())
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitKeepsTrackedObjects(t *testing.T) {
	a := Config{Name: "VI_1", Interface: "eth0", VRID: 51, VIPs: []VIP{vip("10.0.0.1/32")},
		TrackProcesses: []TrackProcess{{Name: "ng"}}, TrackFiles: []TrackFile{{Name: "f"}}}
	b := Config{Name: "VI_2", Interface: "eth0", VRID: 52, VIPs: []VIP{vip("10.0.0.2/32")}}
	s := Set{Instances: []Config{a, b},
		TrackProcesses: []ProcessConfig{{Name: "ng", Process: []string{"nginx"}}, {Name: "unused", Process: []string{"x"}}},
		TrackFiles:     []FileConfig{{Name: "f", Path: "/run/f"}}}
	parts := s.Split()
	if len(parts) != 2 {
		t.Fatalf("%d parts, want 2", len(parts))
	}
	if len(parts[0].TrackProcesses) != 1 || parts[0].TrackProcesses[0].Name != "ng" || len(parts[0].TrackFiles) != 1 {
		t.Errorf("VI_1's part: processes %+v files %+v", parts[0].TrackProcesses, parts[0].TrackFiles)
	}
	if len(parts[1].TrackProcesses) != 0 || len(parts[1].TrackFiles) != 0 {
		t.Errorf("VI_2's part tracks nothing, got processes %+v files %+v", parts[1].TrackProcesses, parts[1].TrackFiles)
	}
}

func TestTrackGivenPathsAreKeys(t *testing.T) {
	var asked []string
	record := func(p string) bool { asked = append(asked, p); return true }
	w := 1
	s := Set{
		Instances: []Config{{Name: "VI_1", VIPs: []VIP{vip("10.0.0.1/32")},
			TrackProcesses: []TrackProcess{{Name: "ng", Weight: &w}}, TrackFiles: []TrackFile{{Name: "f"}}}},
		TrackProcesses: []ProcessConfig{{Name: "ng", Delay: time.Second}},
		TrackFiles:     []FileConfig{{Name: "f"}},
	}
	s.SetDefaults(record)
	_ = s.Validate(record)
	want := []string{"track_processes[ng].fork_delay", "track_processes[ng].process", "track_files[f].file",
		"instances[VI_1].track_processes[0].name", "instances[VI_1].track_files[0].name"}
	for _, p := range want {
		if !slices.Contains(asked, p) {
			t.Errorf("%q not asked (asked %v)", p, asked)
		}
	}
	for _, p := range asked {
		if !isKeyPath(reflect.TypeFor[Set](), p) {
			t.Errorf("%q is not a key path of the configuration", p)
		}
	}
}

func TestParamMatchText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ParamMatch
		err  bool
	}{{"", "", false}, {"exact", ParamMatchExact, false}, {"Partial", ParamMatchPartial, false}, {"INITIAL", ParamMatchInitial, false}, {"fuzzy", "", true}} {
		var p ParamMatch
		err := p.UnmarshalText([]byte(tt.in))
		if p != tt.want || (err != nil) != tt.err {
			t.Errorf("UnmarshalText(%q) = %q, %v; want %q, error %v", tt.in, p, err, tt.want, tt.err)
		}
	}
}
