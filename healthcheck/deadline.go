package healthcheck

import (
	"context"
	"time"
)

// checkBudget is the time a check started at start may take under ctx (0:
// no deadline), as the checkers' timeout messages report it.
func checkBudget(ctx context.Context, start time.Time) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return dl.Sub(start).Round(time.Millisecond)
	}
	return 0
}

// boundConn makes conn's reads and writes end at ctx's deadline, or at once
// when ctx is cancelled. The caller defers the returned stop.
func boundConn(ctx context.Context, conn interface{ SetDeadline(time.Time) error }) (stop func() bool) {
	stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return stop
}
