// Package sysctl reads and writes kernel parameters under /proc/sys, for the
// director (net.ipv4.vs.*, forwarding) and the real-server agent
// (arp_ignore, arp_announce, rp_filter), and ships [Map], an in-memory tree
// for the unit tests of both.
//
// A name is written the way sysctl(8) takes it, in either of two forms,
// told apart by its first separator:
//
//   - dotted, "net.ipv4.conf.all.arp_ignore": components between dots, a
//     '/' inside a component standing for a dot ("net.ipv4.conf.eth0/100.rp_filter"
//     for the device eth0.100);
//   - slashed, "net/ipv4/conf/eth0.100/rp_filter": the path below /proc/sys.
//
// A name with an empty component or a "." or ".." one is refused, so that no
// name reaches outside the tree. Messages show the dotted form ([Name]).
//
// /proc/sys/net belongs to the network namespace of the thread that opens
// the file: a caller working in another namespace runs Get and Set on a
// thread locked into it.
package sysctl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultRoot is the kernel's sysctl tree.
const DefaultRoot = "/proc/sys"

// Proc reads and writes the sysctls of a tree of files.
type Proc struct {
	// Root is the tree; empty means DefaultRoot.
	Root string
}

// Get returns the value of name, trimmed of surrounding white space. A
// sysctl that does not exist gives an error that is fs.ErrNotExist.
func (p Proc) Get(name string) (string, error) {
	path, err := p.path(name)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", Name(name), err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Set writes value (and a newline) to name. It never creates a sysctl: one
// that does not exist gives an error that is fs.ErrNotExist.
func (p Proc) Set(name, value string) error {
	path, err := p.path(name)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write sysctl %s: %w", Name(name), err)
	}
	_, err = f.WriteString(value + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write sysctl %s=%s: %w", Name(name), value, err)
	}
	return nil
}

func (p Proc) path(name string) (string, error) {
	rel, err := Path(name)
	if err != nil {
		return "", err
	}
	root := p.Root
	if root == "" {
		root = DefaultRoot
	}
	return filepath.Join(root, rel), nil
}

// Path returns the file of name relative to the tree's root
// ("net/ipv4/conf/eth0.100/rp_filter"), or an error if name is not valid.
func Path(name string) (string, error) {
	parts, err := components(name)
	if err != nil {
		return "", err
	}
	return strings.Join(parts, "/"), nil
}

// Name returns name in the dotted form ("net.ipv4.conf.eth0/100.rp_filter"),
// the one messages show; an invalid name is returned as it is.
func Name(name string) string {
	parts, err := components(name)
	if err != nil {
		return name
	}
	for i, c := range parts {
		parts[i] = strings.ReplaceAll(c, ".", "/")
	}
	return strings.Join(parts, ".")
}

// components splits name into the path components below the root.
func components(name string) ([]string, error) {
	var parts []string
	if i := strings.IndexAny(name, "./"); i >= 0 && name[i] == '/' {
		parts = strings.Split(name, "/")
	} else {
		parts = strings.Split(name, ".")
		for i, c := range parts {
			parts[i] = strings.ReplaceAll(c, "/", ".")
		}
	}
	for _, c := range parts {
		if c == "" || c == "." || c == ".." || strings.ContainsRune(c, 0) {
			return nil, fmt.Errorf("invalid sysctl name %q", name)
		}
	}
	return parts, nil
}
