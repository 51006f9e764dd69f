package vm

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Status is a test's outcome as the guest reported it.
type Status string

// The outcomes of a test.
const (
	StatusPass     Status = "PASS"
	StatusFail     Status = "FAIL"
	StatusSkip     Status = "SKIP"
	StatusNoResult Status = "NO RESULT" // started but never finished: the guest hung, panicked or died
	StatusNotRun   Status = "NOT RUN"   // expected but never started
)

// TestResult is one top-level guest test.
type TestResult struct {
	Package string // the guest's Name ("scenarios", "director_kernel")
	Name    string // the test's name in its package ("TestScenarioSeedDR")
	Status  Status
	Elapsed time.Duration // as the guest measured it
	// Output holds the console lines between the test's "=== RUN" and its
	// "--- PASS/FAIL/SKIP" line (subtests, t.Log lines, anything it
	// printed), then for a failure whatever followed it before the next
	// test (a panic's trace).
	Output []string
	// SkippedSubtests are the subtests that reported "--- SKIP" (the test
	// itself may have passed).
	SkippedSubtests []string
}

// PackageResult is one guest package's run.
type PackageResult struct {
	Name string
	// ExitCode is the test binary's exit status, -1 when /init never
	// reported it (the VM died or was killed while it ran).
	ExitCode int
	// Output holds the package's console lines that belong to no test
	// (the runner's PASS/FAIL, a panic in TestMain or in init).
	Output []string
}

var (
	runLineRE  = regexp.MustCompile(`^=== (RUN|CONT|NAME|PAUSE)\s+(\S+)`)
	endLineRE  = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)`)
	subSkipRE  = regexp.MustCompile(`^\s+--- SKIP: (\S+/\S*) \([0-9.]+s\)`)
	exitLineRE = regexp.MustCompile(markerExit + ` (-?\d+)`)
	pkgLineRE  = regexp.MustCompile(markerPackage + ` (\S+)$`)
	pkgExitRE  = regexp.MustCompile(markerPackageExit + ` (\S+) (-?\d+)`)
	ansiRE     = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_c])`)
)

// cleanLine drops the carriage return and terminal escapes a serial
// console adds.
func cleanLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	s = strings.ReplaceAll(s, "\r", "")
	return ansiRE.ReplaceAllString(s, "")
}

// consoleParser follows "go test -v" output of the guest packages on the
// console and sorts lines into tests. It is fed line by line as the
// console streams. Output before any package marker belongs to the
// scenario package (what an image without markers printed).
type consoleParser struct {
	tests     []*TestResult
	byName    map[[2]string]*TestResult
	pkgs      []*PackageResult
	pkg       *PackageResult // the package whose binary is running
	current   *TestResult    // the test whose output is streaming
	afterFail *TestResult    // a failed test collecting trailing output
	exitCode  int
	exited    bool
	started   bool
}

func newConsoleParser() *consoleParser {
	return &consoleParser{byName: map[[2]string]*TestResult{}, exitCode: -1}
}

func topLevel(name string) string {
	top, _, _ := strings.Cut(name, "/")
	return top
}

func (p *consoleParser) pkgName() string {
	if p.pkg == nil {
		return ScenarioGuest
	}
	return p.pkg.Name
}

func (p *consoleParser) test(name string) *TestResult {
	key := [2]string{p.pkgName(), name}
	if r, ok := p.byName[key]; ok {
		return r
	}
	r := &TestResult{Package: key[0], Name: name, Status: StatusNoResult}
	p.byName[key] = r
	p.tests = append(p.tests, r)
	return r
}

// feed takes one cleaned console line.
func (p *consoleParser) feed(line string) {
	if strings.Contains(line, markerStart) {
		p.started = true
		return
	}
	if m := pkgExitRE.FindStringSubmatch(line); m != nil {
		if p.pkg != nil && p.pkg.Name == m[1] {
			p.pkg.ExitCode, _ = strconv.Atoi(m[2])
		}
		p.pkg, p.current, p.afterFail = nil, nil, nil
		return
	}
	if m := pkgLineRE.FindStringSubmatch(line); m != nil {
		p.pkg = &PackageResult{Name: m[1], ExitCode: -1}
		p.pkgs = append(p.pkgs, p.pkg)
		p.current, p.afterFail = nil, nil
		return
	}
	if m := exitLineRE.FindStringSubmatch(line); m != nil {
		p.exitCode, _ = strconv.Atoi(m[1])
		p.exited = true
		p.pkg, p.current, p.afterFail = nil, nil, nil
		return
	}
	if m := runLineRE.FindStringSubmatch(line); m != nil {
		top := topLevel(m[2])
		if m[1] == "PAUSE" {
			if m[2] != top {
				r := p.test(top)
				r.Output = append(r.Output, line)
			}
			return
		}
		r := p.test(top)
		p.current, p.afterFail = r, nil
		if m[2] != top {
			r.Output = append(r.Output, line)
		}
		return
	}
	if m := endLineRE.FindStringSubmatch(line); m != nil && !strings.Contains(m[2], "/") {
		r := p.test(m[2])
		r.Status = Status(m[1])
		if secs, err := strconv.ParseFloat(m[3], 64); err == nil {
			r.Elapsed = time.Duration(secs * float64(time.Second))
		}
		p.current = nil
		p.afterFail = nil
		if r.Status == StatusFail {
			p.afterFail = r
		}
		return
	}
	if m := subSkipRE.FindStringSubmatch(line); m != nil {
		r := p.test(topLevel(m[1]))
		r.SkippedSubtests = append(r.SkippedSubtests, m[1])
	}
	switch {
	case p.current != nil:
		p.current.Output = append(p.current.Output, line)
	case p.afterFail != nil && !isRunnerNoise(line):
		p.afterFail.Output = append(p.afterFail.Output, line)
	case p.pkg != nil && strings.TrimSpace(line) != "":
		p.pkg.Output = append(p.pkg.Output, line)
	}
}

// isRunnerNoise is the test binary's own closing chatter.
func isRunnerNoise(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || t == "PASS" || t == "FAIL" || strings.HasPrefix(t, "exit status ")
}

// ParseConsole sorts a whole console log into test and package results
// and returns the guest run's exit code (-1 when /init never reported it).
func ParseConsole(lines []string) ([]TestResult, []PackageResult, int) {
	p := newConsoleParser()
	for _, l := range lines {
		p.feed(cleanLine(l))
	}
	tests, pkgs := p.snapshot()
	return tests, pkgs, p.exitCode
}

func (p *consoleParser) snapshot() ([]TestResult, []PackageResult) {
	tests := make([]TestResult, len(p.tests))
	for i, r := range p.tests {
		tests[i] = *r
		tests[i].Output = append([]string(nil), r.Output...)
		tests[i].SkippedSubtests = append([]string(nil), r.SkippedSubtests...)
	}
	pkgs := make([]PackageResult, len(p.pkgs))
	for i, r := range p.pkgs {
		pkgs[i] = *r
		pkgs[i].Output = append([]string(nil), r.Output...)
	}
	return tests, pkgs
}

// splitTestPattern splits a -test.run pattern at the slashes that separate
// test levels (not those inside brackets or parentheses), as go test does.
func splitTestPattern(pat string) []string {
	var parts []string
	depth, start := 0, 0
	inClass := false
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '/' && depth == 0:
			parts = append(parts, pat[start:i])
			start = i + 1
		}
	}
	return append(parts, pat[start:])
}
