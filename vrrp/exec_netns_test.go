//go:build netns

package vrrp

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/runas"
	"github.com/lvsd/lb/internal/runas/runastest"
)

// TestNetnsRootExecRunnerUsers: the router's runner (track scripts: Run;
// notify commands: Start) runs a real script as script_user or the
// script's own user, and, with enable_script_security, refuses one to run
// as root from a directory anyone can write.
func TestNetnsRootExecRunnerUsers(t *testing.T) {
	ctx := context.Background()
	t.Run("track script as script_user", func(t *testing.T) {
		script, out := runastest.IDScript(t)
		r := ExecRunner{Exec: runas.NewRunner(runas.Policy{Default: runas.Who{User: "nobody"}, Secure: true})}
		if err := r.Run(ctx, []string{script, out}, runas.Who{}, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if got := runastest.ID(t, out, 0); got != "65534:65534" {
			t.Fatalf("ran as %q, want 65534:65534", got)
		}
	})
	t.Run("notify command as its own user", func(t *testing.T) {
		script, out := runastest.IDScript(t)
		r := ExecRunner{Exec: runas.NewRunner(runas.Policy{Default: runas.Who{User: "root"}})}
		if err := r.Start([]string{script, out}, Notify{User: "nobody", Group: "daemon"}.Who()); err != nil {
			t.Fatal(err)
		}
		if got := runastest.ID(t, out, 10*time.Second); got != "65534:1" {
			t.Fatalf("ran as %q, want 65534:1", got)
		}
	})
	t.Run("insecure root script refused", func(t *testing.T) {
		script, out := runastest.IDScript(t)
		if err := os.Chmod(filepath.Dir(script), 0o777); err != nil {
			t.Fatal(err)
		}
		r := ExecRunner{Exec: runas.NewRunner(runas.Policy{Default: runas.Who{User: "root"}, Secure: true})}
		for _, err := range []error{
			r.Run(ctx, []string{script, out}, runas.Who{}, 5*time.Second),
			r.Start([]string{script, out}, runas.Who{}),
		} {
			if err == nil || !strings.Contains(err.Error(), "enable_script_security") || !strings.Contains(err.Error(), "is writable by others") {
				t.Fatalf("err = %v, want refused by enable_script_security", err)
			}
		}
		if got := runastest.ID(t, out, 200*time.Millisecond); got != "" {
			t.Fatalf("the refused script ran (as %s)", got)
		}
	})
}
