package runas

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

const (
	dir  = syscall.S_IFDIR
	reg  = syscall.S_IFREG
	link = syscall.S_IFLNK
	fifo = syscall.S_IFIFO
)

func TestSecure(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   Stat
		last bool
		want string // "" = secure, else a part of the reason
	}{
		{"root file 0755", Stat{Mode: reg | 0o755}, true, ""},
		{"root file 0700", Stat{Mode: reg | 0o700}, true, ""},
		{"root dir 0755", Stat{Mode: dir | 0o755}, false, ""},
		{"group-writable file, group root", Stat{Mode: reg | 0o775}, true, ""},
		{"group-writable file, other group", Stat{Mode: reg | 0o775, GID: 50}, true, "writable by group 50"},
		{"world-writable file", Stat{Mode: reg | 0o757}, true, "writable by others"},
		{"world-writable file, group root", Stat{Mode: reg | 0o777}, true, "writable by others"},
		{"file owned by a user", Stat{Mode: reg | 0o755, UID: 1000}, true, "owned by uid 1000"},
		{"file owned by a user, read-only", Stat{Mode: reg | 0o500, UID: 65534}, true, "owned by uid 65534"},
		{"group-writable dir, other group", Stat{Mode: dir | 0o775, GID: 100}, false, "writable by group 100"},
		{"world-writable dir", Stat{Mode: dir | 0o777}, false, "writable by others"},
		{"sticky world-writable dir (/tmp)", Stat{Mode: dir | syscall.S_ISVTX | 0o777}, false, ""},
		{"sticky dir owned by a user", Stat{Mode: dir | syscall.S_ISVTX | 0o777, UID: 1000}, false, "owned by uid 1000"},
		{"dir owned by a user", Stat{Mode: dir | 0o755, UID: 1000}, false, "owned by uid 1000"},
		{"root symlink (mode 0777)", Stat{Mode: link | 0o777}, true, ""},
		{"symlink owned by a user", Stat{Mode: link | 0o777, UID: 5}, true, "owned by uid 5"},
		{"a file where a directory is needed", Stat{Mode: reg | 0o755}, false, "not a directory"},
		{"a root symlink to a directory (merged /usr /bin)", Stat{Mode: link | 0o777}, false, ""},
		{"a user's symlink to a directory", Stat{Mode: link | 0o777, UID: 1000}, false, "owned by uid 1000"},
		{"a FIFO where a directory is needed", Stat{Mode: fifo | 0o755}, false, "not a directory"},
		{"a directory as the script", Stat{Mode: dir | 0o755}, true, "not a regular file"},
		{"a FIFO as the script", Stat{Mode: fifo | 0o755}, true, "not a regular file"},
		{"sticky bit does not excuse a file", Stat{Mode: reg | syscall.S_ISVTX | 0o777}, true, "writable by others"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Secure(tc.st, tc.last)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("Secure(%o uid %d gid %d, last %t) = %q, want %q", tc.st.Mode, tc.st.UID, tc.st.GID, tc.last, got, tc.want)
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	safeDir, safeFile := Stat{Mode: dir | 0o755}, Stat{Mode: reg | 0o755}
	base := map[string]Stat{"/": safeDir, "/etc": safeDir, "/etc/lb": safeDir, "/etc/lb/check.sh": safeFile}
	for _, tc := range []struct {
		name   string
		path   string
		change map[string]Stat
		want   string // "" = accepted, else part of the error
	}{
		{"all root 0755", "/etc/lb/check.sh", nil, ""},
		{"unclean path is cleaned", "/etc//lb/./check.sh", nil, ""},
		{"world-writable parent", "/etc/lb/check.sh", map[string]Stat{"/etc/lb": {Mode: dir | 0o777}}, "/etc/lb is writable by others"},
		{"group-writable grandparent", "/etc/lb/check.sh", map[string]Stat{"/etc": {Mode: dir | 0o775, GID: 4}}, "/etc is writable by group 4"},
		{"insecure root directory", "/etc/lb/check.sh", map[string]Stat{"/": {Mode: dir | 0o777}}, "/ is writable by others"},
		{"user-owned script", "/etc/lb/check.sh", map[string]Stat{"/etc/lb/check.sh": {Mode: reg | 0o755, UID: 1000}}, "/etc/lb/check.sh is owned by uid 1000"},
		{"user-owned parent", "/etc/lb/check.sh", map[string]Stat{"/etc/lb": {Mode: dir | 0o755, UID: 1000}}, "/etc/lb is owned by uid 1000"},
		{"missing file", "/etc/lb/nope.sh", nil, "checking /etc/lb/nope.sh"},
		{"relative path", "lb/check.sh", nil, "not an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := func(p string) (Stat, error) {
				if st, ok := tc.change[p]; ok {
					return st, nil
				}
				if st, ok := base[p]; ok {
					return st, nil
				}
				return Stat{}, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
			}
			err := CheckPath(tc.path, fake)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckPath(%s) = %v, want accepted", tc.path, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckPath(%s) = %v, want an error with %q", tc.path, err, tc.want)
			}
		})
	}
}

