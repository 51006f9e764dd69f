package runas

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Stat is what the rule needs of one path component (lstat: a symbolic
// link is judged itself, its target separately).
type Stat struct {
	Mode uint32 // st_mode: type and permission bits (syscall.S_IF*, 07777)
	UID  uint32
	GID  uint32
}

// Secure tells whether a component of a script's path is safe to trust
// when the script runs as root, keepalived's rule: owned by root, and,
// unless it is a directory with the sticky bit, writable neither by a
// group other than root's nor by others. last is the script itself, which
// must be a regular file or a symbolic link; every other component must
// be a directory or a symbolic link (/bin -> usr/bin on a merged /usr:
// CheckScript also checks the path the links lead to). A symbolic link's
// own mode means nothing: only its owner counts. It returns "" when safe,
// else why not.
func Secure(st Stat, last bool) string {
	typ := st.Mode & syscall.S_IFMT
	switch {
	case last && typ != syscall.S_IFREG && typ != syscall.S_IFLNK:
		return "is not a regular file"
	case !last && typ != syscall.S_IFDIR && typ != syscall.S_IFLNK:
		return "is not a directory"
	case st.UID != 0:
		return fmt.Sprintf("is owned by uid %d, not root", st.UID)
	}
	if typ == syscall.S_IFLNK || (typ == syscall.S_IFDIR && st.Mode&syscall.S_ISVTX != 0) {
		return ""
	}
	switch {
	case st.GID != 0 && st.Mode&syscall.S_IWGRP != 0:
		return fmt.Sprintf("is writable by group %d", st.GID)
	case st.Mode&syscall.S_IWOTH != 0:
		return "is writable by others"
	}
	return ""
}

// CheckPath applies Secure to every component of the absolute, clean path,
// from / to the file, with lstat reading each.
func CheckPath(path string, lstat func(string) (Stat, error)) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s: not an absolute path", path)
	}
	path = filepath.Clean(path)
	comps := []string{"/"}
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			comps = append(comps, path[:i])
		}
	}
	if path != "/" {
		comps = append(comps, path)
	}
	for i, c := range comps {
		st, err := lstat(c)
		if err != nil {
			return fmt.Errorf("checking %s: %w", c, err)
		}
		if why := Secure(st, i == len(comps)-1); why != "" {
			return fmt.Errorf("%s %s", c, why)
		}
	}
	return nil
}

// CheckScript finds argv0 as exec does (a bare name through PATH) and
// checks with CheckPath both the path named and, when it goes through
// symbolic links, the file they lead to.
func CheckScript(argv0 string) error {
	path := argv0
	if !strings.Contains(argv0, "/") {
		p, err := exec.LookPath(argv0)
		if err != nil {
			return fmt.Errorf("finding %s: %w", argv0, err)
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", path, err)
	}
	if err := CheckPath(abs, lstat); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", abs, err)
	}
	if real != abs {
		return CheckPath(real, lstat)
	}
	return nil
}

func lstat(path string) (Stat, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return Stat{}, err
	}
	return Stat{Mode: st.Mode, UID: st.Uid, GID: st.Gid}, nil
}
