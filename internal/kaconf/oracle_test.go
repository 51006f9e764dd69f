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
// report on stderr, exit; no pid file, no daemon, no network change) and
// compares its verdicts with the importer's:
//
//   - each line keepalived reports as an unknown keyword or an invalid or
//     ignored value must be reported by the importer (unmapped or an
//     error) on the same line, never mapped silently;
//   - each line keepalived corrects must carry a note (or an issue) too;
//   - a vrrp_instance or virtual_server keepalived drops must not be
//     imported;
//   - each issue in which the importer says keepalived rejects or ignores
//     something must be confirmed by a keepalived message on that line or
//     about that object;
//   - each error that stops the import must be on a line (or about an
//     object) keepalived complains about too.
//
// Where the importer differs on purpose, oracleAllowed says why (and
// docs/keepalived-mapping.md says so to users).

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

// keepalivedBinary finds keepalived or fails the test: the oracle is part
// of the suite, not an optional extra.
func keepalivedBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("keepalived"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/keepalived", "/sbin/keepalived", "/usr/local/sbin/keepalived"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("keepalived is not installed: the importer's fixtures are checked against \"keepalived -t\"; " +
		"install it (Debian: apt-get install keepalived; .ci/run installs it)")
	return ""
}

var kaPosRE = regexp.MustCompile(`^\((?:(.+): )?Line (\d+)\) (.*)$`)

// runKeepalived runs "keepalived -t -f FILE" in FILE's directory (so that
// the names of included files in its messages are relative to it) and
// returns its messages, each once, in order. Positions are turned into the
// names the importer uses (dir joined with keepalived's name); a message
// with a line but no file name is about the main file.
func runKeepalived(t *testing.T, bin, path string) []kaMsg {
	t.Helper()
	dir, base := filepath.Split(path)
	cmd := exec.Command(bin, "-t", "-f", base)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running keepalived -t: %v", err)
	}
	var out []kaMsg
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
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if err != nil && len(out) == 0 {
		t.Fatalf("keepalived -t -f %s exited with %v and no message", path, err)
	}
	return out
}

// kaClass is what a keepalived message means for the comparison.
type kaClass int

const (
	kaHost      kaClass = iota // depends on the machine keepalived runs on (its interfaces): not a verdict on the file
	kaInfo                     // deprecation, a default keepalived uses: no verdict
	kaIgnored                  // the line (keyword or value) is unknown, invalid or ignored
	kaCorrected                // the line is read, with a value keepalived changes
	kaFatal                    // keepalived cannot run the file
)

// kaClasses classifies keepalived 2.2.7's messages, first match wins. A
// message that matches none fails the test: classify it here.
var kaClasses = []struct {
	re    *regexp.Regexp
	class kaClass
}{
	{regexp.MustCompile(`doesn't exist$|^Non-existent interface specified in configuration$`), kaHost},
	{regexp.MustCompile(`is deprecated|[Pp]lease use |no scheduler set, setting default|^Warning - empty \w+ block$`), kaInfo},
	{regexp.MustCompile(`^Unable to (find|read|open) configuration file`), kaFatal},
	{regexp.MustCompile(`^Unknown keyword '|^Unexpected '\{'|^Extra '\}'|^Missing '\{'|missing terminating|^Unmatched quote|invalid|[Ii]gnoring|must be|outside range|is missing a parameter|^There are \d+ missing`), kaIgnored},
	{regexp.MustCompile(`setting to|clearing|resetting|[Rr]educing|setting .* to`), kaCorrected},
}

func classify(m kaMsg) (kaClass, bool) {
	for _, c := range kaClasses {
		if c.re.MatchString(m.text) {
			return c.class, true
		}
	}
	return 0, false
}

// importerVerdict is what the importer said about a fixture.
type importerVerdict struct {
	errs   Errors // non-empty: the conversion stopped
	res    *Result
	issues map[Pos][]Issue
	notes  map[Pos][]Note
	errAt  map[Pos][]*Error
}

