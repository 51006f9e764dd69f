package vrrp

import (
	"context"
	"fmt"
	"time"

	"github.com/lvsd/lb/internal/runas"
)

// ExecRunner runs commands through runas (no shell, each in its own
// process group so that a timeout kills the whole group, as the configured
// user, refused when enable_script_security finds them unsafe). A nil
// Exec applies runas's zero policy: keepalived_script if that user
// exists, else lbd's own user, no path check.
type ExecRunner struct {
	Exec *runas.Runner
}

// Start starts argv as who and reaps it in the background.
func (e ExecRunner) Start(argv []string, who runas.Who) error {
	cmd, err := e.Exec.Command(context.Background(), argv, who)
	if err != nil {
		return err
	}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", argv[0], err)
	}
	go cmd.Wait()
	return nil
}

// Run runs argv as who, killing it after timeout (0: no timeout).
func (e ExecRunner) Run(ctx context.Context, argv []string, who runas.Who, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd, err := e.Exec.Command(ctx, argv, who)
	if err != nil {
		return err
	}
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("running %s: %w", argv[0], ctx.Err())
		}
		return fmt.Errorf("running %s: %w", argv[0], err)
	}
	return nil
}
