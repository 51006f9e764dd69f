package vm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Bench is a benchmark that runs inside the VM: a Go main package built
// static into /usr/local/bin (so every image has it) and the arguments to
// run it with. "testbed bench" boots once and runs the benches one after
// another, printing their output.
type Bench struct {
	Name    string   // the command's name in /usr/local/bin, and the bench's
	Package string   // Go main package, relative to the module root
	Args    []string // arguments in the VM
	Doc     string   // one line for "testbed bench -list"
}

// Benches is the table of VM benchmarks. To add one, add a row: its
// package is then built into every image (a build failure only fails that
// bench) and "testbed bench" runs it after the others.
func Benches() []Bench {
	return []Bench{
		{
			Name:    "ipvsbench",
			Package: "./director/cmd/ipvsbench",
			Args:    []string{"-runs", "3"},
			Doc:     "1,000 services x 10 real servers: reconciler apply vs ipvsadm -R, full read vs ipvsadm -Sn, restart-adopt, one-weight reload (writes, reads, latency), resync",
		},
		{
			Name:    "outagebench",
			Package: "./e2e/cmd/outagebench",
			Args:    []string{"-trials", "7"},
			Doc:     "client-visible outage (a request every 10 ms) after a master link cut and a graceful stop, lbd vs keepalived, medians and ratio",
		},
		{
			Name:    "ecmpbench",
			Package: "./e2e/cmd/ecmpbench",
			Args:    []string{"-trials", "5"},
			Doc:     "three lbd behind a bird2 ECMP router: flows broken by a drain and a kill -9 (hold 3 s, BFD), time to served again, vs the keepalived pair's takeover and bird2 announcing itself",
		},
	}
}

// SelectBenches returns the benches called names (all when names is
// empty), in the table's order.
func SelectBenches(all []Bench, names []string) ([]Bench, error) {
	if len(names) == 0 {
		return all, nil
	}
	var out []Bench
	for _, b := range all {
		for _, n := range names {
			if n == b.Name {
				out = append(out, b)
				break
			}
		}
	}
	if len(out) != len(uniq(names)) {
		var known []string
		for _, b := range all {
			known = append(known, b.Name)
		}
		return nil, fmt.Errorf("unknown bench in %v: the benches are %s", names, strings.Join(known, ", "))
	}
	return out, nil
}

func uniq(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

// BenchCommand is the guest shell command (ModeCommand) running benches
// one after another, each between markers so that ParseBenches can tell
// their output and exit statuses apart. Extra arguments for a bench, if
// any, are appended to its own.
func BenchCommand(benches []Bench, extra []string) string {
	var b strings.Builder
	b.WriteString("rc=0; ")
	for _, bn := range benches {
		args := append(append([]string{bn.Name}, bn.Args...), extra...)
		fmt.Fprintf(&b, "echo %s %s; %s; r=$?; echo; echo %s %s $r; [ $r -eq 0 ] || rc=1; ",
			markerBench, bn.Name, shellQuote(args), markerBenchExit, bn.Name)
	}
	b.WriteString("exit $rc")
	return b.String()
}

// BenchResult is one bench's run as the console showed it.
type BenchResult struct {
	Name string
	// ExitCode is the bench's exit status, -1 when it never finished.
	ExitCode int
	Output   []string
	// Duration is measured by the host from the console lines' arrival.
	Duration time.Duration
}

var (
	benchLineRE = regexp.MustCompile(`^` + markerBench + ` (\S+)$`)
	benchExitRE = regexp.MustCompile(`^` + markerBenchExit + ` (\S+) (-?\d+)$`)
)

// BenchParser sorts console lines into bench results as they stream.
type BenchParser struct {
	results []BenchResult
	cur     int // index of the running bench, -1 when none
	start   time.Time
}

// NewBenchParser returns an empty parser.
func NewBenchParser() *BenchParser { return &BenchParser{cur: -1} }

// Feed takes one cleaned console line and when it arrived. It reports
// whether the line is a bench's own output (not a marker, not outside any
// bench).
func (p *BenchParser) Feed(line string, at time.Time) bool {
	if m := benchExitRE.FindStringSubmatch(line); m != nil {
		if p.cur >= 0 && p.results[p.cur].Name == m[1] {
			r := &p.results[p.cur]
			r.ExitCode, _ = strconv.Atoi(m[2])
			r.Duration = at.Sub(p.start)
			if n := len(r.Output); n > 0 && r.Output[n-1] == "" {
				r.Output = r.Output[:n-1] // the echo before the marker
			}
		}
		p.cur = -1
		return false
	}
	if m := benchLineRE.FindStringSubmatch(line); m != nil {
		p.results = append(p.results, BenchResult{Name: m[1], ExitCode: -1})
		p.cur, p.start = len(p.results)-1, at
		return false
	}
	if p.cur < 0 {
		return false
	}
	p.results[p.cur].Output = append(p.results[p.cur].Output, line)
	return true
}

// Results returns the benches seen so far.
func (p *BenchParser) Results() []BenchResult {
	out := make([]BenchResult, len(p.results))
	for i, r := range p.results {
		out[i] = r
		out[i].Output = append([]string(nil), r.Output...)
	}
	return out
}

// IsKernelLine reports a kernel message (printk's "[ seconds]" prefix) on
// the console.
func IsKernelLine(line string) bool {
	return kernelLineRE.MatchString(line)
}

var kernelLineRE = regexp.MustCompile(`^\[\s*\d+\.\d+\] `)
