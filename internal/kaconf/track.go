package kaconf

import (
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lb/vrrp"
)

// Tracked processes and files: keepalived's vrrp_track_process and
// track_file (vrrp_track_file) blocks become vrrp.track_processes and
// vrrp.track_files; an instance's track_process and track_file blocks
// name them, as track_script names a vrrp_script. keepalived resolves the
// names when it reads the instance, so the blocks must come first.

var processMapped = []string{"process", "param_match", "weight", "quorum", "quorum_max", "fork_delay",
	"terminate_delay", "delay", "full_command"}

var fileMapped = []string{"file", "weight", "init_file"}

// kaCommLen is the longest process name the kernel keeps: keepalived
// compares a longer one with /proc/PID/comm and never matches.
const kaCommLen = 15

// vrrpTrackProcess maps "vrrp_track_process NAME { process ... }".
func (m *mapper) vrrpTrackProcess(n *Node) {
	name, ok := m.namedBlock(n)
	if !ok {
		return
	}
	p := vrrp.ProcessConfig{Name: name, Quorum: vrrp.DefaultProcessQuorum}
	quorumGiven := false
	for _, c := range n.Block {
		switch c.Key {
		case "process":
			if m.leaf(c, 1, -1) && p.Process == nil {
				p.Process = slices.Clone(c.Args)
			} else if p.Process != nil {
				m.notef(c.Pos, "process given twice: keepalived keeps the first")
			}
		case "param_match":
			m.paramMatch(&p, c)
		case "weight":
			if m.leaf(c, 1, 2) {
				if v, ok := value(m, c, 0, intIn(-254, 254)); ok {
					p.Weight = v
				}
				p.Reverse = m.reverseWord(c, 1, false)
			}
		case "quorum", "quorum_max":
			m.quorum(&p, c, &quorumGiven)
		case "delay", "fork_delay", "terminate_delay":
			m.processDelay(&p, c)
		case "full_command":
			if m.leaf(c, 0, 0) {
				p.FullCommand = true
			}
		default:
			m.other(c, "vrrp_track_process", nil, processMapped)
		}
	}
	switch {
	case p.Process == nil:
		m.unmapped(n, "vrrp_track_process %s has no process: keepalived ignores it too", name)
		return
	case !p.FullCommand && len(p.Process) == 1 && len(p.Process[0]) > kaCommLen:
		m.unmapped(n, "process name %q is longer than the kernel's %d bytes: it never matches (keepalived's either); "+
			"add full_command to match the command line", p.Process[0], kaCommLen)
		return
	}
	m.d.VRRP.TrackProcesses = append(m.d.VRRP.TrackProcesses, p)
	m.sources.tracked["process "+name] = n.Pos
}

// paramMatch reads "param_match [initial|partial]" (alone: exact).
func (m *mapper) paramMatch(p *vrrp.ProcessConfig, c *Node) {
	if !m.leaf(c, 0, 1) {
		return
	}
	if len(c.Args) == 0 {
		p.ParamMatch, p.FullCommand = vrrp.ParamMatchExact, true
		return
	}
	switch c.Args[0] {
	case "initial":
		p.ParamMatch, p.FullCommand = vrrp.ParamMatchInitial, true
	case "partial":
		p.ParamMatch, p.FullCommand = vrrp.ParamMatchPartial, true
	default:
		m.unmappedWord(c, c.Args[0], "unknown param_match (initial or partial): keepalived ignores the line too")
	}
}

