package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/lvsd/lb/internal/config"
)

// newLogger builds the daemon's logger from the file's global.log_format
// and log_level, which opts override.
func newLogger(cfg *config.Director, opts Options) (*slog.Logger, *slog.LevelVar, error) {
	format, level := string(cfg.Global.LogFormat), string(cfg.Global.LogLevel)
	if opts.LogFormat != "" {
		format = opts.LogFormat
	}
	if opts.LogLevel != "" {
		level = opts.LogLevel
	}
	out := opts.LogOutput
	if out == nil {
		out = os.Stderr
	}
	return NewLogger(out, format, level)
}

// NewLogger returns a slog logger writing text or JSON at level.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, *slog.LevelVar, error) {
	lv := new(slog.LevelVar)
	l, err := parseLevel(level)
	if err != nil {
		return nil, nil, err
	}
	lv.Set(l)
	ho := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, ho)), lv, nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), lv, nil
	}
	return nil, nil, fmt.Errorf("unknown log format %q (text or json)", format)
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (debug, info, warn or error)", s)
}
