package vrrp

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// ExecRunner runs commands with os/exec, without a shell, each in its own
// process group so that a timeout kills the whole group.
type ExecRunner struct{}

func command(ctx context.Context, argv []string) (*exec.Cmd, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd, nil
}

// Start starts argv and reaps it in the background.
func (ExecRunner) Start(argv []string) error {
	cmd, err := command(context.Background(), argv)
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", argv[0], err)
	}
	go cmd.Wait()
	return nil
}

// Run runs argv, killing it after timeout (0: no timeout).
func (ExecRunner) Run(ctx context.Context, argv []string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd, err := command(ctx, argv)
	if err != nil {
		return err
	}
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("running %s: %w", argv[0], ctx.Err())
		}
		return fmt.Errorf("running %s: %w", argv[0], err)
	}
	return nil
}