// quorum reads quorum and quorum_max with keepalived's rules: a quorum
// above quorum_max (or the reverse) is ignored; quorum_max 0 makes the
// quorum 0 (up while none runs).
func (m *mapper) quorum(p *vrrp.ProcessConfig, c *Node, quorumGiven *bool) {
	if !m.leaf(c, 1, 1) {
		return
	}
	if c.Key == "quorum" {
		v, ok := value(m, c, 0, uintIn(1, 65535))
		if !ok {
			return
		}
		if p.QuorumMax != nil && v > *p.QuorumMax {
			m.unmapped(c, "quorum %d is above quorum_max %d: keepalived ignores the line, and so does the import", v, *p.QuorumMax)
			return
		}
		p.Quorum, *quorumGiven = v, true
		return
	}
	v, ok := value(m, c, 0, uintIn(0, 65535))
	if !ok {
		return
	}
	if (v != 0 || p.Quorum > 1) && v < p.Quorum {
		m.unmapped(c, "quorum_max %d is below quorum %d: keepalived ignores the line, and so does the import", v, p.Quorum)
		return
	}
	p.QuorumMax = &v
	switch {
	case v == 0:
		p.Quorum = 0
	case p.Quorum == 0:
		p.Quorum = 1
	}
}

// processDelay reads delay, fork_delay and terminate_delay (seconds,
// fractions allowed, 0 excluded as keepalived).
func (m *mapper) processDelay(p *vrrp.ProcessConfig, c *Node) {
	if !m.leaf(c, 1, 1) {
		return
	}
	v, ok := value(m, c, 0, secondsIn(time.Microsecond, time.Hour))
	if !ok {
		return
	}
	if c.Key != "fork_delay" {
		p.TerminateDelay = v
	}
	if c.Key != "terminate_delay" {
		p.ForkDelay = v
	}
}

// trackFile maps "track_file NAME { file PATH weight W [reverse]
// init_file [VALUE] [overwrite] }" (vrrp_track_file is keepalived's older
// name).
func (m *mapper) trackFile(n *Node) {
	name, ok := m.namedBlock(n)
	if !ok {
		return
	}
	f := vrrp.FileConfig{Name: name, Weight: vrrp.DefaultFileWeight}
	for _, c := range n.Block {
		switch c.Key {
		case "file":
			if m.leaf(c, 1, 1) {
				f.Path = c.Args[0]
			}
		case "weight":
			if m.leaf(c, 1, 2) {
				if v, ok := value(m, c, 0, intIn(-(1<<31-1), 1<<31-1)); ok {
					f.Weight = v
				}
				f.Reverse = m.reverseWord(c, 1, false)
			}
		case "init_file":
			m.initFile(&f, c)
		default:
			m.other(c, n.Key, nil, fileMapped)
		}
	}
	switch {
	case f.Path == "":
		m.unmapped(n, "%s %s has no file: keepalived ignores it too", n.Key, name)
		return
	case !strings.HasPrefix(f.Path, "/"):
		m.unmapped(n, "file %q is relative (to keepalived's working directory): write the absolute path", f.Path)
		return
	}
	m.d.VRRP.TrackFiles = append(m.d.VRRP.TrackFiles, f)
	m.sources.tracked["file "+name] = n.Pos
}

func (m *mapper) initFile(f *vrrp.FileConfig, c *Node) {
	if !m.leaf(c, 0, 2) {
		return
	}
	v, args := 0, c.Args
	if len(args) > 0 && args[0] != "overwrite" {
		n, ok := value(m, c, 0, intIn(-(1<<31), 1<<31-1))
		if !ok {
			return
		}
		v, args = n, args[1:]
	}
	switch {
	case len(args) == 0:
	case args[0] == "overwrite":
		f.InitFileOverwrite = true
	default:
		m.unmappedWord(c, args[0], "unknown init_file option (overwrite)")
	}
	f.InitFile = &v
}

// reverseWord reads an optional reverse|noreverse at argument i (def when
// absent).
func (m *mapper) reverseWord(c *Node, i int, def bool) bool {
	if len(c.Args) <= i {
		return def
	}
	switch c.Args[i] {
	case "reverse":
		return true
	case "noreverse":
		return false
	}
	m.unmappedWord(c, c.Args[i], "unknown weight option (reverse or noreverse)")
	return def
}

