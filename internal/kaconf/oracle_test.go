package kaconf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// keepalived itself is the oracle for what the importer accepts: for every
// fixture (the files in testdata and the configurations of the table tests)
// TestKeepalivedOracle runs "keepalived -t" (config-test mode: parse,
// report on stderr, exit; no pid file, no daemon, no change to the
// machine) and compares its verdicts with the importer's:
//
//   - every statement keepalived reports as unknown, invalid, ignored or
//     corrected (on its line, on the closing brace of its block, or by
//     name for a vrrp_instance, sync group, virtual or real server) must
//     carry an error, an unmapped issue or a note of the importer: nothing
//     keepalived complains about is mapped silently;
//   - if keepalived cannot run the file, the importer must refuse it;
//   - every error that stops the import, and every issue in which the
//     importer says keepalived rejects, ignores, skips or drops something,
//     must be confirmed by a keepalived message about that statement (or
//     one within it).
//
// Messages about the machine (interfaces that do not exist here) and
// deprecations are no verdict. A message the classification does not know
// fails the test. Where the importer differs on purpose, oracleAllowed says
// why, and docs/keepalived-mapping.md tells users.

// kaMsg is one message of keepalived -t.
type kaMsg struct {
	file string // as the importer names it; "" for a message without position
	line int
	text string
}

func (m kaMsg) String() string {
	if m.file == "" {
		return "keepalived: " + m.text
	}
	return fmt.Sprintf("keepalived %s:%d: %s", m.file, m.line, m.text)
}

var kaPosRE = regexp.MustCompile(`^\((?:(.+): )?Line (\d+)\) (.*)$`)

// kaTools are the programs the oracle runs: keepalived, and unshare and ip
// to give it a network namespace of its own.
type kaTools struct{ keepalived, unshare, ip string }

// lookTools finds them or fails the test.
func lookTools(t *testing.T) kaTools {
	t.Helper()
	look := func(name, pkg string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return filepath.Join(dir, name)
			}
		}
		t.Fatalf("%s is not installed: the importer's fixtures are checked against \"keepalived -t\"; "+
			"install it (Debian: apt-get install %s; .ci/run installs it)", name, pkg)
		return ""
	}
	return kaTools{keepalived: look("keepalived", "keepalived"), unshare: look("unshare", "util-linux"), ip: look("ip", "iproute2")}
}

// kaMissingIfRE finds the interfaces keepalived says do not exist.
var kaMissingIfRE = regexp.MustCompile(`interface (\S+) .*doesn't exist`)

// runKeepalived runs "keepalived -t -f FILE" in a network namespace of its
// own in which every interface the file names exists (keepalived checks
// less of an instance whose interface is missing, so the verdict would
// depend on the machine): it runs keepalived, creates the interfaces it
// reports missing, and runs it again until none is.
func runKeepalived(t *testing.T, tools kaTools, path string) (msgs []kaMsg, died string) {
	t.Helper()
	ifaces := namedInterfaces(readStatements(path)) // a first guess, to save runs
	for {
		msgs, died = runKeepalivedOnce(t, tools, path, ifaces, true)
		n := len(ifaces)
		for _, m := range msgs {
			if p := kaMissingIfRE.FindStringSubmatch(m.text); p != nil && !slices.Contains(ifaces, p[1]) {
				ifaces = append(ifaces, p[1])
			}
		}
		if len(ifaces) == n || len(ifaces) > 64 {
			return msgs, died
		}
	}
}

