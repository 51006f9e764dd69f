package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lb/internal/config"
)

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("mode: dr\nvips: [192.0.2.1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("mode: dr\nvips: [192.0.2.300]\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(p string) error { _, err := config.LoadAgent(p); return err }
	tests := []struct {
		name       string
		args       []string
		code       int
		wantOut    string
		wantErrors []string
	}{
		{"valid", []string{"check", "-c", good}, 0, good + ": OK\n", nil},
		{"invalid lists every error with its line", []string{"check", "-c", bad}, 1, "",
			[]string{bad + ":2: vips[0]", bad + ":3: unknown field \"bogus\""}},
		{"missing file", []string{"check", "-c", filepath.Join(dir, "none.yaml")}, 1, "", []string{"none.yaml"}},
		{"extra argument is a usage error", []string{"check", "-c", good, "x"}, 2, "", []string{"unexpected argument"}},
		{"unknown command", []string{"nope"}, 2, "", []string{`unknown command "nope"`}},
		{"no command", nil, 2, "", []string{"Usage: prog COMMAND"}},
		{"help", []string{"help"}, 0, "Usage: prog COMMAND", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			cmds := []Command{CheckCommand("prog", "a file", "/nonexistent", load, &out, &errb)}
			code := Dispatch(context.Background(), "prog", cmds, tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, errb.String())
			}
			if tt.wantOut != "" && !strings.HasPrefix(out.String(), tt.wantOut) {
				t.Errorf("stdout %q, want prefix %q", out.String(), tt.wantOut)
			}
			for _, w := range tt.wantErrors {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr %q lacks %q", errb.String(), w)
				}
			}
		})
	}
}
