package cli

import (
	"github.com/lvsd/lb/internal/buildinfo"

	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// A program with global flags, aliases and its own usage text (lbctl).
func TestProgramGlobalFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string // exact
		wantErr string // exact
		wantRan string
	}{
		{name: "global flag then command", args: []string{"-s", "/x", "show", "a"}, wantOut: "show s=/x args=[a]\n", wantRan: "show"},
		{name: "default of the global flag", args: []string{"show"}, wantOut: "show s=def args=[]\n", wantRan: "show"},
		{name: "alias", args: []string{"ls"}, wantOut: "show s=def args=[]\n", wantRan: "show"},
		{name: "command's exit status", args: []string{"fail"}, code: 3, wantRan: "fail"},
		{name: "command's error", args: []string{"-s", "/y", "broken"}, code: 1, wantErr: "prog broken: boom\n", wantRan: "broken"},
		{name: "-h is a global flag: usage error", args: []string{"-h"}, code: 2, wantErr: "USAGE\n"},
		{name: "unknown global flag", args: []string{"-x"}, code: 2, wantErr: "flag provided but not defined: -x\nUSAGE\n"},
		{name: "no command after the flags", args: []string{"-s", "/x"}, code: 2, wantErr: "USAGE\n"},
		{name: "help", args: []string{"help"}, wantOut: "USAGE\n"},
		{name: "unknown command", args: []string{"nope"}, code: 2, wantErr: "prog: unknown command \"nope\"\nUSAGE\n"},
		{name: "a flag after the command is the command's", args: []string{"show", "-s", "/z"}, wantOut: "show s=def args=[-s /z]\n", wantRan: "show"},
		{name: "version", args: []string{"version"}, wantOut: "prog v1.2.0 (revision abc+dirty, date 2026-12-07T10:33:58Z, go1.26.8)\n"},
		{name: "--version before the global flags", args: []string{"--version"}, wantOut: "prog v1.2.0 (revision abc+dirty, date 2026-12-07T10:33:58Z, go1.26.8)\n"},
		{name: "version after the global flags", args: []string{"-s", "/x", "version"}, wantOut: "prog v1.2.0 (revision abc+dirty, date 2026-12-07T10:33:58Z, go1.26.8)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			fs := flag.NewFlagSet("prog", flag.ContinueOnError)
			s := fs.String("s", "def", "socket")
			ran := ""
			p := Program{
				Name:  "prog",
				Flags: fs,
				Usage: func(w io.Writer) { fmt.Fprintln(w, "USAGE") },
				Build: func() buildinfo.Info {
					return buildinfo.Info{Version: "v1.2.0", Revision: "abc", Dirty: true, Time: "2026-12-07T10:33:58Z", GoVersion: "go1.26.8"}
				},
				Commands: []Command{
					{Name: "show", Aliases: []string{"ls", "list"}, Run: func(_ context.Context, args []string) error {
						ran = "show"
						fmt.Fprintf(&out, "show s=%s args=%v\n", *s, args)
						return nil
					}},
					{Name: "fail", Run: func(context.Context, []string) error { ran = "fail"; return ExitStatus(3) }},
					{Name: "broken", Run: func(context.Context, []string) error { ran = "broken"; return errors.New("boom") }},
				},
			}
			code := p.Run(context.Background(), tt.args, &out, &errb)
			if code != tt.code || out.String() != tt.wantOut || errb.String() != tt.wantErr || ran != tt.wantRan {
				t.Errorf("exit %d, stdout %q, stderr %q, ran %q; want %d, %q, %q, %q",
					code, out.String(), errb.String(), ran, tt.code, tt.wantOut, tt.wantErr, tt.wantRan)
			}
		})
	}
	if ExitStatus(0) != nil {
		t.Error("ExitStatus(0) is an error")
	}
}

// TestCheckInterrupted: SIGINT or SIGTERM (the context) stops a check that
// is stuck (a slow file system, a huge file) at once, with exit status 130
// (issue 12, defect 2: a check blocked on a FIFO ignored both).
func TestCheckInterrupted(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	load := func(string) error { <-block; return nil }
	var out, errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Dispatch(ctx, "prog", []Command{CheckCommand("prog", "a file", "/x", load, &out, &errb)}, []string{"check"}, &out, &errb)
	}()
	cancel()
	select {
	case code := <-done:
		if code != ExitInterrupted {
			t.Errorf("exit %d, want %d", code, ExitInterrupted)
		}
		if !strings.Contains(errb.String(), "prog check: interrupted") {
			t.Errorf("stderr %q", errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("check did not stop when its context was cancelled")
	}
}
