//go:build netns

package runas_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lb/internal/runas"
	"github.com/lvsd/lb/internal/runas/runastest"
)

// TestNetnsRootScriptRunsAsUser runs a real script as root would with
// script_user nobody, and per script, and reads which uid:gid it ran as.
func TestNetnsRootScriptRunsAsUser(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy runas.Policy
		who    runas.Who
		want   string
	}{
		{"script_user nobody", runas.Policy{Default: runas.Who{User: "nobody"}, Secure: true}, runas.Who{}, "65534:65534"},
		{"per-script user over script_user root", runas.Policy{Default: runas.Who{User: "root"}}, runas.Who{User: "nobody"}, "65534:65534"},
		{"per-script user and group", runas.Policy{}, runas.Who{User: "nobody", Group: "daemon"}, "65534:1"},
		{"script_user root", runas.Policy{Default: runas.Who{User: "root"}, Secure: true}, runas.Who{}, "0:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script, out := runastest.IDScript(t)
			cmd, err := runas.NewRunner(tc.policy).Command(context.Background(), []string{script, out}, tc.who)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("running %s: %v: %s", script, err, b)
			}
			if got := runastest.ID(t, out, 0); got != tc.want {
				t.Fatalf("script ran as %q, want %s", got, tc.want)
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
		policy  runas.Policy
		who     runas.Who
		spoil   func(script string) error
		wantErr string // "" = runs
	}{
		{"world-writable directory", runas.Policy{Default: runas.Who{User: "root"}, Secure: true}, runas.Who{},
			func(s string) error { return os.Chmod(filepath.Dir(s), 0o777) }, "is writable by others"},
		{"script owned by nobody", runas.Policy{Default: runas.Who{User: "root"}, Secure: true}, runas.Who{},
			func(s string) error { return os.Chown(s, 65534, 65534) }, "is owned by uid 65534, not root"},
		{"group-writable script", runas.Policy{Secure: true}, runas.Who{User: "root"},
			func(s string) error { return os.Chmod(s, 0o775) }, ""}, // group root: still safe
		{"world-writable script", runas.Policy{Secure: true}, runas.Who{User: "root"},
			func(s string) error { return os.Chmod(s, 0o757) }, "is writable by others"},
		{"gid 0 counts as root", runas.Policy{Secure: true}, runas.Who{User: "nobody", Group: "root"},
			func(s string) error { return os.Chmod(filepath.Dir(s), 0o777) }, "is writable by others"},
		{"security off runs it", runas.Policy{Default: runas.Who{User: "root"}}, runas.Who{},
			func(s string) error { return os.Chmod(filepath.Dir(s), 0o777) }, ""},
		{"run as nobody is not checked", runas.Policy{Default: runas.Who{User: "nobody"}, Secure: true}, runas.Who{},
			func(s string) error { return os.Chmod(filepath.Dir(s), 0o777) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script, out := runastest.IDScript(t)
			if err := tc.spoil(script); err != nil {
				t.Fatal(err)
			}
			cmd, err := runas.NewRunner(tc.policy).Command(context.Background(), []string{script, out}, tc.who)
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
			if runastest.ID(t, out, 0) == "" {
				t.Fatal("the script did not run")
			}
		})
	}
}
