package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lb/cmd/internal/cli"
	"github.com/lvsd/lb/internal/config"
)

// TestImportHostile: import-keepalived gives FILE:LINE errors for invalid
// UTF-8, refuses files that are not regular, and keeps its stderr bounded
// (issue 12, defect 6).
func TestImportHostile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	utf := write("utf.conf", "virtual_server fwmark 1{real_server 0.0.0.0{MISC_CHECK{misc_path \\\xf3}}}")
	zero := write("zero.conf", "include /dev/zero\n")
	var many strings.Builder
	for range 300 {
		many.WriteString("no_such_keyword 1\n")
	}
	unknown := write("unknown.conf", many.String())
	tests := []struct {
		name     string
		file     string
		code     int
		want     string
		maxLines int
	}{
		{"invalid UTF-8", utf, 1, utf + ":1: invalid UTF-8 (byte 0xf3", 2},
		{"include /dev/zero", zero, 1, zero + ":1: include /dev/zero: read /dev/zero: not a regular file", 2},
		{"a FIFO, /dev/zero itself", "/dev/zero", 1, "not a regular file (a character device)", 2},
		{"300 unknown keywords", unknown, 0, "200 more keywords not mapped not shown here", 105},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := importKeepalived(context.Background(), []string{tt.file}, &out, &errb)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%.3000s", tt.want, errb.String())
			}
			if n := strings.Count(errb.String(), "\n"); n > tt.maxLines {
				t.Errorf("%d lines on stderr, want at most %d", n, tt.maxLines)
			}
		})
	}
}

// TestImportInterrupted: a cancelled context (SIGINT, SIGTERM) ends the
// import with status 130.
func TestImportInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := filepath.Join(t.TempDir(), "big.conf")
	if err := os.WriteFile(p, []byte(strings.Repeat("virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 {\n }\n}\n", 20000)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	// The import and the cancellation race; the cancellation must win
	// within a few tries of a file that takes a while to convert.
	for range 5 {
		out.Reset()
		errb.Reset()
		if code := importKeepalived(ctx, []string{p}, &out, &errb); code == cli.ExitInterrupted {
			if !strings.Contains(errb.String(), "interrupted") {
				t.Errorf("stderr %q", errb.String())
			}
			return
		}
	}
	t.Fatal("a cancelled import ran to its end 5 times")
}

// A VRRP-only keepalived.conf (the nginx pair's: vrrp_script, vrrp_instance
// with track_script and notify commands, no virtual_server) imports with
// nothing left out into a file that lbd check accepts (config.LoadDirector
// is lbd check) and that needs no IPVS: no virtual server, no sync daemon.
// That lbd run runs it VRRP only is cmd/lbd's TestNetnsImportedVRRPOnly.
func TestImportVRRPOnly(t *testing.T) {
	var out, errb bytes.Buffer
	if code := importKeepalived(context.Background(), []string{"testdata/vrrp-only-keepalived.conf"}, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	if strings.Contains(out.String(), "unmapped:") {
		t.Errorf("keywords left out:\n%s", out.String())
	}
	path := filepath.Join(t.TempDir(), "lbd.yaml")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := config.LoadDirector(path)
	if err != nil {
		t.Fatalf("lbd check of the imported file: %v\n%s", err, out.String())
	}
	if len(d.VirtualServers) != 0 || d.IPVS.SyncDaemon != nil {
		t.Errorf("the imported file configures IPVS: %d virtual servers, sync daemon %+v", len(d.VirtualServers), d.IPVS.SyncDaemon)
	}
	if len(d.VRRP.Instances) != 1 || len(d.VRRP.Scripts) != 1 {
		t.Fatalf("instances %+v scripts %+v", d.VRRP.Instances, d.VRRP.Scripts)
	}
	in := d.VRRP.Instances[0]
	if in.Name != "VI_1" || in.Priority != 150 || len(in.TrackScripts) != 1 || in.TrackScripts[0].Weight == nil || *in.TrackScripts[0].Weight != -60 ||
		len(in.Notify.Master) == 0 || len(in.VIPs) != 1 || in.VIPs[0].Prefix.String() != "10.9.0.100/24" {
		t.Errorf("instance %+v", in)
	}
}

// --strict fails (exit 3) on any keyword left out, each printed with its
// file:line; without it the same list is printed and the import succeeds.
// --config-id picks the conditional lines (keepalived -i).
func TestImportStrictAndConfigID(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "keepalived.conf")
	text := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n" +
		"@lb1 priority 150\n@lb2 priority 100\n@^lb1 bogus_keyword\n virtual_ipaddress {\n  10.0.0.100\n }\n}\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		args     []string
		code     int
		priority string
		dropped  bool
	}{
		{"lb1", []string{"--config-id", "lb1", conf}, 0, "priority: 150", false},
		{"lb1 strict", []string{"--strict", "--config-id", "lb1", conf}, 0, "priority: 150", false},
		{"lb2", []string{"--config-id", "lb2", conf}, 0, "priority: 100", true},
		{"lb2 strict", []string{conf, "--config-id", "lb2", "--strict"}, 3, "priority: 100", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := importKeepalived(context.Background(), tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, errb.String())
			}
			if !strings.Contains(out.String(), tt.priority) {
				t.Errorf("no %q in:\n%s", tt.priority, out.String())
			}
			line := conf + `:6: keyword "bogus_keyword" not mapped`
			if got := strings.Contains(errb.String(), line); got != tt.dropped {
				t.Errorf("stderr has %q: %v, want %v:\n%s", line, got, tt.dropped, errb.String())
			}
		})
	}
}
