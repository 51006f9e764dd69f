package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/lvsd/lb/cmd/internal/cli"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/daemon"
	"github.com/lvsd/lb/internal/buildinfo"
)

// runRun is "lbd run": the director daemon. SIGHUP reloads the
// configuration; SIGTERM and SIGINT (the context) stop it. An invalid
// configuration exits 1 with every error on stderr.
func runRun(ctx context.Context, args []string) error {
	fs, file, format, level, force := runFlags()
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	ensureProcs()
	build := buildinfo.Read()
	d, err := daemon.New(*file, daemon.Options{LogFormat: *format, LogLevel: *level, ForceStart: *force, MemoryPolicy: true,
		Version: build.Version, Build: build})
	if err != nil {
		if cli.PrintConfigErrors(os.Stderr, err) {
			return cli.ExitCode(1)
		}
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				// Errors are logged by Reload; the daemon keeps running.
				// SIGHUP never forces: the removal guard applies.
				_, _ = d.Reload(ctx, control.ReloadRequest{})
			}
		}
	}()
	if err := d.Run(ctx); err != nil {
		return fmt.Errorf("lbd stopped: %w", err)
	}
	return nil
}

// runFlags defines the flags of "lbd run" (also for its man page).
func runFlags() (fs *flag.FlagSet, file, format, level *string, force *bool) {
	fs = flag.NewFlagSet("lbd run", flag.ContinueOnError)
	file = fs.String("c", defaultConfigPath, "configuration `file`")
	format = fs.String("log-format", "", "log format: text or json (default: the file's global.log_format)")
	level = fs.String("log-level", "", "log level: debug, info, warn or error (default: the file's global.log_level)")
	force = fs.Bool("force", false, "let this start remove what the removal guard refuses (every managed IPVS service, or more than removal_guard.max_percent); reloads stay guarded")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: lbd run [-c FILE] [--log-format text|json] [--log-level LEVEL] [--force]\n\n"+
			"Run the director: IPVS, health checks, VRRP, control socket, metrics.\n"+
			"Without virtual_servers (and no sync daemon) it runs VRRP only and needs no IPVS.\n"+
			"SIGHUP reloads the configuration; SIGTERM stops (the IPVS table stays unless flush_on_stop).\n\n")
		fs.PrintDefaults()
	}
	return fs, file, format, level, force
}