// TestCheckScriptSystemFile: a system binary passes on this machine,
// through symbolic links such as a merged /usr's /bin -> usr/bin (whose
// target is checked too), and a bare name is found through PATH.
func TestCheckScriptSystemFile(t *testing.T) {
	for _, p := range []string{"/bin/true", "true", "/usr/bin/env"} {
		if err := CheckScript(p); err != nil {
			t.Errorf("CheckScript(%s) = %v", p, err)
		}
	}
	if err := CheckScript("/no/such/script"); err == nil || !strings.Contains(err.Error(), "checking /no") {
		t.Errorf("CheckScript of a missing file = %v", err)
	}
}

func TestResolve(t *testing.T) {
	_, kaErr := Lookup(Who{User: DefaultUser})
	for _, tc := range []struct {
		name    string
		policy  Policy
		who     Who
		wantUID uint32
		wantGID uint32
		wantErr error
	}{
		{"per-script user wins", Policy{Default: Who{User: "root"}}, Who{User: "nobody"}, 65534, 65534, nil},
		{"script_user", Policy{Default: Who{User: "nobody"}}, Who{}, 65534, 65534, nil},
		{"numeric user and group", Policy{}, Who{User: "65534", Group: "0"}, 65534, 0, nil},
		{"group named", Policy{}, Who{User: "nobody", Group: "root"}, 65534, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.policy.Resolve(tc.who)
			if !errors.Is(err, tc.wantErr) || (err == nil && (c.UID != tc.wantUID || c.GID != tc.wantGID)) {
				t.Fatalf("Resolve = %+v, %v; want uid %d gid %d, err %v", c, err, tc.wantUID, tc.wantGID, tc.wantErr)
			}
		})
	}
	// Nothing named: keepalived_script if it exists; otherwise lbd's own
	// user, or, with security on, a refusal.
	c, err := Policy{Secure: true}.Resolve(Who{})
	if kaErr == nil {
		if err != nil || c.Name != DefaultUser {
			t.Fatalf("secure default with %s present = %+v, %v", DefaultUser, c, err)
		}
	} else if !errors.Is(err, ErrNoDefaultUser) {
		t.Fatalf("secure default without %s = %+v, %v; want ErrNoDefaultUser", DefaultUser, c, err)
	}
	if _, err := (Policy{}).Resolve(Who{User: "no-such-user-lbd"}); err == nil || !strings.Contains(err.Error(), `script user "no-such-user-lbd"`) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := (Policy{}).Resolve(Who{User: "nobody", Group: "no-such-group-lbd"}); err == nil || !strings.Contains(err.Error(), `script group "no-such-group-lbd"`) {
		t.Fatalf("unknown group: %v", err)
	}
}
