package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/cmd/internal/cli"
	"github.com/lvsd/lb/realserver"
)

// loadSpec builds the logger the file asks for, through the logging package
// lbd uses too; a level or format the file may not hold is a configuration
// error (exit status exitConfig), listed with its line.
func TestLoadSpecLogger(t *testing.T) {
	tests := []struct {
		name, yaml string
		// check is given what one Debug and one Info record wrote.
		check    func(t *testing.T, out string)
		wantCode int
		wantErr  string
	}{
		{name: "defaults: text at info", yaml: "mode: dr\nvips: [192.0.2.1]\n", check: func(t *testing.T, out string) {
			if strings.Contains(out, "msg=dbg") || !strings.Contains(out, "level=INFO msg=inf") {
				t.Errorf("output %q: want only the info record, as text", out)
			}
		}},
		{name: "json at debug", yaml: "mode: dr\nvips: [192.0.2.1]\nlog_format: json\nlog_level: debug\n", check: func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var rec map[string]any
			if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &rec) != nil || rec["msg"] != "dbg" {
				t.Errorf("output %q: want two JSON records, debug first", out)
			}
		}},
		{name: "error level drops info", yaml: "mode: dr\nvips: [192.0.2.1]\nlog_level: error\n", check: func(t *testing.T, out string) {
			if out != "" {
				t.Errorf("output %q, want nothing", out)
			}
		}},
		{name: "unknown level", yaml: "mode: dr\nvips: [192.0.2.1]\nlog_level: verbose\n", wantCode: exitConfig, wantErr: ":3: log_level"},
		{name: "unknown format", yaml: "mode: dr\nvips: [192.0.2.1]\nlog_format: xml\n", wantCode: exitConfig, wantErr: ":3: log_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lbrs.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			_, log, err := loadSpec(path, &out)
			if tt.wantCode != 0 {
				var code cli.ExitCode
				if !errors.As(err, &code) || int(code) != tt.wantCode || !strings.Contains(out.String(), tt.wantErr) {
					t.Fatalf("loadSpec = %v, stderr %q; want exit status %d and %q", err, out.String(), tt.wantCode, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("dbg")
			log.Info("inf")
			tt.check(t, out.String())
		})
	}
}

// stubSystem is a node that holds only lo with 127.0.0.1/8 and records
// every change asked of it: "lbrs run" under test never touches the kernel
// of the machine running the tests.
type stubSystem struct {
	mu     sync.Mutex
	writes []string
}

func (s *stubSystem) record(format string, args ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, fmt.Sprintf(format, args...))
	return nil
}

func (s *stubSystem) changes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

var stubLo = realserver.Address{Link: "lo", Prefix: netip.MustParsePrefix("127.0.0.1/8"), Label: "lo", HostScope: true}

func (s *stubSystem) Link(name string) (realserver.LinkInfo, error) {
	if name != "lo" {
		return realserver.LinkInfo{}, fmt.Errorf("%s: %w", name, realserver.ErrLinkNotFound)
	}
	return realserver.LinkInfo{Name: "lo", Up: true, Kind: "loopback"}, nil
}
func (s *stubSystem) SetLinkUp(name string, up bool) error {
	return s.record("link %s up=%v", name, up)
}
func (s *stubSystem) LoadModule(_ context.Context, m string) error {
	return s.record("modprobe %s", m)
}
func (s *stubSystem) CreateTunnel(name string, _ bool) error { return s.record("create %s", name) }
func (s *stubSystem) DeleteLink(name string) error           { return s.record("delete %s", name) }
func (s *stubSystem) Addrs(link string) ([]realserver.Address, error) {
	if link != "lo" {
		return nil, fmt.Errorf("%s: %w", link, realserver.ErrLinkNotFound)
	}
	return []realserver.Address{stubLo}, nil
}
func (s *stubSystem) AllAddrs() ([]realserver.Address, error) {
	return []realserver.Address{stubLo}, nil
}
func (s *stubSystem) AddAddr(a realserver.Address) error { return s.record("add %s", a) }
func (s *stubSystem) DelAddr(a realserver.Address) error { return s.record("del %s", a) }
func (s *stubSystem) ReadSysctl(string) (string, error)  { return "0", nil }
func (s *stubSystem) WriteSysctl(k, v string) error      { return s.record("sysctl %s=%s", k, v) }
func (s *stubSystem) Subscribe(ctx context.Context) (<-chan struct{}, error) {
	ch := make(chan struct{})
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

// "lbrs run" with a state file it refuses exits at once with exitConfig
// (the unit's RestartPreventExitStatus: restarting cannot fix the file),
// having changed nothing, and never tells systemd READY (over a real
// NOTIFY_SOCKET): a node without its VIPs must not look up.
func TestRunRefusesBadState(t *testing.T) {
	tests := []struct{ name, state string }{
		{name: "truncated", state: `{"version": 1, "sysctls": {"net/ipv4/conf/lo/arp_ign`},
		{name: "tampered", state: `{"version": 1, "addresses": [{"link": "lo", "prefix": "127.0.0.1/8"}]}`},
		{name: "foreign sysctl", state: `{"version": 1, "sysctls": {"kernel/core_pattern": "|/tmp/x"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, "notify.sock")
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			t.Setenv("NOTIFY_SOCKET", sock)
			state := filepath.Join(dir, "state.json")
			cfg := filepath.Join(dir, "lbrs.yaml")
			if err := os.WriteFile(state, []byte(tt.state), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cfg, []byte("mode: dr\nvips: [192.0.2.77]\nstate_file: "+state+"\nlog_level: error\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			sys := &stubSystem{}
			open := func(*slog.Logger) (realserver.System, func(), error) { return sys, func() {}, nil }
			// Long enough for any loaded machine; the old code ran until it.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = runDaemon(ctx, []string{"-c", cfg}, open)
			var code cli.ExitCode
			if !errors.As(err, &code) || int(code) != exitConfig || ctx.Err() != nil {
				t.Errorf("lbrs run = %v (context: %v), want exit status %d at once", err, ctx.Err(), exitConfig)
			}
			conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			buf := make([]byte, 4096)
			for {
				n, _, err := conn.ReadFromUnix(buf)
				if err != nil {
					break
				}
				if msg := string(buf[:n]); strings.Contains(msg, "READY=1") {
					t.Errorf("lbrs run told systemd %q with a refused state file", msg)
				}
			}
			if w := sys.changes(); len(w) != 0 {
				t.Errorf("lbrs run changed the node: %q", w)
			}
			if got, _ := os.ReadFile(state); string(got) != tt.state {
				t.Errorf("state file rewritten: %q", got)
			}
		})
	}
}