// trackRef reads an instance's "NAME [weight W [reverse|noreverse]]":
// without a weight (or reverse) the tracked object's applies.
func (m *mapper) trackRef(c *Node, where string) (w *int, rev *bool, ok bool) {
	if c.HasBlock {
		m.errorf(c.Pos, "%s: %s does not take a block", where, c.Key)
		return nil, nil, false
	}
	if len(c.Args) == 0 {
		return nil, nil, true
	}
	if c.Args[0] != "weight" {
		m.unmappedWord(c, c.Args[0], "unknown %s option: keepalived ignores the entry %s too", where, c.Key)
		return nil, nil, false
	}
	if len(c.Args) < 2 {
		m.unmappedWord(c, "weight", "%s %s: weight without a value: keepalived ignores the entry", where, c.Key)
		return nil, nil, false
	}
	if v, ok := value(m, &Node{Pos: c.Pos, Key: where + " " + c.Key + " weight", Args: c.Args[1:2]}, 0, intIn(-254, 254)); ok {
		w = &v
	}
	if len(c.Args) > 2 {
		r := m.reverseWord(c, 2, false)
		if c.Args[2] == "reverse" || c.Args[2] == "noreverse" {
			rev = &r
		}
	}
	return w, rev, true
}

// trackProcesses maps an instance's "track_process { NAME [weight W
// [reverse]] ... }".
func (m *mapper) trackProcesses(b *instanceBuild, n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	for _, c := range n.Block {
		if m.d.VRRP.TrackProcess(c.Key) == nil {
			m.unmapped(c, "no vrrp_track_process %s is imported before this instance (keepalived ignores an unknown or later one too)", c.Key)
			continue
		}
		w, rev, ok := m.trackRef(c, "track_process")
		if !ok {
			continue
		}
		if slices.ContainsFunc(b.in.TrackProcesses, func(t vrrp.TrackProcess) bool { return t.Name == c.Key }) {
			m.notef(c.Pos, "track_process %s listed twice: keepalived ignores the second", c.Key)
			continue
		}
		b.in.TrackProcesses = append(b.in.TrackProcesses, vrrp.TrackProcess{Name: c.Key, Weight: w, Reverse: rev})
	}
}

// trackFiles maps an instance's "track_file { NAME [weight W [reverse]]
// ... }".
func (m *mapper) trackFiles(b *instanceBuild, n *Node) {
	if !m.block(n, 0, 0) {
		return
	}
	for _, c := range n.Block {
		if m.d.VRRP.TrackFile(c.Key) == nil {
			m.unmapped(c, "no track_file %s is imported before this instance (keepalived ignores an unknown or later one too)", c.Key)
			continue
		}
		w, rev, ok := m.trackRef(c, "track_file")
		if !ok {
			continue
		}
		if slices.ContainsFunc(b.in.TrackFiles, func(t vrrp.TrackFile) bool { return t.Name == c.Key }) {
			m.notef(c.Pos, "track_file %s listed twice: keepalived ignores the second", c.Key)
			continue
		}
		b.in.TrackFiles = append(b.in.TrackFiles, vrrp.TrackFile{Name: c.Key, Weight: w, Reverse: rev})
	}
}

// syncGroupFiles does to a sync group member's tracked files what
// keepalived does without sync_group_tracking_weight: the default weight
// (1) becomes 0 (FAULT while the number is not 0), another weight drops
// the file.
func (m *mapper) syncGroupFiles(group string, in *vrrp.Config, pos Pos) {
	kept := in.TrackFiles[:0]
	for _, t := range in.TrackFiles {
		w := m.d.VRRP.TrackFile(t.Name).Weight
		if t.Weight != nil {
			w = *t.Weight
		}
		switch w {
		case 0:
		case 1:
			m.notef(pos, "track_file %s in vrrp_sync_group %s: keepalived ignores the default weight 1 "+
				"(the instance goes FAULT while the number is not 0), and so does the import", t.Name, group)
			t.Weight = ptr(0)
		default:
			m.unmappedWord(&Node{Pos: pos}, t.Name, "track_file %s has weight %d in vrrp_sync_group %s: keepalived ignores "+
				"it there (it is not tracked); give it weight 0 to go FAULT while the number is not 0", t.Name, w, group)
			continue
		}
		kept = append(kept, t)
	}
	in.TrackFiles = kept
}
