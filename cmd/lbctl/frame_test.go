package main

import (
	"strings"
	"testing"

	"github.com/lvsd/lb/director/control"
)

// TestCommandLine pins what the command line does around the commands:
// usage, help, unknown commands and flags, the global -s and its
// per-command override, the aliases, and each command's usage errors.
func TestCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		// out and errs are exact, unless prefixed with "~": then a
		// substring.
		out, errs string
		asked     string // socket lbd was asked at, if checked
	}{
		{name: "no command", args: nil, code: 2, errs: usage},
		{name: "help", args: []string{"help"}, code: 0, out: usage},
		{name: "-h is a global flag", args: []string{"-h"}, code: 2, errs: usage},
		{name: "--help is a global flag", args: []string{"--help"}, code: 2, errs: usage},
		{name: "-h after --", args: []string{"--", "-h"}, code: 0, out: usage},
		{name: "unknown global flag", args: []string{"-x", "status"}, code: 2,
			errs: "flag provided but not defined: -x\n" + usage},
		{name: "-s without a value", args: []string{"-s"}, code: 2, errs: "flag needs an argument: -s\n" + usage},
		{name: "-s and no command", args: []string{"-s", "/tmp/x.sock"}, code: 2, errs: usage},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2,
			errs: "lbctl: unknown command \"frobnicate\"\n" + usage},
		{name: "global -s", args: []string{"-s", "/tmp/g.sock", "status", "-n"}, code: 0, out: sampleList, asked: "/tmp/g.sock"},
		{name: "-s after the command overrides", args: []string{"-s", "/tmp/g.sock", "status", "-s", "/tmp/c.sock", "-n"}, code: 0,
			out: sampleList, asked: "/tmp/c.sock"},
		{name: "default socket", args: []string{"status", "-n"}, code: 0, out: sampleList, asked: control.DefaultSocket},
		{name: "list is status", args: []string{"list", "-n"}, code: 0, out: sampleList},
		{name: "ls is status", args: []string{"ls", "-n"}, code: 0, out: sampleList},
		{name: "status -h", args: []string{"status", "-h"}, code: 2, errs: usage},
		{name: "status unknown flag", args: []string{"status", "--bogus"}, code: 2,
			errs: "flag provided but not defined: -bogus\n" + usage},
		{name: "status extra argument", args: []string{"status", "-n", "extra"}, code: 2, errs: "lbctl: unexpected argument \"extra\"\n"},
		{name: "save has no --stats", args: []string{"save", "--stats"}, code: 2, errs: "~flag provided but not defined: -stats\n"},
		{name: "reload -h", args: []string{"reload", "-h"}, code: 2, errs: "~Usage of lbctl reload:\n"},
		{name: "reload -s", args: []string{"reload", "-s", "/tmp/r.sock"}, code: 0, out: "~reloaded /etc/lbd/lbd.yaml\n", asked: "/tmp/r.sock"},
		{name: "resync with the global -s", args: []string{"-s", "/tmp/g.sock", "resync"}, code: 0, out: "resync: 0 writes in 0s\n", asked: "/tmp/g.sock"},
		{name: "import-keepalived -h", args: []string{"import-keepalived", "-h"}, code: 0, errs: importUsage},
		{name: "import-keepalived without a file", args: []string{"import-keepalived"}, code: 2, errs: importUsage},
		{name: "genhash -h", args: []string{"genhash", "-h"}, code: 2, errs: "~usage: lbctl genhash URL"},
		{name: "genhash two URLs", args: []string{"genhash", "http://a/", "http://b/"}, code: 2,
			errs: "lbctl genhash: unexpected argument \"http://b/\"\n"},
	}
	match := func(got, want string) bool {
		if s, ok := strings.CutPrefix(want, "~"); ok {
			return strings.Contains(got, s)
		}
		return got == want
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEnv{running: true, status: control.Status{IPVS: sampleIPVS()}}
			code, out, errs := runCmd(f, tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d", code, tt.code)
			}
			if !match(out, tt.out) {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tt.out)
			}
			if !match(errs, tt.errs) {
				t.Errorf("stderr:\n%s\nwant:\n%s", errs, tt.errs)
			}
			if tt.asked != "" && f.asked != tt.asked {
				t.Errorf("asked lbd at %q, want %q", f.asked, tt.asked)
			}
		})
	}
}