// namedInterfaces lists the interfaces a fixture names where the importer
// reads them: instances' interface, track_interface entries, virtual
// addresses' dev, the sync daemon's interface.
func namedInterfaces(stmts []*stmt) []string {
	var out []string
	add := func(name string) {
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	for _, s := range stmts {
		n := s.node
		switch {
		case (n.Key == "interface" || n.Key == "lvs_sync_daemon" || n.Key == "lvs_sync_daemon_interface") && len(n.Args) > 0:
			add(n.Args[0])
		case s.parent != nil && s.parent.node.Key == "track_interface":
			add(n.Key)
		case s.parent != nil && s.parent.node.Key == "virtual_ipaddress":
			if i := slices.Index(n.Args, "dev"); i >= 0 && i+1 < len(n.Args) {
				add(n.Args[i+1])
			}
		}
	}
	return out
}

// kaNetnsScript creates the interfaces (veth pairs: the kernel may lack the
// dummy driver) and runs keepalived -t: sh -c SCRIPT sh IP KEEPALIVED FILE
// IFACE... An interface that cannot be created (a name too long) stays
// missing.
const kaNetnsScript = `ip=$1 ka=$2 file=$3; shift 3; i=0
for n do "$ip" link add "$n" type veth peer name "kaoracle$i" 2>/dev/null; i=$((i+1)); done
exec "$ka" -t -f "$file"`

// runKeepalivedOnce runs keepalived -t (in a network namespace with
// interfaces ifaces when netns is set; keywords are known or unknown
// whatever the machine) and returns
// its messages, each once, in order. It runs in FILE's directory, so that
// the names of included files in its messages are relative to it;
// positions are turned into the names the importer uses (a message with a
// line but no file name is about the main file). died says how keepalived
// ended when a signal killed it (after the messages it printed).
func runKeepalivedOnce(t *testing.T, tools kaTools, path string, ifaces []string, netns bool) (msgs []kaMsg, died string) {
	t.Helper()
	dir, base := filepath.Split(path)
	cmd := exec.Command(tools.keepalived, "-t", "-f", base)
	if netns {
		args := []string{"--net"}
		if os.Geteuid() != 0 {
			args = append(args, "--map-root-user")
		}
		args = append(args, "sh", "-c", kaNetnsScript, "sh", tools.ip, tools.keepalived, base)
		cmd = exec.Command(tools.unshare, append(args, ifaces...)...)
	}
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() < 0:
		died = exit.String()
	case err != nil && !errors.As(err, &exit):
		t.Fatalf("running keepalived -t: %v", err)
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		l = strings.TrimRight(l, " \t\r")
		if l == "" {
			continue
		}
		m := kaMsg{text: l}
		if p := kaPosRE.FindStringSubmatch(l); p != nil {
			m.file, m.text = path, p[3]
			if p[1] != "" {
				m.file = filepath.Join(dir, p[1])
			}
			m.line, _ = strconv.Atoi(p[2])
		}
		if !slices.Contains(msgs, m) {
			msgs = append(msgs, m)
		}
	}
	if err != nil && died == "" && len(msgs) == 0 {
		t.Fatalf("keepalived -t -f %s in a network namespace exited with %v and no message", path, err)
	}
	return msgs, died
}

// kaClass is what a keepalived message means for the comparison.
type kaClass int

const (
	kaHost      kaClass = iota // about the machine keepalived runs on (its interfaces), not the file
	kaInfo                     // a deprecation, a default that changes nothing, keepalived's script security policy
	kaComplaint                // a statement is unknown, invalid, ignored or corrected
	kaFatal                    // keepalived cannot run the file
)

// kaClasses classifies keepalived 2.2.7's messages, first match wins. A
// message that matches none fails the test: add it here.
var kaClasses = []struct {
	re    *regexp.Regexp
	class kaClass
}{
	{regexp.MustCompile(`doesn't exist$|^Non-existent interface specified in configuration$|since not found/accessible`), kaHost},
	{regexp.MustCompile(`^unknown (route|rule) keyword `), kaComplaint},
	// lbd watches no route (the import notes it on the virtual_routes block).
	{regexp.MustCompile(`^Warning - cannot track route \S+ with no interface specified, not tracking$`), kaInfo},
	{regexp.MustCompile(`is deprecated|[Pp]lease use |no scheduler set, setting default|^Warning - empty \w+ block$|probably isn't what you want|` +
		`^SECURITY VIOLATION - (check )?scripts are being executed but script_security not enabled`), kaInfo},
	{regexp.MustCompile(`^Unable to (find|read|open) configuration file`), kaFatal},
	{regexp.MustCompile(`^Unknown keyword '|^Unexpected '\{'|^Extra '\}'|^Missing '\{'|^There are \d+ missing|` +
		`missing terminating|^Unmatched quote|^Unterminated quote|is missing a parameter|` +
		`[Ii]nvalid|[Ii]gnor|[Ss]kipping|removing|must be|outside range|already defined|unknown \[|Unknown interface|` +
		`length should be|both use VRID|only valid for|unknown unicast_peer option|all packets will be discarded|` +
		`setting \S+ to|[Ss]etting to|setting default|clearing|resetting|[Rr]educing|defaulting|rounding|Truncating|not specified$|` +
		`, not tracking$`), kaComplaint},
}

