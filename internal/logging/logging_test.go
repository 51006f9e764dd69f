package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr string
	}{
		{in: "", want: slog.LevelInfo},
		{in: "info", want: slog.LevelInfo},
		{in: "debug", want: slog.LevelDebug},
		{in: "DEBUG", want: slog.LevelDebug},
		{in: "warn", want: slog.LevelWarn},
		{in: "Warning", want: slog.LevelWarn},
		{in: "error", want: slog.LevelError},
		{in: "verbose", wantErr: `unknown log level "verbose" (debug, info, warn or error)`},
		{in: "INFO+2", wantErr: `unknown log level "INFO+2"`},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseLevel(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, format, level string
		wantErr             string
		// check is given what one Debug and one Info record wrote.
		check func(t *testing.T, out string)
	}{
		{name: "default is text at info", check: func(t *testing.T, out string) {
			if out != "level=INFO msg=hello n=1\n" {
				t.Errorf("output %q, want only the info record, as text", out)
			}
		}},
		{name: "json at debug", format: "JSON", level: "debug", check: func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 {
				t.Fatalf("want the debug and the info record, got %q", out)
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil || rec["msg"] != "hello" || rec["level"] != "INFO" {
				t.Errorf("second line %q: %v %v", lines[1], rec, err)
			}
		}},
		{name: "text at error drops info", format: "text", level: "error", check: func(t *testing.T, out string) {
			if out != "" {
				t.Errorf("output %q, want nothing", out)
			}
		}},
		{name: "unknown format", format: "xml", wantErr: `unknown log format "xml" (text or json)`},
		{name: "unknown level", level: "loud", wantErr: `unknown log level "loud"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log, lv, err := New(&buf, tt.format, tt.level)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || log != nil || lv != nil {
					t.Fatalf("New = %v, %v, %v; want only the error %q", log, lv, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("hello", "n", 0)
			log.Info("hello", "n", 1)
			tt.check(t, textTime.ReplaceAllString(buf.String(), ""))
		})
	}
}

// The LevelVar changes the level of the logger already handed out, as a
// reload does.
func TestNewLevelVar(t *testing.T) {
	var buf bytes.Buffer
	log, lv, err := New(&buf, "text", "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("before")
	lv.Set(slog.LevelDebug)
	log.Debug("after")
	if out := buf.String(); strings.Contains(out, "before") || !strings.Contains(out, "msg=after") {
		t.Errorf("output %q: want only the record logged after the level change", out)
	}
}

// textTime matches the time attribute of a text record, which varies.
var textTime = regexp.MustCompile(`(?m)^time=\S+ `)
