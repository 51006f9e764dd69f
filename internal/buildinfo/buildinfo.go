// Package buildinfo reads what the Go toolchain stamped into the running
// binary (runtime/debug.ReadBuildInfo): the main module's version, the VCS
// revision and whether the tree was modified, the commit's time and the Go
// version. lbd, lbrs and lbctl print it ("PROG version"), lbd reports it on
// its control socket, as lbd_build_info and in its first log line.
//
// There is no clock time in a build: the date shown is the commit's
// (vcs.time), so two builds of one commit are the same bytes. A binary built
// without VCS information (-buildvcs=false, or from a tree without .git)
// shows the revision and the date as "unknown".
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Unknown is what a field without build information shows.
const Unknown = "unknown"

// Info is the build information of one binary.
type Info struct {
	// Version is the main module's version: a tag ("v1.2.0"), a
	// pseudo-version ("v0.0.0-20261207103358-772d9e0a1b2c", "+dirty" when
	// the tree was modified) or "(devel)" without VCS information.
	Version string
	// Revision is the VCS revision (a commit hash), "" without VCS information.
	Revision string
	// Dirty says the tree had uncommitted changes (vcs.modified).
	Dirty bool
	// Time is the commit's time (vcs.time, RFC 3339), "" without VCS information.
	Time string
	// GoVersion is the toolchain that built it ("go1.26.8").
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	return FromBuildInfo(bi, ok)
}

// FromBuildInfo extracts an Info from what debug.ReadBuildInfo returned.
func FromBuildInfo(bi *debug.BuildInfo, ok bool) Info {
	if !ok || bi == nil {
		return Info{Version: "(devel)"}
	}
	in := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Dirty = s.Value == "true"
		}
	}
	return in
}

// RevisionString is the revision with "+dirty" for a modified tree, or
// "unknown".
func (i Info) RevisionString() string {
	if i.Revision == "" {
		return Unknown
	}
	if i.Dirty {
		return i.Revision + "+dirty"
	}
	return i.Revision
}

// TimeString is the commit's time, or "unknown".
func (i Info) TimeString() string {
	if i.Time == "" {
		return Unknown
	}
	return i.Time
}

// Line is the one-line form "PROG version" prints:
//
//	lbd v0.0.0-20261207103358-772d9e0a1b2c (revision 772d9e0…, date 2026-12-07T10:33:58Z, go1.26.8)
func (i Info) Line(prog string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s (revision %s, date %s", prog, i.Version, i.RevisionString(), i.TimeString())
	if i.GoVersion != "" {
		fmt.Fprintf(&b, ", %s", i.GoVersion)
	}
	b.WriteString(")")
	return b.String()
}
