package healthcheck

import (
	"bufio"
	"context"
	"fmt"
	"sync"

	"github.com/lvsd/lb/internal/runas"
)

// Checker runs one check attempt. Check must return by ctx's deadline (the
// Scheduler sets it from Timing.ConnectTimeout) and never panics on a bad
// target: every failure is a Result with OK false.
type Checker interface {
	Check(ctx context.Context) Result
}

// NewChecker builds the checker for a spec.
func NewChecker(s Spec) (Checker, error) {
	return newChecker(s, newResources())
}

// resources are shared by the checkers of one Scheduler (buffer pools).
type resources struct {
	readers sync.Pool     // *bufio.Reader
	exec    *runas.Runner // runs script checks; nil: runas's zero policy
}

func newResources() *resources {
	return &resources{readers: sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}}
}

func newChecker(s Spec, res *resources) (Checker, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("new checker: %w", err)
	}
	n := s.normalized()
	switch n.Type {
	case TypeHTTP, TypeHTTPS:
		return newHTTPChecker(n, res)
	case TypeTCP:
		return newTCPChecker(n), nil
	case TypeScript:
		return newScriptChecker(n, res.exec), nil
	case TypeDNS:
		return newDNSChecker(n)
	case TypeUDP:
		return newUDPChecker(n), nil
	case TypePing:
		return newPingChecker(n), nil
	case TypeSMTP:
		return newSMTPChecker(n), nil
	}
	return nil, fmt.Errorf("new checker: unknown type %q", s.Type)
}

// connections is how many connections one check of the spec makes in a
// row; the per-check deadline is ConnectTimeout times this.
func connections(s Spec) int {
	if s.Type == TypeHTTP || s.Type == TypeHTTPS {
		return len(s.normalized().URLs)
	}
	return 1
}
