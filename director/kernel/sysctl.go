package kernel

import (
	"fmt"
	"os"

	"github.com/lvsd/lb/director/table"
	"github.com/lvsd/lb/internal/sysctl"
)

// Sysctl reads and writes kernel parameters under a /proc/sys tree, by their
// dotted names ("net.ipv4.ip_forward", "net.ipv4.vs.conntrack"): it is
// [sysctl.Proc], the one implementation the director and the real-server
// agent share.
type Sysctl = sysctl.Proc

// ConnPath is where the kernel lists IPVS connections.
const ConnPath = "/proc/net/ip_vs_conn"

// ReadConns reads and parses path (ConnPath when empty).
func ReadConns(path string) ([]table.Conn, error) {
	if path == "" {
		path = ConnPath
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open IPVS connection list: %w", err)
	}
	defer f.Close()
	conns, _, err := table.ParseConns(f)
	return conns, err
}
