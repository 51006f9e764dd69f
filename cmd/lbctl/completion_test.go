package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lb/internal/manpage"
)

// TestBashCompletion sources the completion generated from lbctl's own
// command table in bash and asks it to complete a few command lines.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed")
	}
	script := filepath.Join(t.TempDir(), "lbctl.bash")
	if err := os.WriteFile(script, []byte(manpage.Bash(program(io.Discard, io.Discard, env{}).Spec())), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line string // the words; the last is the one being completed
		want string // COMPREPLY, sorted, space-separated
	}{
		{"lbctl re", "reload resync"},
		{"lbctl l", "list ls"},
		{"lbctl -s /tmp/x.sock sa", "save"},
		{"lbctl status --he", "--health"},
		{"lbctl ls --js", "--json"},
		{"lbctl reload --f", "--force"},
		{"lbctl discovery ", "confirm"},
		{"lbctl import-keepalived --s", "--strict"},
		{"lbctl --ver", "--version"},
		{"lbctl ve", "version"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			words := strings.Split(tt.line, " ")
			var quoted []string
			for _, w := range words {
				quoted = append(quoted, "'"+w+"'")
			}
			prog := ". " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
				string(rune('0'+len(words)-1)) + "\n_lbctl\nprintf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' '\n"
			out, err := exec.Command("bash", "--norc", "--noprofile", "-c", prog).CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("completing %q = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

// TestEveryCommandDescribed: each of lbctl's commands has a summary and
// flags for its man page and completion (describe), so a new command
// cannot be left out of them.
func TestEveryCommandDescribed(t *testing.T) {
	for _, c := range program(io.Discard, io.Discard, env{}).Spec().Commands {
		if c.Summary == "" {
			t.Errorf("command %s has no summary (describe in main.go)", c.Name)
		}
		if c.Name != "version" && c.Name != "help" && len(c.Flags) == 0 {
			t.Errorf("command %s has no flags described (describe in main.go)", c.Name)
		}
	}
}
