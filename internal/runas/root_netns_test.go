//go:build netns

package runas

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rootScriptDir makes a directory tree the unprivileged user can enter, for
// a script that writes `id -u`:`id -g` to its first argument.
func rootScriptDir(t *testing.T) (script, out string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (it runs a script as nobody)")
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script = filepath.Join(dir, "id.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$(id -u):$(id -g)\" > \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(dir, "out")
	if err := os.WriteFile(out, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(out, 0o666); err != nil { // past the umask
		t.Fatal(err)
	}
	return script, out
}

// TestNetnsRootScriptRunsAsUser runs a real script as root would with
// script_user nobody, and per script, and reads which uid:gid it ran as.
func TestNetnsRootScriptRunsAsUser(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Policy
		who    Who
		want   string
	}{
		{"script_user nobody", Policy{Default: Who{User: "nobody"}, Secure: true}, Who{}, "65534:65534"},
		{"per-script user over script_user root", Policy{Default: Who{User: "root"}}, Who{User: "nobody"}, "65534:65534"},
		{"per-script user and group", Policy{}, Who{User: "nobody", Group: "daemon"}, "65534:1"},
		{"script_user root", Policy{Default: Who{User: "root"}, Secure: true}, Who{}, "0:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script, out := rootScriptDir(t)
			cmd, err := NewRunner(tc.policy).Command(context.Background(), []string{script, out}, tc.who)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("running %s: %v: %s", script, err, b)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(got)) != tc.want {
				t.Fatalf("script ran as %q, want %s", strings.TrimSpace(string(got)), tc.want)
			}
		})
	}
}

// TestNetnsRootInsecureScriptRefused: with enable_script_security, a script
// to run as root that nobody owns, or in a directory others can write, is
// refused before it starts (its output file stays empty); without
// security, or run as nobody, it runs.
func TestNetnsRootInsecureScriptRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		policy  Policy
		who     Who
		spoil   func(script string) error
		wantErr string // "" = runs
	}{
		{"world-writable directory", Policy{Default: Who{User: "root"}, Secure: true}, Who{},
			func(s string) error { return os.Chmod(filepath.Dir(s), 0o777) }, "is writable by others"},
		{"script owned by nobody", Policy{Default: Who{User: "root"}, Secure: true}, Who{},
			func(s string) error { return os.Chown(s, 65534, 65534) }, "is owned by uid 65534, not root"},
		{"group-writable script", Policy{Secure: true}, Who{User: "root"},
			func(s string) error { return os.Chmod(s, 0o775) }, ""}, // group root: still safe
		{"world-writable script", Policy{Secure: true}, Who{User: "root"},
			func(s string) error { return os.Chmod(s, 0o757) }, "is writable by others"},
		{"gid 0 counts as root", Policy{Secure: true}, Who{User: "nobody", Group: "root"},
			func(s string) error { return os.Chmod(filepath.Dir(s), 0o777) }, "is writable by others"},
		{"security off runs it", Policy{Default: Who{User: "root"}}, Who{},
			func(s string) error { return os.Chmod(filepath.Dir(s), 0o777) }, ""},
		{"run as nobody is not checked", Policy{Default: Who{User: "nobody"}, Secure: true}, Who{},
			func(s string) error { return os.Chmod(filepath.Dir(s), 0o777) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script, out := rootScriptDir(t)
			if err := tc.spoil(script); err != nil {
				t.Fatal(err)
			}
			cmd, err := NewRunner(tc.policy).Command(context.Background(), []string{script, out}, tc.who)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "enable_script_security") {
					t.Fatalf("Command = %v, want refused with %q", err, tc.wantErr)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("running %s: %v: %s", script, err, b)
			}
			if got, _ := os.ReadFile(out); len(strings.TrimSpace(string(got))) == 0 {
				t.Fatal("the script did not run")
			}
		})
	}
}
