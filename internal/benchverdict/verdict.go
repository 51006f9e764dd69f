// Package benchverdict is the verdict every benchmark gives: each goal
// checked and printed, the run's outcome, and its exit status. A benchmark
// decides only once its figure and its peer's (ipvsadm, keepalived) were
// both measured: PASS (0) when every goal is met, FAIL (1) when one is
// missed, NO VERDICT (2) when a figure or the peer's could not be measured.
package benchverdict

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// The outcomes beyond PASS; wrap them to say what failed.
var (
	ErrFailed      = errors.New("FAIL")                                          // a goal missed: exit 1
	ErrNotMeasured = errors.New("not measured, so no comparison and no verdict") // exit 2
)

// Sheet prints goals as they are checked and remembers those missed.
type Sheet struct {
	w      io.Writer
	failed []string
}

// NewSheet returns a sheet printing on w.
func NewSheet(w io.Writer) *Sheet { return &Sheet{w: w} }

// Check prints one goal, "  [ok  ] ..." or "  [FAIL] ...", and remembers a
// missed one.
func (s *Sheet) Check(ok bool, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	mark := "ok  "
	if !ok {
		mark = "FAIL"
		s.failed = append(s.failed, msg)
	}
	fmt.Fprintf(s.w, "  [%s] %s\n", mark, msg)
}

// Failed returns the goals missed so far.
func (s *Sheet) Failed() []string { return s.failed }

// Err is nil when every goal was met, else ErrFailed wrapped with the goals
// missed.
func (s *Sheet) Err() error {
	if len(s.failed) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrFailed, strings.Join(s.failed, "; "))
}

// ExitStatus is a run's exit status: 0 for nil, 1 for ErrFailed, 2 for
// anything else (not measured, or the run could not be made).
func ExitStatus(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrFailed):
		return 1
	}
	return 2
}
