package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lb/cmd/internal/cli"
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
