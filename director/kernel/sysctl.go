package kernel

import (
	"fmt"
	"os"

	"github.com/lvsd/lb/director/table"
)

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
