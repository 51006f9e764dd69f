package kaconf

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lb/vrrp"

	"github.com/lvsd/lb/internal/config"
)

// mapper turns the statement tree into a config.Director, collecting
// Issues, Notes and Errors.
type mapper struct {
	d      config.Director
	issues []Issue
	notes  []Note
	errs   errorSet

	glob    globals
	syncd   *syncDaemonSpec
	sources sources // where each emitted entry came from, for comments
	vipOf   map[string]string
	flush   bool // flush_on_stop was asked for explicitly

	laterScripts map[string]bool // every vrrp_script name in the file
	defined      map[string]Pos  // "vrrp_instance NAME"... -> first definition

	// rulesUnnumbered counts the rules without a preference, by family
	// (IPv4, IPv6): keepalived numbers them down from 16384.
	rulesUnnumbered [2]int

	vsGroups map[string]*vsGroup // virtual_server_group NAME -> its members
}

// globals are the global_defs values that are defaults for the instances.
type globals struct {
	version          int
	garp             vrrp.GARPConfig
	skipCheckAdvAddr bool
	checkUnicastSrc  bool // vrrp_check_unicast_src
}

// sources remembers the position of the statements behind emitted entries.
type sources struct {
	instances map[string]Pos
	scripts   map[string]Pos
	groups    map[string]Pos
	tracked   map[string]Pos // "process NAME", "file NAME"
	services  []Pos
	keys      map[string]int // a service's Key -> its index in services
	reals     [][]Pos
	syncd     Pos

	serviceGroup []string // per service: the virtual_server_group member it expands, or ""

}

func newMapper() *mapper {
	return &mapper{
		glob: globals{
			version: vrrp.DefaultVersion,
			garp:    vrrp.DefaultGARPConfig(),
		},
		sources: sources{
			instances: map[string]Pos{},
			scripts:   map[string]Pos{},
			groups:    map[string]Pos{},
			tracked:   map[string]Pos{},
			keys:      map[string]int{},
		},
		vipOf:   map[string]string{},
		defined: map[string]Pos{},
	}
}