func runImporter(path string) (*importerVerdict, error) {
	v := &importerVerdict{issues: map[Pos][]Issue{}, notes: map[Pos][]Note{}, errAt: map[Pos][]*Error{}}
	res, err := ConvertFile(path, nil)
	switch {
	case errors.As(err, &v.errs):
		for _, e := range v.errs {
			v.errAt[e.Pos] = append(v.errAt[e.Pos], e)
		}
	case err != nil:
		return nil, err
	default:
		v.res = res
		for _, i := range res.Unmapped {
			v.issues[i.Pos] = append(v.issues[i.Pos], i)
		}
		for _, n := range res.Notes {
			v.notes[n.Pos] = append(v.notes[n.Pos], n)
		}
	}
	return v, nil
}

// kaClaimRE matches the issues in which the importer says keepalived itself
// rejects or ignores something.
var kaClaimRE = regexp.MustCompile(`keepalived (rejects|ignores|skips|drops|does not run)`)

// oracleAllowed lists the deliberate differences from keepalived -t, each
// with its reason; docs/keepalived-mapping.md tells users the same.
var oracleAllowed = []struct {
	reason string
	// match reports whether a disagreement is this difference: d is the
	// disagreement's kind, msg the keepalived message (when there is one),
	// issue or err the importer's side, src the text of the line involved.
	match func(d disagreement) bool
}{
	{"non-ASCII white space: the importer reads it as a space (with a note); keepalived takes it " +
		"as part of a word, so an indented line becomes an unknown keyword. Compared with keepalived " +
		"on the file with those spaces made ASCII instead",
		func(d disagreement) bool { return d.nbsp }},
}

// disagreement is one difference between keepalived and the importer.
type disagreement struct {
	what string
	nbsp bool // the fixture contains non-ASCII white space
}

type oracleFixture struct {
	name string
	path string // the main file; included files are next to it
}

func TestKeepalivedOracle(t *testing.T) {
	bin := keepalivedBinary(t)
	fixtures := oracleFixtures(t)
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			for _, d := range compareWithKeepalived(t, bin, fx.path) {
				allowed := false
				for _, a := range oracleAllowed {
					allowed = allowed || a.match(d)
				}
				if !allowed {
					t.Error(d.what)
				}
			}
		})
	}
}

// oracleFixtures lists every fixture: the top-level files of testdata (the
// files in testdata/full.d are included by full.conf) and the
// configurations of the table tests, written to a temporary directory.
func oracleFixtures(t *testing.T) []oracleFixture {
	files, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	var out []oracleFixture
	for _, f := range files {
		out = append(out, oracleFixture{name: filepath.Base(f), path: f})
	}
	return out
}

// compareWithKeepalived returns the disagreements for one fixture.
func compareWithKeepalived(t *testing.T, bin, path string) []disagreement {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msgs := runKeepalived(t, bin, path)
	var out []disagreement
	nbsp := strings.IndexFunc(string(raw), func(r rune) bool { return r > unicode.MaxASCII && unicode.IsSpace(r) }) >= 0
	if nbsp {
		// The importer reads non-ASCII white space as a space: compare it
		// with keepalived reading the file so, and check that keepalived
		// reading the file as it is complains about no more than the lines
		// with such spaces and what they hold.
		ascii := strings.Map(func(r rune) rune {
			if r > unicode.MaxASCII && unicode.IsSpace(r) {
				return ' '
			}
			return r
		}, string(raw))
		norm := filepath.Join(t.TempDir(), filepath.Base(path))
		if err := os.WriteFile(norm, []byte(ascii), 0o644); err != nil {
			t.Fatal(err)
		}
		normMsgs := runKeepalived(t, bin, norm)
		for _, m := range msgs {
			mm := m
			if mm.file == path {
				mm.file = norm
			}
			if !slices.Contains(normMsgs, mm) {
				// The two files differ in those spaces only: the message
				// is theirs (a line read as an unknown keyword, a brace
				// ignored with it, what the lines held left unset).
				out = append(out, disagreement{what: fmt.Sprintf("%s: only on the file with non-ASCII spaces", m), nbsp: true})
			}
		}
		for i := range normMsgs {
			if normMsgs[i].file == norm {
				normMsgs[i].file = path
			}
		}
		msgs = normMsgs
	}
	v, err := runImporter(path)
	if err != nil {
		t.Fatalf("importer: %v", err)
	}
	return append(out, compareVerdicts(path, msgs, v)...)
}

// objects are the places of the named statements in a fixture, to give
// keepalived's messages about an object (which have no line) the line of
// the object.
type objects struct {
	instances map[string]Pos
	services  []kaService
}

