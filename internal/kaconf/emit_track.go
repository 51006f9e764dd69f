package kaconf

import (
	"gopkg.in/yaml.v3"

	"github.com/lvsd/lb/vrrp"
)

// Emitting tracked processes and files (track.go), in the vrrp section and
// in an instance.

// trackedObjectsNodes adds vrrp.track_processes and vrrp.track_files.
func trackedObjectsNodes(v ynode, m *mapper) {
	if d := m.d.VRRP; len(d.TrackProcesses) > 0 {
		ps := newMap()
		for _, p := range d.TrackProcesses {
			ps.add(p.Name, processNode(p).Node).HeadComment = "from " + oneLine(m.sources.tracked["process "+p.Name].String())
		}
		v.add("track_processes", ps.Node)
	}
	if d := m.d.VRRP; len(d.TrackFiles) > 0 {
		fs := newMap()
		for _, f := range d.TrackFiles {
			n := newMap()
			n.add("file", quoted(f.Path))
			n.add("weight", num(f.Weight))
			if f.Reverse {
				n.add("reverse", boolean(true))
			}
			if f.InitFile != nil {
				n.add("init_file", num(*f.InitFile))
			}
			if f.InitFileOverwrite {
				n.add("init_file_overwrite", boolean(true))
			}
			fs.add(f.Name, n.Node).HeadComment = "from " + oneLine(m.sources.tracked["file "+f.Name].String())
		}
		v.add("track_files", fs.Node)
	}
}

func processNode(p vrrp.ProcessConfig) ynode {
	n := newMap()
	n.add("process", argv(p.Process))
	if p.ParamMatch != "" {
		n.add("param_match", str(string(p.ParamMatch)))
	}
	if p.FullCommand && p.ParamMatch == "" && len(p.Process) == 1 {
		n.add("full_command", boolean(true))
	}
	if p.QuorumMax != nil {
		n.add("quorum_max", num(*p.QuorumMax))
	}
	if p.Quorum != vrrp.DefaultProcessQuorum && (p.QuorumMax == nil || p.Quorum != 0 || *p.QuorumMax != 0) {
		n.add("quorum", num(p.Quorum))
	}
	n.add("weight", num(p.Weight))
	if p.Reverse {
		n.add("reverse", boolean(true))
	}
	if p.ForkDelay != 0 {
		n.add("fork_delay", dur(p.ForkDelay))
	}
	if p.TerminateDelay != 0 {
		n.add("terminate_delay", dur(p.TerminateDelay))
	}
	return n
}

// trackRefNodes adds an instance's track_processes and track_files.
func trackRefNodes(n ynode, in *vrrp.Config) {
	ref := func(name string, w *int, rev *bool) *yaml.Node {
		e := newMap()
		e.add("name", str(name))
		if w != nil {
			e.add("weight", num(*w))
		}
		if rev != nil {
			e.add("reverse", boolean(*rev))
		}
		return e.Node
	}
	if len(in.TrackProcesses) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, t := range in.TrackProcesses {
			l.Content = append(l.Content, ref(t.Name, t.Weight, t.Reverse))
		}
		n.add("track_processes", l)
	}
	if len(in.TrackFiles) > 0 {
		l := &yaml.Node{Kind: yaml.SequenceNode}
		for _, t := range in.TrackFiles {
			l.Content = append(l.Content, ref(t.Name, t.Weight, t.Reverse))
		}
		n.add("track_files", l)
	}
}
