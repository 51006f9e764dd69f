// Package runas starts the commands a configuration names (VRRP track
// scripts, notify commands, MISC_CHECK scripts, the notify FIFO's reader)
// the way keepalived does with script_user and enable_script_security: as
// a configured user and group, and, when security is on, never as root a
// script that a user other than root could have changed.
//
// Every command lbd runs for its configuration goes through Runner.Command;
// the permission rule itself (Secure, CheckPath) is pure.
package runas

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// DefaultUser is the user scripts run as when no script_user is set, if it
// exists (keepalived's rule); otherwise they run as lbd does.
const DefaultUser = "keepalived_script"

// Who names the user and group a command runs as. An empty User means the
// Runner's default (script_user); an empty Group, the user's own group.
type Who struct {
	User  string
	Group string
}

// String is "user" or "user:group", "" for the default.
func (w Who) String() string {
	if w.Group == "" {
		return w.User
	}
	return w.User + ":" + w.Group
}

// Cred is a resolved identity.
type Cred struct {
	Name   string
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups
}

// Lookup resolves a user name (or numeric id) and an optional group name
// (or numeric id; "" means the user's primary group) with the user's
// supplementary groups.
func Lookup(w Who) (Cred, error) {
	u, err := user.Lookup(w.User)
	if err != nil {
		if _, nerr := strconv.ParseUint(w.User, 10, 32); nerr == nil {
			u, err = user.LookupId(w.User)
		}
		if err != nil {
			return Cred{}, fmt.Errorf("script user %q: %w", w.User, err)
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return Cred{}, fmt.Errorf("script user %q: uid %q: %w", w.User, u.Uid, err)
	}
	gidStr := u.Gid
	if w.Group != "" {
		g, err := user.LookupGroup(w.Group)
		if err != nil {
			if _, nerr := strconv.ParseUint(w.Group, 10, 32); nerr == nil {
				g, err = user.LookupGroupId(w.Group)
			}
			if err != nil {
				return Cred{}, fmt.Errorf("script group %q: %w", w.Group, err)
			}
		}
		gidStr = g.Gid
	}
	gid, err := strconv.ParseUint(gidStr, 10, 32)
	if err != nil {
		return Cred{}, fmt.Errorf("script group %q: gid %q: %w", w.Group, gidStr, err)
	}
	c := Cred{Name: u.Username, UID: uint32(uid), GID: uint32(gid)}
	ids, _ := u.GroupIds() // none known: no supplementary groups
	for _, id := range ids {
		if n, err := strconv.ParseUint(id, 10, 32); err == nil {
			c.Groups = append(c.Groups, uint32(n))
		}
	}
	return c, nil
}

// Policy is the daemon-wide part: script_user and enable_script_security.
type Policy struct {
	Default Who  // script_user; empty: DefaultUser if it exists, else lbd's own user
	Secure  bool // enable_script_security
}

// ErrNoDefaultUser is why a script is refused when security is on and no
// user is named anywhere (keepalived refuses to fall back to root then).
var ErrNoDefaultUser = errors.New("enable_script_security is on, no script_user is set and user " + DefaultUser + " does not exist")

// Resolve returns the identity a command configured with w runs as, and
// whether it is lbd's own (no change of credentials needed).
func (p Policy) Resolve(w Who) (Cred, error) {
	if w.User != "" {
		return Lookup(w)
	}
	if p.Default.User != "" {
		return Lookup(p.Default)
	}
	if c, err := Lookup(Who{User: DefaultUser}); err == nil {
		return c, nil
	}
	if p.Secure {
		return Cred{}, ErrNoDefaultUser
	}
	return Cred{Name: "", UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}, nil
}

// Runner applies a Policy to the commands it builds. The zero value runs
// as lbd does (or as keepalived_script if it exists), without the check;
// Set replaces the policy (on a reload). Users are resolved once per
// policy, as keepalived resolves them when it loads its configuration
// (the path check runs at every start). Safe for concurrent use.
type Runner struct {
	mu     sync.Mutex
	policy Policy
	creds  map[Who]resolved // by the command's Who, for this policy
}

type resolved struct {
	cred Cred
	err  error
}

// NewRunner returns a Runner with p.
func NewRunner(p Policy) *Runner { return &Runner{policy: p} }

// Set replaces the policy for the commands built from now on.
func (r *Runner) Set(p Policy) {
	r.mu.Lock()
	r.policy, r.creds = p, nil
	r.mu.Unlock()
}

// resolve returns the policy and who's identity under it.
func (r *Runner) resolve(w Who) (Policy, Cred, error) {
	if r == nil {
		c, err := Policy{}.Resolve(w)
		return Policy{}, c, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if res, ok := r.creds[w]; ok {
		return r.policy, res.cred, res.err
	}
	c, err := r.policy.Resolve(w)
	if r.creds == nil {
		r.creds = map[Who]resolved{}
	}
	if len(r.creds) < maxCachedUsers {
		r.creds[w] = resolved{c, err}
	}
	return r.policy, c, err
}

// maxCachedUsers bounds the cache (a configuration names few users).
const maxCachedUsers = 256

// Policy returns the current policy.
func (r *Runner) Policy() Policy {
	if r == nil {
		return Policy{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.policy
}

// Command builds argv (no shell) to run as w in its own process group; the
// context's end kills the whole group. It refuses, with an error saying
// why, a command whose user cannot be resolved or, with security on, a
// command run as root (uid or gid 0) whose file or a directory above it a
// user other than root could write.
func (r *Runner) Command(ctx context.Context, argv []string, w Who) (*exec.Cmd, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("empty command")
	}
	p, cred, err := r.resolve(w)
	if err != nil {
		return nil, fmt.Errorf("command %s: %w", argv[0], err)
	}
	if p.Secure && (cred.UID == 0 || cred.GID == 0) {
		if err := CheckScript(argv[0]); err != nil {
			return nil, fmt.Errorf("command %s refused (enable_script_security, runs as root): %w", argv[0], err)
		}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cred.UID != uint32(os.Geteuid()) || cred.GID != uint32(os.Getegid()) {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: cred.UID, Gid: cred.GID, Groups: cred.Groups}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 500 * time.Millisecond
	return cmd, nil
}