type kaService struct {
	node  *Node
	reals []*Node
}

func readObjects(path string) objects {
	lx := &lexer{}
	data, _ := os.ReadFile(path)
	lx.lexFile(path, data)
	nodes, _ := buildTree(lx.items)
	o := objects{instances: map[string]Pos{}}
	for _, n := range nodes {
		switch {
		case n.Key == "vrrp_instance" && len(n.Args) > 0:
			o.instances[n.Args[0]] = n.Pos
		case n.Key == "virtual_server" && len(n.Args) > 0:
			s := kaService{node: n}
			for _, c := range n.Block {
				if c.Key == "real_server" {
					s.reals = append(s.reals, c)
				}
			}
			o.services = append(o.services, s)
		}
	}
	return o
}

var (
	kaInstanceRE = regexp.MustCompile(`^\(([^)\s]+)\)`)
	kaServiceRE  = regexp.MustCompile(`[Vv]irtual server (?:\[(.+?)\]:\w+:(\d+)|FWM (\d+))`)
	kaRealRE     = regexp.MustCompile(`real server \[(.+?)\]:\w+:(\d+)`)
)

// locate gives a message without a line the line of the object it is
// about: the vrrp_instance it names, or the virtual_server (and in it the
// real_server).
func (o objects) locate(m kaMsg) kaMsg {
	if m.file != "" {
		return m
	}
	if p := kaInstanceRE.FindStringSubmatch(m.text); p != nil {
		if pos, ok := o.instances[p[1]]; ok {
			m.file, m.line = pos.File, pos.Line
		}
		return m
	}
	p := kaServiceRE.FindStringSubmatch(m.text)
	if p == nil {
		return m
	}
	for _, s := range o.services {
		a := s.node.Args
		match := p[3] != "" && len(a) > 1 && a[0] == "fwmark" && a[1] == p[3] ||
			p[3] == "" && a[0] == p[1] && (len(a) > 1 && a[1] == p[2] || len(a) == 1 && p[2] == "0")
		if !match {
			continue
		}
		pos := s.node.Pos
		if r := kaRealRE.FindStringSubmatch(m.text); r != nil {
			for _, rn := range s.reals {
				if len(rn.Args) > 0 && rn.Args[0] == r[1] && (len(rn.Args) > 1 && rn.Args[1] == r[2] || len(rn.Args) == 1 && r[2] == "0") {
					pos = rn.Pos
				}
			}
		}
		m.file, m.line = pos.File, pos.Line
	}
	return m
}

// compareVerdicts compares keepalived's messages with the importer's
// verdict.
func compareVerdicts(path string, msgs []kaMsg, v *importerVerdict) []disagreement {
	var out []disagreement
	add := func(format string, args ...any) {
		out = append(out, disagreement{what: fmt.Sprintf(format, args...)})
	}
	objs := readObjects(path)
	complained := map[Pos]bool{} // lines keepalived reports
	fatal := false
	for _, m := range msgs {
		m = objs.locate(m)
		class, ok := classify(m)
		if !ok {
			add("%s: unclassified keepalived message: add it to kaClasses", m)
			continue
		}
		pos := Pos{File: m.file, Line: m.line}
		switch class {
		case kaHost, kaInfo:
		case kaFatal:
			fatal = true
		case kaIgnored:
			complained[pos] = true
			if len(v.errs) == 0 && len(v.issues[pos]) == 0 {
				add("%s: the importer maps this line without reporting it", m)
			}
		case kaCorrected:
			complained[pos] = true
			if len(v.errs) == 0 && len(v.issues[pos]) == 0 && len(v.notes[pos]) == 0 {
				add("%s: the importer has no note or issue on this line", m)
			}
		}
	}
	if fatal && len(v.errs) == 0 {
		add("keepalived cannot run %s, the importer converts it", path)
	}
	for _, e := range v.errs {
		if !complained[e.Pos] {
			add("importer error %s: keepalived reports nothing on this line", e)
		}
	}
	for pos, issues := range v.issues {
		for _, i := range issues {
			if kaClaimRE.MatchString(i.Reason) && !complained[pos] {
				add("importer issue %s: keepalived reports nothing on this line", i)
			}
		}
	}
	return out
}
