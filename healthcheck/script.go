package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/lvsd/lb/internal/runas"
)

// scriptChecker is keepalived's MISC_CHECK: the command runs without a
// shell, in its own process group; exit 0 passes, 1 fails, 2-255 pass with
// weight code-2 when Dynamic (and fail otherwise). On timeout the whole
// process group is killed.
type scriptChecker struct {
	argv    []string
	dynamic bool
	who     runas.Who
	exec    *runas.Runner
}

func newScriptChecker(s Spec, exec *runas.Runner) *scriptChecker {
	return &scriptChecker{argv: append([]string(nil), s.Command...), dynamic: s.Dynamic,
		who: runas.Who{User: s.User, Group: s.Group}, exec: exec}
}

// maxScriptOutput bounds how much of the script's output is kept for the
// reason.
const maxScriptOutput = 512

func (c *scriptChecker) Check(ctx context.Context) Result {
	start := time.Now()
	budget := checkBudget(ctx, start)
	// runas kills the whole group (the script and anything it started)
	// when ctx ends.
	cmd, err := c.exec.Command(ctx, c.argv, c.who)
	if err != nil {
		return failResult(KindError, "script %s: %v", c.argv[0], err)
	}
	// A grandchild holding the output pipe must not hold us past the kill.
	cmd.WaitDelay = 500 * time.Millisecond
	out := &limitedBuffer{max: maxScriptOutput}
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	r := c.interpret(ctx, err, out.String(), budget)
	r.Duration = time.Since(start)
	return r
}

func (c *scriptChecker) interpret(ctx context.Context, err error, output string, budget time.Duration) Result {
	if ctx.Err() != nil && (err != nil) {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return failResult(KindTimeout, "script timeout after %v (process group killed)", budget)
		}
		return failResult(KindError, "script cancelled")
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return failResult(KindError, "script %s: %v", c.argv[0], err)
	}
	code := 0
	if exitErr != nil {
		code = exitErr.ExitCode()
		if code < 0 {
			return failResult(KindScriptExit, "script killed by %v%s", exitErr.ProcessState, outputSuffix(output))
		}
	}
	switch {
	case code == 0:
		return okResult("script exited 0")
	case code >= 2 && c.dynamic:
		w := code - 2
		r := okResult(fmt.Sprintf("script exited %d: weight %d", code, w))
		r.Weight = &w
		return r
	}
	return failResult(KindScriptExit, "script exited %d%s", code, outputSuffix(output))
}

func outputSuffix(output string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(output), "\n")
	if line == "" {
		return ""
	}
	return ": " + line
}

// limitedBuffer keeps the first max bytes written and drops the rest.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
