package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lvsd/lb/director/table"
)

// Sysctl reads and writes kernel parameters under a /proc/sys tree, by their
// dotted names ("net.ipv4.ip_forward", "net.ipv4.vs.conntrack").
type Sysctl struct {
	// Root is the tree; empty means /proc/sys.
	Root string
}

func (s Sysctl) path(name string) (string, error) {
	if name == "" || strings.Contains(name, "/") || strings.Contains(name, "..") {
		return "", fmt.Errorf("invalid sysctl name %q", name)
	}
	root := s.Root
	if root == "" {
		root = "/proc/sys"
	}
	return filepath.Join(root, strings.ReplaceAll(name, ".", "/")), nil
}

// Get returns the value of name, trimmed of surrounding white space.
func (s Sysctl) Get(name string) (string, error) {
	p, err := s.path(name)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Set writes value to name.
func (s Sysctl) Set(name, value string) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write sysctl %s: %w", name, err)
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write sysctl %s=%s: %w", name, value, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

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
