//go:build netns

package healthcheck

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

// TestNetnsRootScriptCheckUsers: a MISC_CHECK built by the Scheduler's
// checker factory runs as its user (or script_user), and one refused by
// enable_script_security fails with the reason, never running.
func TestNetnsRootScriptCheckUsers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policy   runas.Policy
		user     string
		insecure bool
		wantOK   bool
		want     string // the id written, or part of the reason
	}{
		{"script_user nobody", runas.Policy{Default: runas.Who{User: "nobody"}, Secure: true}, "", false, true, "65534:65534"},
		{"the check's user", runas.Policy{Default: runas.Who{User: "root"}}, "nobody", false, true, "65534:65534"},
		{"insecure as root refused", runas.Policy{Default: runas.Who{User: "root"}, Secure: true}, "", true, false, "enable_script_security"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script, out := runastest.IDScript(t)
			if tc.insecure {
				if err := os.Chmod(filepath.Dir(script), 0o777); err != nil {
					t.Fatal(err)
				}
			}
			s := NewScheduler(Options{Exec: runas.NewRunner(tc.policy), NoReactor: true})
			c, err := s.newChecker(Spec{Type: TypeScript, Command: []string{script, out}, User: tc.user})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r := c.Check(ctx)
			if r.OK != tc.wantOK {
				t.Fatalf("check OK = %t (%s), want %t", r.OK, r.Reason, tc.wantOK)
			}
			if !tc.wantOK {
				if !strings.Contains(r.Reason, tc.want) || runastest.ID(t, out, 0) != "" {
					t.Fatalf("reason %q, output %q: want refused by %s, not run", r.Reason, runastest.ID(t, out, 0), tc.want)
				}
				return
			}
			if got := runastest.ID(t, out, 0); got != tc.want {
				t.Fatalf("ran as %q, want %s", got, tc.want)
			}
		})
	}
}