func classify(text string) (kaClass, bool) {
	for _, c := range kaClasses {
		if c.re.MatchString(text) {
			return c.class, true
		}
	}
	return 0, false
}

// importerVerdict is what the importer said about a fixture: the errors
// that stopped it, or its issues and notes.
type importerVerdict struct {
	errs    Errors
	res     *Result
	reports []Pos // the position of every error, issue and note
}

func runImporter(path string) (*importerVerdict, error) {
	v := &importerVerdict{}
	res, err := ConvertFile(path, nil)
	switch {
	case errors.As(err, &v.errs):
		for _, e := range v.errs {
			v.reports = append(v.reports, e.Pos)
		}
	case err != nil:
		return nil, err
	default:
		v.res = res
		for _, i := range res.Unmapped {
			v.reports = append(v.reports, i.Pos)
		}
		for _, n := range res.Notes {
			v.reports = append(v.reports, n.Pos)
		}
	}
	return v, nil
}

// kaClaimRE matches the issues in which the importer says keepalived itself
// rejects or ignores something.
var kaClaimRE = regexp.MustCompile(`keepalived (rejects|ignores|skips|drops|does not run)`)

// disagreement is one difference between keepalived and the importer.
type disagreement struct {
	what  string
	nbsp  bool   // a message on the file as written, not on it with ASCII spaces
	died  string // how keepalived was killed
	last  string // and its last message
	err   *Error // the importer's error keepalived does not confirm
	issue *Issue // the importer's claim keepalived does not confirm
}

// oracleAllowed lists the deliberate differences from keepalived -t, each
// with its reason; docs/keepalived-mapping.md tells users the same.
var oracleAllowed = []struct {
	reason string
	match  func(d disagreement) bool
}{
	{"non-ASCII white space: the importer reads it as a space (with a note), keepalived as part of a word, " +
		"so that an indented line is an unknown keyword; the importer's verdicts are compared with keepalived " +
		"on the file with those spaces made ASCII",
		func(d disagreement) bool { return d.nbsp }},
	{"keepalived 2.2.7 -t kills itself when it checks a script that runs as another user " +
		"(lib/notify.c, check_script_secure: main_pid != getppid() in config-test mode): it gives no verdict",
		func(d disagreement) bool { return d.died == "signal: terminated" && d.last == "" }},
	{"keepalived 2.2.7 -t crashes after it reports an HTTP_GET or SSL_GET without url (the checker it " +
		"dropped is used afterwards); what it reported is compared",
		func(d disagreement) bool {
			return d.died == "signal: segmentation fault" && strings.Contains(d.last, "checker has no urls specified")
		}},
	{"an empty vrrp_script name: keepalived accepts it without a word, lbd's names cannot be empty, and the " +
		"importer stops rather than invent one",
		func(d disagreement) bool { return d.err != nil && d.err.Msg == "vrrp_script: empty name" }},
	{"words after an unquoted script command: keepalived uses only the first word of the line " +
		"(lib/notify.c, set_script_params_array) without a message; the importer says so",
		func(d disagreement) bool {
			return d.issue != nil && (d.issue.Keyword == "script" || d.issue.Keyword == "misc_path") &&
				strings.Contains(d.issue.Reason, "after the command")
		}},
}

// allowedBecause returns the reason for a deliberate difference, or "".
func allowedBecause(d disagreement) string {
	for _, a := range oracleAllowed {
		if a.match(d) {
			return a.reason
		}
	}
	return ""
}

// oracleFixture is a file in testdata, or the files of a table test.
type oracleFixture struct {
	name  string
	path  string            // a file in testdata
	files map[string]string // or files to write, name -> text
	main  string            // and the one to read
}

func TestKeepalivedOracle(t *testing.T) {
	tools := lookTools(t)
	for _, fx := range oracleFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			path := fx.path
			if path == "" {
				dir := t.TempDir()
				for name, text := range fx.files {
					p := filepath.Join(dir, name)
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				path = filepath.Join(dir, fx.main)
			}
			for _, d := range compareWithKeepalived(t, tools, path) {
				if r := allowedBecause(d); r != "" {
					t.Logf("allowed (%s): %s", r, d.what)
					continue
				}
				t.Error(d.what)
			}
		})
	}
}

