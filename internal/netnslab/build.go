package netnslab

import (
	"context"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"time"
)

// GoBuild compiles the main package pkg (an import path) into dir, with the
// extra environment env ("KEY=value"), and returns the binary's path
// (dir/ the package's last element). The labs' tests run the binaries they
// build (lbd, vrrpd) in namespaces.
func GoBuild(dir, pkg string, env ...string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	name := path.Base(pkg)
	out := filepath.Join(dir, name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, pkg)
	if len(env) > 0 {
		cmd.Env = append(cmd.Environ(), env...)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", name, err, b)
	}
	return out, nil
}
