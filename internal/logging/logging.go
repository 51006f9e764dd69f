// Package logging builds the slog logger that lbd and lbrs share: text or
// JSON on a writer, at a level held in a [slog.LevelVar] so that a daemon can
// change it on reload. An unknown format or level is an error.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w in format ("text" or "json"; empty is
// text) at level (see [ParseLevel]), and the LevelVar that sets its level.
func New(w io.Writer, format, level string) (*slog.Logger, *slog.LevelVar, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, nil, err
	}
	lv := new(slog.LevelVar)
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

// ParseLevel reads a level name, in any case: debug, info (or empty), warn
// (or warning) or error.
func ParseLevel(s string) (slog.Level, error) {
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
