package vm

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Status is a scenario's outcome as the guest reported it.
type Status string

// The outcomes of a scenario.
const (
	StatusPass     Status = "PASS"
	StatusFail     Status = "FAIL"
	StatusSkip     Status = "SKIP"
	StatusNoResult Status = "NO RESULT" // started but never finished: the guest hung, panicked or died
	StatusNotRun   Status = "NOT RUN"   // expected but never started
)

// ScenarioResult is one top-level guest test.
type ScenarioResult struct {
	Name    string
	Status  Status
	Elapsed time.Duration // as the guest measured it
	// Output holds the console lines between the scenario's "=== RUN" and
	// its "--- PASS/FAIL/SKIP" line (subtests, t.Log lines, anything it
	// printed), then for a failure whatever followed it before the next
	// scenario (a panic's trace).
	Output []string
}

var (
	runLineRE  = regexp.MustCompile(`^=== (RUN|CONT|NAME|PAUSE)\s+(\S+)`)
	endLineRE  = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)`)
	exitLineRE = regexp.MustCompile(markerExit + ` (-?\d+)`)
	ansiRE     = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_c])`)
)

// cleanLine drops the carriage return and terminal escapes a serial
// console adds.
func cleanLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	s = strings.ReplaceAll(s, "\r", "")
	return ansiRE.ReplaceAllString(s, "")
}

// consoleParser follows "go test -v" output on the console and sorts lines
// into scenarios. It is fed line by line as the console streams.
type consoleParser struct {
	results   []*ScenarioResult
	byName    map[string]*ScenarioResult
	current   *ScenarioResult // the scenario whose output is streaming
	afterFail *ScenarioResult // a failed scenario collecting trailing output
	exitCode  int
	exited    bool
	started   bool
}

func newConsoleParser() *consoleParser {
	return &consoleParser{byName: map[string]*ScenarioResult{}, exitCode: -1}
}

func topLevel(name string) string {
	top, _, _ := strings.Cut(name, "/")
	return top
}

func (p *consoleParser) scenario(name string) *ScenarioResult {
	if r, ok := p.byName[name]; ok {
		return r
	}
	r := &ScenarioResult{Name: name, Status: StatusNoResult}
	p.byName[name] = r
	p.results = append(p.results, r)
	return r
}

// feed takes one cleaned console line.
func (p *consoleParser) feed(line string) {
	if strings.Contains(line, markerStart) {
		p.started = true
		return
	}
	if m := exitLineRE.FindStringSubmatch(line); m != nil {
		p.exitCode, _ = strconv.Atoi(m[1])
		p.exited = true
		p.current, p.afterFail = nil, nil
		return
	}
	if m := runLineRE.FindStringSubmatch(line); m != nil {
		top := topLevel(m[2])
		if m[1] == "PAUSE" {
			if m[2] != top {
				r := p.scenario(top)
				r.Output = append(r.Output, line)
			}
			return
		}
		r := p.scenario(top)
		p.current, p.afterFail = r, nil
		if m[2] != top {
			r.Output = append(r.Output, line)
		}
		return
	}
	if m := endLineRE.FindStringSubmatch(line); m != nil && !strings.Contains(m[2], "/") {
		r := p.scenario(m[2])
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
	switch {
	case p.current != nil:
		p.current.Output = append(p.current.Output, line)
	case p.afterFail != nil && !isRunnerNoise(line):
		p.afterFail.Output = append(p.afterFail.Output, line)
	}
}

// isRunnerNoise is the test binary's own closing chatter.
func isRunnerNoise(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || t == "PASS" || t == "FAIL" || strings.HasPrefix(t, "exit status ")
}

// ParseConsole sorts a whole console log into scenario results and returns
// the guest test binary's exit code (-1 when /init never reported it).
func ParseConsole(lines []string) ([]ScenarioResult, int) {
	p := newConsoleParser()
	for _, l := range lines {
		p.feed(cleanLine(l))
	}
	return p.snapshot(), p.exitCode
}

func (p *consoleParser) snapshot() []ScenarioResult {
	out := make([]ScenarioResult, len(p.results))
	for i, r := range p.results {
		out[i] = *r
		out[i].Output = append([]string(nil), r.Output...)
	}
	return out
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
