package nginxlab

import "github.com/lvsd/lb/internal/netnslab"

// BuildLBD compiles lbd into dir and returns its path.
func BuildLBD(dir string) (string, error) {
	return netnslab.GoBuild(dir, "github.com/lvsd/lb/cmd/lbd")
}
