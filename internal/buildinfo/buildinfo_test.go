package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want Info
		line string
	}{
		{"no build info", nil, false, Info{Version: "(devel)"}, "lbd (devel) (revision unknown, date unknown)"},
		{"without VCS information", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true,
			Info{Version: "(devel)", GoVersion: "go1.26.8"}, "lbd (devel) (revision unknown, date unknown, go1.26.8)"},
		{"clean commit", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"},
			Settings: vcs("vcs", "git", "vcs.revision", "abc123", "vcs.time", "2026-12-07T10:33:58Z", "vcs.modified", "false")}, true,
			Info{Version: "v1.2.0", Revision: "abc123", Time: "2026-12-07T10:33:58Z", GoVersion: "go1.26.8"},
			"lbd v1.2.0 (revision abc123, date 2026-12-07T10:33:58Z, go1.26.8)"},
		{"modified tree", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261207103358-abc123abc123+dirty"},
			Settings: vcs("vcs.revision", "abc123", "vcs.time", "2026-12-07T10:33:58Z", "vcs.modified", "true")}, true,
			Info{Version: "v0.0.0-20261207103358-abc123abc123+dirty", Revision: "abc123", Dirty: true, Time: "2026-12-07T10:33:58Z", GoVersion: "go1.26.8"},
			"lbd v0.0.0-20261207103358-abc123abc123+dirty (revision abc123+dirty, date 2026-12-07T10:33:58Z, go1.26.8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromBuildInfo(tt.bi, tt.ok)
			if got != tt.want {
				t.Errorf("FromBuildInfo = %+v, want %+v", got, tt.want)
			}
			if l := got.Line("lbd"); l != tt.line {
				t.Errorf("Line = %q, want %q", l, tt.line)
			}
		})
	}
}

// TestReadTestBinary: a test binary has a Go version; its main module is
// the test's, so only the toolchain is asserted.
func TestReadTestBinary(t *testing.T) {
	in := Read()
	if !strings.HasPrefix(in.GoVersion, "go") {
		t.Errorf("GoVersion = %q", in.GoVersion)
	}
}
