//go:build !linux

package healthcheck

import (
	"context"
	"errors"
	"time"
)

// reactor is Linux-only (epoll); elsewhere every check runs on its own
// goroutine.
type reactor struct{}

func newReactor(*resources) (*reactor, error) { return nil, errors.New("no reactor on this system") }

func (*reactor) canRun(Checker) bool { return false }

func (*reactor) start(Checker, time.Duration, func(Result)) func() { return func() {} }

func (*reactor) run(context.Context) {}