func (m *mapper) errorf(pos Pos, format string, args ...any) {
	m.errs.add(&Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (m *mapper) notef(pos Pos, format string, args ...any) {
	m.notes = append(m.notes, Note{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// unmapped reports statement n as not carried over.
func (m *mapper) unmapped(n *Node, format string, args ...any) {
	m.issues = append(m.issues, Issue{Pos: n.Pos, Keyword: n.Key, Reason: fmt.Sprintf(format, args...)})
}

// unmappedWord reports an option word of statement n as not carried over.
func (m *mapper) unmappedWord(n *Node, word, format string, args ...any) {
	m.issues = append(m.issues, Issue{Pos: n.Pos, Keyword: word, Reason: fmt.Sprintf(format, args...)})
}

// args checks that n has between lo and hi arguments (hi < 0: no limit).
// Too few is an error (false); extra arguments are reported as unmapped.
func (m *mapper) args(n *Node, lo, hi int) bool {
	if len(n.Args) < lo {
		if lo == 1 {
			m.errorf(n.Pos, "%s: missing argument", n.Key)
		} else {
			m.errorf(n.Pos, "%s: needs %d arguments, got %d", n.Key, lo, len(n.Args))
		}
		return false
	}
	if hi >= 0 && len(n.Args) > hi {
		m.unmappedWord(n, n.Key, "extra arguments %q ignored", strings.Join(n.Args[hi:], " "))
	}
	return true
}

// leaf checks that n has no block and between lo and hi arguments.
func (m *mapper) leaf(n *Node, lo, hi int) bool {
	if n.HasBlock {
		m.errorf(n.Pos, "%s does not take a block", n.Key)
		return false
	}
	return m.args(n, lo, hi)
}

// block checks that n has a block and between lo and hi arguments.
func (m *mapper) block(n *Node, lo, hi int) bool {
	if !n.HasBlock {
		m.errorf(n.Pos, `%s: missing "{"`, n.Key)
		return false
	}
	return m.args(n, lo, hi)
}

// value parses argument i of n with parse, reporting a failure as an error.
func value[T any](m *mapper, n *Node, i int, parse func(string) (T, error)) (T, bool) {
	v, err := parse(n.Args[i])
	if err != nil {
		m.errorf(n.Pos, "%s: %v", n.Key, err)
	}
	return v, err == nil
}

// uintIn returns a parser for a whole number in [lo, hi].
func uintIn(lo, hi int) func(string) (int, error) {
	return func(s string) (int, error) { return parseUint(s, lo, hi) }
}

// intIn returns a parser for a signed whole number in [lo, hi].
func intIn(lo, hi int) func(string) (int, error) {
	return func(s string) (int, error) { return parseInt(s, lo, hi) }
}

// secondsIn returns a parser for keepalived's decimal seconds in [lo, hi].
func secondsIn(lo, hi time.Duration) func(string) (time.Duration, error) {
	return func(s string) (time.Duration, error) {
		d, err := parseSeconds(s)
		if err == nil && (d < lo || d > hi) {
			err = fmt.Errorf("%s is outside %s to %s", s, formatDuration(lo), formatDuration(hi))
		}
		return d, err
	}
}

// wholeSecondsIn returns a parser for a whole number of seconds in [lo, hi].
func wholeSecondsIn(lo, hi int) func(string) (time.Duration, error) {
	return func(s string) (time.Duration, error) {
		v, err := parseUint(s, lo, hi)
		return time.Duration(v) * time.Second, err
	}
}

// flag reads an optional <BOOL> argument of a switch keyword such as
// "alpha" or "inhibit_on_failure": no argument means true.
func (m *mapper) flag(n *Node) (bool, bool) {
	if !m.leaf(n, 0, 1) {
		return false, false
	}
	if len(n.Args) == 0 {
		return true, true
	}
	return value(m, n, 0, parseBool)
}

// command reads a script statement (notify_*, script, misc_path...):
// the program and its arguments, from the first word after the keyword
// (quoted when it has arguments). Further words name a user to run it as
// (notify scripts), or are ignored by keepalived (script, misc_path); both
// are reported.
func (m *mapper) command(n *Node) (config.Argv, bool) {
	argv, user, ok := m.commandUser(n)
	if !ok {
		return nil, false
	}
	switch {
	case len(user) == 0:
	case n.Key == "script" || n.Key == "misc_path":
		m.unmappedWord(n, n.Key, "keepalived ignores %q after the command (quote the whole command line): it runs %q only, and so does the import",
			strings.Join(user, " "), strings.Join(argv, " "))
	default:
		m.unmappedWord(n, n.Key, "runs as user %q: lbd runs this command as global.script_user", strings.Join(user, " "))
	}
	return config.Argv(argv), true
}

// commandUser reads a script statement: the command and the words after it
// (a user and group for the notify commands).
func (m *mapper) commandUser(n *Node) (config.Argv, []string, bool) {
	if !m.leaf(n, 1, -1) {
		return nil, nil, false
	}
	argv, user, err := scriptWords(n)
	if err != nil {
		m.errorf(n.Pos, "%s: %v", n.Key, err)
		return nil, nil, false
	}
	return config.Argv(argv), user, true
}

// other reports a statement that the block's handlers do not map: a known
// keepalived keyword without an lbd equivalent (reason from known), or an
// unknown one (with a suggestion when it looks like a misspelt keyword).
func (m *mapper) other(n *Node, where string, known map[string]string, mapped []string) {
	if reason, ok := known[n.Key]; ok {
		m.unmapped(n, "%s", reason)
		return
	}
	candidates := slices.Concat(mapped, keysOf(known))
	if s := suggest(n.Key, candidates); s != "" {
		m.unmapped(n, "not a keepalived %s keyword (keepalived rejects it too); did you mean %q?", where, s)
		return
	}
	m.unmapped(n, "not a keepalived %s keyword that lbd knows", where)
}

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// suggest returns the candidate closest to word when it is a likely
// misspelling (edit distance at most 2, less than half the word).
func suggest(word string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD && d*2 < len(word) {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// mapTop maps the top-level statements: global_defs first (its values are
// defaults for the rest), then scripts, instances and virtual servers in
// file order (keepalived resolves a track_script when it reads it, so the
// script must come first), then sync groups and the sync daemon, which
// keepalived resolves once everything is read.
func (m *mapper) mapTop(nodes []*Node) {
	m.laterScripts = map[string]bool{}
	for _, n := range nodes {
		if n.Key == "vrrp_script" && len(n.Args) > 0 {
			m.laterScripts[n.Args[0]] = true
		}
	}
	for _, n := range nodes {
		if n.Key == "global_defs" {
			m.globalDefs(n)
		}
	}
	m.virtualServerGroups(nodes)
	for _, n := range nodes {
		switch n.Key {
		case "vrrp_script":
			m.vrrpScript(n)
		case "vrrp_instance":
			m.vrrpInstance(n)
		case "virtual_server":
			m.virtualServer(n)
		case "vrrp_track_process":
			m.vrrpTrackProcess(n)
		case "track_file", "vrrp_track_file":
			m.trackFile(n)
		case "static_ipaddress", "static_routes", "static_rules":
			m.staticBlock(n)
		case "global_defs", "vrrp_sync_group", "virtual_server_group":
		default:
			m.other(n, "top-level", topUnsupported, []string{"global_defs", "vrrp_script", "vrrp_instance", "vrrp_sync_group", "virtual_server",
				"vrrp_track_process", "track_file", "vrrp_track_file", "static_ipaddress", "static_routes", "static_rules"})
		}
	}
	for _, n := range nodes {
		if n.Key == "vrrp_sync_group" {
			m.syncGroup(n)
		}
	}
	m.unusedGroups(nodes)
	m.resolveSyncDaemon()
	if len(m.d.VirtualServers) > 0 && !m.flush {
		m.d.Global.FlushOnStop = true
	}
}
