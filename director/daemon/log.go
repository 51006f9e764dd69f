package daemon

import (
	"log/slog"
	"os"

	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/internal/logging"
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
	return logging.New(out, format, level)
}