// oracleFixtures lists every fixture: the top-level files of testdata (the
// files in testdata/full.d are included by full.conf) and the
// configurations of the table tests.
func oracleFixtures(t *testing.T) []oracleFixture {
	files, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	var out []oracleFixture
	for _, f := range files {
		out = append(out, oracleFixture{name: filepath.Base(f), path: f})
	}
	text := func(name, conf string) {
		out = append(out, oracleFixture{name: name, files: map[string]string{"keepalived.conf": conf}, main: "keepalived.conf"})
	}
	for _, tt := range unmappedCases {
		text("unmapped: "+tt.name, tt.conf)
	}
	for _, tt := range malformedCases {
		text("malformed: "+tt.name, tt.conf)
	}
	for _, tt := range vrrpDefaultCases {
		text("VRRP default: "+tt.name, tt.conf)
	}
	for _, tt := range trackCases {
		text("tracking: "+tt.name, tt.conf)
	}
	for _, tt := range routeCases {
		text("routes: "+tt.name, tt.conf)
	}
	text("routes: static", staticConf+instance("virtual_rules {\n from 10.0.0.0/24 table 2\n}"))
	for _, tt := range lvsDefaultCases {
		text("LVS default: "+tt.name, tt.conf)
	}
	for _, tt := range checkTimingCases {
		text("check timing: "+tt.name, checkTimingConf(tt.vs, tt.rs, tt.kind, tt.check))
	}
	for _, tt := range syncDaemonCases {
		text("sync daemon: "+tt.line, syncDaemonConf(tt.line))
	}
	for _, tt := range preprocConfs {
		text("preprocessor: "+tt.name, tt.conf)
	}
	for _, tt := range vsGroupExpandCases {
		text("virtual_server_group: "+tt.name, vsGroupConf(tt.entries))
	}
	for _, e := range vsGroupBadEntries {
		text("virtual_server_group entry: "+e, vsGroupConf(e))
	}
	samples, _ := filepath.Glob("testdata/samples/keepalived.conf.*")
	for _, f := range samples {
		out = append(out, oracleFixture{name: "sample " + filepath.Base(f), path: f})
	}
	text("YAML quoting", yamlQuotingConf)
	out = append(out, oracleFixture{name: "include", files: includedFixture, main: "ka/keepalived.conf"})
	return out
}

// compareWithKeepalived returns the disagreements for one fixture.
func compareWithKeepalived(t *testing.T, tools kaTools, path string) []disagreement {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msgs, died := runKeepalived(t, tools, path)
	var out []disagreement
	if died != "" {
		d := disagreement{what: "keepalived -t " + died, died: died}
		if len(msgs) > 0 {
			d.last = msgs[len(msgs)-1].text
			d.what += " after " + msgs[len(msgs)-1].String()
		}
		out = append(out, d)
		if len(msgs) == 0 {
			return out
		}
	}
	if strings.IndexFunc(string(raw), isNonASCIISpace) >= 0 {
		// The importer reads non-ASCII white space as a space: compare it
		// with keepalived reading the file so, and list what keepalived
		// says about the file as written on top (the two files differ in
		// those spaces only, so the spaces are the cause).
		norm := filepath.Join(t.TempDir(), filepath.Base(path))
		ascii := strings.Map(func(r rune) rune {
			if isNonASCIISpace(r) {
				return ' '
			}
			return r
		}, string(raw))
		if err := os.WriteFile(norm, []byte(ascii), 0o644); err != nil {
			t.Fatal(err)
		}
		normMsgs, died := runKeepalived(t, tools, norm)
		if died != "" {
			t.Fatalf("keepalived -t %s on %s with ASCII spaces", died, path)
		}
		for i := range normMsgs {
			if normMsgs[i].file == norm {
				normMsgs[i].file = path
			}
		}
		var only []string
		for _, m := range msgs {
			if !slices.Contains(normMsgs, m) {
				only = append(only, m.String())
			}
		}
		if len(only) > 0 {
			out = append(out, disagreement{nbsp: true, what: fmt.Sprintf("%d keepalived messages only on the file with "+
				"non-ASCII spaces:\n\t%s", len(only), strings.Join(only, "\n\t"))})
		}
		msgs = normMsgs
	}
	v, err := runImporter(path)
	if err != nil {
		t.Fatalf("importer: %v", err)
	}
	return append(out, compareVerdicts(path, msgs, v)...)
}

