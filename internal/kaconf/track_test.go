package kaconf

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lvsd/lb/vrrp"
)

// The tracked processes and files of testdata/full.d/30-track.conf, and
// the instance that follows them, come through lbd.yaml (Convert parses
// the YAML it wrote) as keepalived reads them.
func TestFullFixtureTracking(t *testing.T) {
	res, err := ConvertFile("testdata/full.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := res.Director
	wantProcs := []vrrp.ProcessConfig{
		{Name: "nginx_up", Process: []string{"nginx"}, Weight: -30, Reverse: true, Quorum: 2, QuorumMax: ip(4),
			ForkDelay: 500 * time.Millisecond, TerminateDelay: 1500 * time.Millisecond},
		{Name: "java_app", Process: []string{"/usr/bin/java", "-jar", "app one.jar"}, ParamMatch: vrrp.ParamMatchInitial,
			FullCommand: true, Quorum: 1, TerminateDelay: 2 * time.Second},
	}
	if diff := cmp.Diff(wantProcs, d.VRRP.TrackProcesses); diff != "" {
		t.Errorf("track_processes (-want +got):\n%s", diff)
	}
	wantFiles := []vrrp.FileConfig{
		{Name: "prio_file", Path: "/run/lbd/prio", Weight: 5, Reverse: true, InitFile: ip(10), InitFileOverwrite: true},
		{Name: "old_name", Path: "/run/lbd/old", Weight: 1},
	}
	if diff := cmp.Diff(wantFiles, d.VRRP.TrackFiles); diff != "" {
		t.Errorf("track_files (-want +got):\n%s", diff)
	}
	in := d.VRRP.Instance("VI_TRK")
	if in == nil {
		t.Fatal("VI_TRK not imported")
	}
	if diff := cmp.Diff([]vrrp.TrackInterface{{Name: "eth1", Weight: 10, Reverse: true}, {Name: "eth2", Weight: -10}}, in.TrackInterfaces); diff != "" {
		t.Errorf("track_interfaces (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]vrrp.TrackProcess{{Name: "nginx_up"}, {Name: "java_app", Weight: ip(0), Reverse: bp(true)}}, in.TrackProcesses); diff != "" {
		t.Errorf("track_processes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]vrrp.TrackFile{{Name: "prio_file", Weight: ip(-2), Reverse: bp(false)}, {Name: "old_name"}}, in.TrackFiles); diff != "" {
		t.Errorf("track_files (-want +got):\n%s", diff)
	}
	for _, s := range []string{"track_processes:\n", "track_files:\n", "# from testdata/full.d/30-track.conf:2"} {
		if !strings.Contains(string(res.YAML), s) {
			t.Errorf("YAML lacks %q:\n%s", s, res.YAML)
		}
	}
}

var trackCases = []struct {
	name string
	conf string
	want []string // LINE:KEYWORD unmapped
	note string   // a note that must be there
	// check, if set, looks at the imported VRRP section.
	check func(*vrrp.Set) bool
}{
	{"quorum_max 0 means up while none runs", "vrrp_track_process p {\n process nginx\n quorum_max 0\n}\n", nil, "",
		func(s *vrrp.Set) bool { p := s.TrackProcess("p"); return p.Quorum == 0 && *p.QuorumMax == 0 }},
	{"quorum above quorum_max is ignored", "vrrp_track_process p {\n process nginx\n quorum_max 2\n quorum 3\n}\n", []string{"4:quorum"}, "",
		func(s *vrrp.Set) bool { return s.TrackProcess("p").Quorum == 1 }},
	{"param_match alone is exact", "vrrp_track_process p {\n process sleep\n param_match\n}\n", nil, "",
		func(s *vrrp.Set) bool {
			p := s.TrackProcess("p")
			return p.ParamMatch == vrrp.ParamMatchExact && p.FullCommand
		}},
	{"a name the kernel cannot hold", "vrrp_track_process p {\n process a-very-long-process-name\n}\n", []string{"1:vrrp_track_process"}, "", nil},
	{"process without a process", "vrrp_track_process p {\n weight 2\n}\n", []string{"1:vrrp_track_process"}, "", nil},
	{"unknown process keyword", "vrrp_track_process p {\n process x\n quorun 2\n}\n", []string{"3:quorun"}, "", nil},
	{"relative track file", "track_file f {\n file prio\n}\n", []string{"1:track_file"}, "", nil},
	{"init_file alone writes 0", "track_file f {\n file /run/f\n init_file\n}\n", nil, "",
		func(s *vrrp.Set) bool {
			f := s.TrackFile("f")
			return f.InitFile != nil && *f.InitFile == 0 && !f.InitFileOverwrite
		}},
	{"init_file overwrite alone writes 0 over", "track_file f {\n file /run/f\n init_file overwrite\n}\n", nil, "",
		func(s *vrrp.Set) bool { f := s.TrackFile("f"); return *f.InitFile == 0 && f.InitFileOverwrite }},
	{"unknown tracked process", instance("track_process {\n nope\n}"), []string{"8:nope"}, "", nil},
	{"tracked process defined after the instance", instance("track_process {\n later\n}") + "vrrp_track_process later {\n process x\n}\n",
		[]string{"8:later"}, "", nil},
	{"instance weight and reverse", "vrrp_track_process p {\n process x\n weight 5 reverse\n}\n" + instance("track_process {\n p weight -7\n}"), nil, "",
		func(s *vrrp.Set) bool {
			tp := s.Instances[0].TrackProcesses
			return len(tp) == 1 && *tp[0].Weight == -7 && tp[0].Reverse == nil
		}},
	{"track_file in a sync group: the default weight becomes 0, another is dropped",
		"track_file a {\n file /run/a\n}\ntrack_file b {\n file /run/b\n weight 3\n}\n" +
			instance("track_file {\n a\n b\n}") + "vrrp_sync_group G {\n group {\n VI_1\n }\n}\n",
		[]string{"8:b"}, "keepalived ignores the default weight 1", func(s *vrrp.Set) bool {
			tf := s.Instances[0].TrackFiles
			return len(tf) == 1 && tf[0].Name == "a" && *tf[0].Weight == 0
		}},
	{"track_process in a sync group", "vrrp_track_process p {\n process x\n}\n" + instance("") +
		"vrrp_sync_group G {\n group {\n VI_1\n }\n track_process {\n p\n }\n}\n",
		[]string{"16:track_process"}, "", nil},
}

func TestTrackImport(t *testing.T) {
	for _, tt := range trackCases {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, tt.conf)
			got := issueKeys(res)
			slices.Sort(got)
			if want := slices.Sorted(slices.Values(tt.want)); !slices.Equal(got, want) {
				t.Fatalf("unmapped %q, want %q\n%v", got, want, res.Unmapped)
			}
			if tt.note != "" && !hasNote(res, tt.note) {
				t.Errorf("no note %q in %v", tt.note, res.Notes)
			}
			if tt.check != nil && !tt.check(&res.Director.VRRP) {
				t.Errorf("imported %+v\nYAML:\n%s", res.Director.VRRP, res.YAML)
			}
		})
	}
}
