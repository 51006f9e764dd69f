package benchkit

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// shimSource is the LD_PRELOAD library that answers keepalived's IPVS
// sockopt calls with success (see shim/ipvs_shim.c).
//
//go:embed shim/ipvs_shim.c
var shimSource []byte

// BuildShim compiles the IPVS shim into dir with cc (or gcc) and returns
// the shared object's path, for LD_PRELOAD. keepalived's checker exits at
// once on a kernel without IPVS; under the shim its IPVS calls succeed
// and its checkers run untouched.
func BuildShim(dir string) (string, error) {
	src := filepath.Join(dir, "ipvs_shim.c")
	if err := os.WriteFile(src, shimSource, 0o600); err != nil {
		return "", fmt.Errorf("write shim source: %w", err)
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		if cc, err = exec.LookPath("gcc"); err != nil {
			return "", errors.New("no C compiler (cc/gcc) on PATH")
		}
	}
	so := filepath.Join(dir, "ipvs-shim.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-O2", "-o", so, src, "-ldl").CombinedOutput(); err != nil {
		return "", fmt.Errorf("cc: %w: %s", err, out)
	}
	return so, nil
}