func isNonASCIISpace(r rune) bool { return r > unicode.MaxASCII && unicode.IsSpace(r) }

// stmt is a statement of the fixture and the lines it covers (to its
// closing brace).
type stmt struct {
	node     *Node
	file     string
	from, to int
	parent   *stmt
}

func (s *stmt) contains(p Pos) bool { return p.File == s.file && p.Line >= s.from && p.Line <= s.to }

// inside reports whether s is o or one of its statements.
func (s *stmt) inside(o *stmt) bool {
	for ; s != nil; s = s.parent {
		if s == o {
			return true
		}
	}
	return false
}

// readStatements reads the fixture with the importer's reader (the
// oracle needs it only to find the statement a message is about).
func readStatements(path string) []*stmt {
	lx := &lexer{}
	data, _ := os.ReadFile(path)
	lx.lexFile(path, data)
	nodes, _ := buildTree(lx.items)
	var out []*stmt
	var walk func(ns []*Node, parent *stmt)
	walk = func(ns []*Node, parent *stmt) {
		for _, n := range ns {
			s := &stmt{node: n, file: n.Pos.File, from: n.Pos.Line, to: n.Pos.Line, parent: parent}
			if n.HasBlock && n.ClosePos.File == n.Pos.File {
				s.to = n.ClosePos.Line
			}
			out = append(out, s)
			walk(n.Block, s)
		}
	}
	walk(nodes, nil)
	return out
}

// innermost returns the deepest statement that covers p (a keepalived
// message on the closing brace of a block is about the block).
func innermost(stmts []*stmt, p Pos) *stmt {
	var best *stmt
	for _, s := range stmts {
		if s.contains(p) && (best == nil || s.inside(best)) {
			best = s
		}
	}
	return best
}

// statementAt returns the statement that starts at p, preferring one with
// keyword key, else the outermost.
func statementAt(stmts []*stmt, p Pos, key string) *stmt {
	var best *stmt
	for _, s := range stmts {
		if s.node.Pos != p {
			continue
		}
		if s.node.Key == key {
			return s
		}
		if best == nil || best.inside(s) {
			best = s
		}
	}
	return best
}

var (
	kaInstanceRE  = regexp.MustCompile(`^\(([^)\s]+)\)|^(?:\S+) and (\S+) both use VRID|VRRP instance\[([^\]]+)\]`)
	kaSyncGroupRE = regexp.MustCompile(`[Ss]ync group ([^\s,]*)`)
	kaBracesRE    = regexp.MustCompile(`^There are \d+ missing '}'s or extra '{'s`)
	kaRealRE      = regexp.MustCompile(`real server \[([^\]]+)\]:\w+:(\d+)`)
	kaServiceRE   = regexp.MustCompile(`FWM (\d+)|\[([^\]]+)\]:(?:\w+:)?(\d+)`)
)

// locate returns the statements a message without a line is about: the
// vrrp_instance or vrrp_sync_group it names, or the virtual_server (and in
// it the real_server).
func locate(stmts []*stmt, text string) []*stmt {
	top := func(key, name string) []*stmt {
		var out []*stmt
		for _, s := range stmts {
			if s.parent == nil && s.node.Key == key && len(s.node.Args) > 0 && s.node.Args[0] == name {
				out = append(out, s)
			}
		}
		return out
	}
	if p := kaInstanceRE.FindStringSubmatch(text); p != nil {
		return top("vrrp_instance", p[1]+p[2]+p[3])
	}
	if p := kaSyncGroupRE.FindStringSubmatch(text); p != nil {
		return top("vrrp_sync_group", p[1])
	}
	if kaBracesRE.MatchString(text) {
		var open []*stmt // the blocks never closed
		for _, s := range stmts {
			if s.node.HasBlock && s.node.ClosePos == (Pos{}) {
				open = append(open, s)
			}
		}
		return open
	}
	real := kaRealRE.FindStringSubmatch(text)
	p := kaServiceRE.FindStringSubmatch(kaRealRE.ReplaceAllString(text, ""))
	if p == nil {
		return nil
	}
	var out []*stmt
	for _, s := range stmts {
		if s.parent != nil || s.node.Key != "virtual_server" || !serviceIs(s.node.Args, p[1], p[2], p[3]) {
			continue
		}
		if real == nil {
			out = append(out, s)
			continue
		}
		for _, r := range stmts {
			if r.parent == s && r.node.Key == "real_server" && len(r.node.Args) > 0 && r.node.Args[0] == real[1] &&
				portIs(r.node.Args[1:], real[2]) {
				out = append(out, r)
			}
		}
	}
	return out
}

