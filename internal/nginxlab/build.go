package nginxlab

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// BuildLBD compiles lbd into dir and returns its path.
func BuildLBD(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, "lbd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "github.com/lvsd/lb/cmd/lbd")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building lbd: %w\n%s", err, b)
	}
	return out, nil
}
