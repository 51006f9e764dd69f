package benchverdict

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestSheet(t *testing.T) {
	var out bytes.Buffer
	s := NewSheet(&out)
	s.Check(true, "fast enough: %d", 1)
	if s.Err() != nil || ExitStatus(s.Err()) != 0 {
		t.Fatalf("all met: %v", s.Err())
	}
	s.Check(false, "as fast as the peer: %.2f", 0.5)
	err := s.Err()
	if !errors.Is(err, ErrFailed) || err.Error() != "FAIL: as fast as the peer: 0.50" || ExitStatus(err) != 1 {
		t.Errorf("one missed: %v (exit %d)", err, ExitStatus(err))
	}
	if want := "  [ok  ] fast enough: 1\n  [FAIL] as fast as the peer: 0.50\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{fmt.Errorf("x: %w", ErrFailed), 1},
		{fmt.Errorf("peer: %w", ErrNotMeasured), 2},
		{errors.New("could not run"), 2},
	} {
		if got := ExitStatus(tc.err); got != tc.want {
			t.Errorf("ExitStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