// serviceIs matches virtual_server arguments with keepalived's name of the
// service: FWM mark, or [address]:protocol:port, or [group]:port.
func serviceIs(args []string, mark, addr, port string) bool {
	switch {
	case len(args) == 0:
		return false
	case mark != "":
		return len(args) > 1 && args[0] == "fwmark" && args[1] == mark
	case args[0] == "group":
		return len(args) > 1 && args[1] == addr
	}
	return args[0] == addr && portIs(args[1:], port)
}

func portIs(args []string, port string) bool {
	if len(args) == 0 {
		return port == "0"
	}
	return args[0] == port
}

// complaint is a keepalived message about some statements.
type complaint struct {
	msg   kaMsg
	about []*stmt
}

// compareVerdicts compares keepalived's messages with the importer's
// verdict.
func compareVerdicts(path string, msgs []kaMsg, v *importerVerdict) []disagreement {
	var out []disagreement
	add := func(d disagreement) { out = append(out, d) }
	stmts := readStatements(path)
	var complaints []complaint
	fatal := false
	for _, m := range msgs {
		class, ok := classify(m.text)
		switch {
		case !ok:
			add(disagreement{what: m.String() + ": unclassified keepalived message: add it to kaClasses"})
			continue
		case class == kaFatal:
			fatal = true
		}
		if class != kaComplaint {
			continue
		}
		c := complaint{msg: m}
		if m.file != "" {
			if s := innermost(stmts, Pos{File: m.file, Line: m.line}); s != nil {
				c.about = []*stmt{s}
			}
		} else if c.about = locate(stmts, m.text); len(c.about) == 0 {
			add(disagreement{what: m.String() + ": cannot tell which statement this is about: teach locate"})
			continue
		}
		complaints = append(complaints, c)
		if len(v.errs) == 0 && !reported(v, c) && !insideUnmapped(stmts, v, c) {
			add(disagreement{what: m.String() + ": the importer maps this without an issue or a note"})
		}
	}
	if fatal && len(v.errs) == 0 {
		add(disagreement{what: "keepalived cannot run " + path + ", the importer converts it"})
	}
	for _, e := range v.errs {
		if !confirmed(complaints, statementAt(stmts, e.Pos, ""), e.Pos) {
			add(disagreement{what: "importer error " + e.Error() + ": keepalived does not complain about this statement", err: e})
		}
	}
	if v.res != nil {
		for _, i := range v.res.Unmapped {
			if kaClaimRE.MatchString(i.Reason) && !confirmed(complaints, statementAt(stmts, i.Pos, i.Keyword), i.Pos) {
				add(disagreement{what: "importer issue " + i.String() + ": keepalived does not complain about this statement", issue: &i})
			}
		}
	}
	return out
}

// reported reports whether the importer has an error, issue or note on
// the line of a complaint, or within a statement it is about.
func reported(v *importerVerdict, c complaint) bool {
	for _, p := range v.reports {
		if c.msg.file != "" && p == (Pos{File: c.msg.file, Line: c.msg.line}) {
			return true
		}
		for _, s := range c.about {
			if s.contains(p) {
				return true
			}
		}
	}
	return false
}

// insideUnmapped reports whether a complaint is about a line within a
// statement the importer left out as a whole (such as a static_rules
// block): nothing in it is mapped, silently or not.
func insideUnmapped(stmts []*stmt, v *importerVerdict, c complaint) bool {
	if v.res == nil || c.msg.file == "" {
		return false
	}
	p := Pos{File: c.msg.file, Line: c.msg.line}
	for _, i := range v.res.Unmapped {
		if s := statementAt(stmts, i.Pos, i.Keyword); s != nil && s.node.Key == i.Keyword && s.node.HasBlock && s.contains(p) {
			return true
		}
	}
	return false
}

// confirmed reports whether keepalived complains about the line p or about
// statement s (p's) or a statement within it.
func confirmed(complaints []complaint, s *stmt, p Pos) bool {
	for _, c := range complaints {
		if c.msg.file == p.File && c.msg.line == p.Line {
			return true
		}
		for _, a := range c.about {
			if s != nil && a.inside(s) {
				return true
			}
		}
	}
	return false
}

// kaLaterKeywords are keepalived keywords that Debian's keepalived 2.2.7
// does not know, with the release that has them: the importer reports them
// (no lbd equivalent) for configurations of later keepalived versions.
var kaLaterKeywords = map[string]string{
	"tls_compliant":             "2.2.8",
	"no_virtual_ipaddress":      "2.2.8",
	"timer_expired_backup":      "2.2.8",
	"v3_checksum_as_v2":         "2.2.8",
	"thread_timer_expired":      "2.3.2",
	"owner_ignore_adverts":      "2.3.3",
	"vrrp_owner_ignore_adverts": "2.3.3",
	"auth_hmac":                 "2.4.0",
	"vrrp_delay_after_boot":     "2.4.0",
	"vrrp_ipsets":               "2.2.7 built with libipset (Debian's is not)",
}

// The keywords the importer reports as keepalived keywords without an lbd
// equivalent are keepalived keywords where they are listed (keepalived -t
// does not call them unknown there), and the ones it says keepalived
// rejects are unknown to keepalived.
func TestUnsupportedKeywordsKnownToKeepalived(t *testing.T) {
	tools := lookTools(t)
	for _, tt := range []struct {
		name       string
		table      map[string]string
		head, tail string // the blocks around the keywords
	}{
		{"top level", topUnsupported, "", ""},
		{"global_defs", globalUnsupported, "global_defs {\n", "}\n"},
		{"vrrp_instance", instanceUnsupported, "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n", "}\n"},
		{"vrrp_script", scriptUnsupported, "vrrp_script s {\n script /bin/true\n", "}\n"},
		{"vrrp_sync_group", syncGroupUnsupported, "vrrp_sync_group G {\n", "}\n"},
		{"virtual_server", serviceUnsupported, "virtual_server 10.0.0.1 80 {\n", "}\n"},
		{"real_server", realUnsupported, "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n", "}\n}\n"},
		{"HTTP_GET", checkerUnsupported, "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n HTTP_GET {\n url {\n path /\n }\n", "}\n}\n}\n"},
		{"url", urlUnsupported, "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n HTTP_GET {\n url {\n path /\n", "}\n}\n}\n}\n"},
	} {
		for _, k := range keysOf(tt.table) {
			if tt.name == "HTTP_GET" && k == "user" {
				continue // a MISC_CHECK keyword
			}
			t.Run(tt.name+" "+k, func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), "keepalived.conf")
				line := strings.Count(tt.head, "\n") + 1
				var unknown bool
				// The keyword alone, else (keepalived -t crashes on some
				// block keywords without their name and block) with both.
				for _, stmt := range []string{k + "\n", k + " x {\n}\n"} {
					if err := os.WriteFile(path, []byte(tt.head+stmt+tt.tail), 0o644); err != nil {
						t.Fatal(err)
					}
					msgs, died := runKeepalivedOnce(t, tools, path, nil, false)
					unknown = slices.Contains(msgs, kaMsg{file: path, line: line, text: "Unknown keyword '" + k + "'"})
					if died == "" || unknown {
						break
					}
					if strings.Contains(stmt, "{") {
						t.Fatalf("keepalived -t %s: %v", died, msgs)
					}
				}
				want := kaClaimRE.MatchString(tt.table[k]) || kaLaterKeywords[k] != ""
				if unknown != want {
					t.Errorf("keepalived calls %s unknown in %s: %v; the importer's reason: %q (later keyword: %q)",
						k, tt.name, unknown, tt.table[k], kaLaterKeywords[k])
				}
			})
		}
	}
}
