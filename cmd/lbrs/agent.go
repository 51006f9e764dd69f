package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"syscall"
	"time"

	"github.com/lvsd/lb/cmd/internal/cli"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/internal/logging"
	"github.com/lvsd/lb/realserver"
)

// exitConfig is the exit status for a configuration lbrs refuses (EX_CONFIG):
// the unit file tells systemd not to restart on it.
const exitConfig = 78

// agentCommands are the real-server agent's subcommands, registered in
// main.go's table.
func agentCommands() []cli.Command {
	flags := func(name string) func() *flag.FlagSet {
		return func() *flag.FlagSet { return newAgentFlags(name, "").fs }
	}
	restoreFlags := func() *flag.FlagSet { f, _ := newRestoreFlags(); return f.fs }
	return []cli.Command{
		{Name: "run", Summary: "apply the configuration, keep it in place, restore it on SIGTERM", Run: runRun, Flags: flags("run")},
		{Name: "apply", Summary: "apply the configuration once (the seed's lvs-rs.sh start)", Run: runApply, Flags: flags("apply")},
		{Name: "restore", Summary: "undo what lbrs applied, from its state file (lvs-rs.sh stop)", Run: runRestore, Flags: restoreFlags},
		{Name: "status", Summary: "show each VIP and sysctl: expected, actual, OK/DIFFERS, owner", Run: runStatus, Flags: flags("status")},
	}
}

// agentFlags are the flags shared by the agent subcommands, and the kernel
// access the agent is opened on.
type agentFlags struct {
	fs       *flag.FlagSet
	config   *string
	openSys  systemOpener
	register *config.AgentRegister // the loaded file's register section (open sets it)
}

// systemOpener opens the kernel access the agent works through, and the
// function that closes it: netlinkSystem, or a test's double.
type systemOpener func(log *slog.Logger) (realserver.System, func(), error)

// netlinkSystem is the kernel of this process's network namespace.
func netlinkSystem(log *slog.Logger) (realserver.System, func(), error) {
	sys, err := realserver.NewNetlinkSystem(log)
	if err != nil {
		return nil, nil, err
	}
	return sys, sys.Close, nil
}

func newAgentFlags(name, usage string) agentFlags {
	fs := flag.NewFlagSet("lbrs "+name, flag.ContinueOnError)
	cfg := fs.String("c", defaultConfigPath, "configuration `file`")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: lbrs %s\n\n", usage)
		fs.PrintDefaults()
	}
	return agentFlags{fs: fs, config: cfg, openSys: netlinkSystem}
}

// loadSpec reads lbrs.yaml and turns it into the agent's runtime spec and a
// logger configured from it. Config errors are printed one per line and
// become exit status exitConfig.
func loadSpec(path string, stderr io.Writer) (realserver.Spec, *slog.Logger, error) {
	spec, _, log, err := loadAgent(path, stderr)
	return spec, log, err
}

// loadAgent is loadSpec that also returns the register section (nil when
// the file has none).
func loadAgent(path string, stderr io.Writer) (realserver.Spec, *config.AgentRegister, *slog.Logger, error) {
	cfg, err := config.LoadAgent(path)
	if err != nil {
		if cli.PrintConfigErrors(stderr, err) {
			return realserver.Spec{}, nil, nil, cli.ExitCode(exitConfig)
		}
		return realserver.Spec{}, nil, nil, err
	}
	spec, err := specFromConfig(cfg)
	if err != nil {
		return realserver.Spec{}, nil, nil, err
	}
	log, _, err := logging.New(stderr, string(cfg.LogFormat), string(cfg.LogLevel))
	if err != nil {
		return realserver.Spec{}, nil, nil, err
	}
	return spec, cfg.Register, log, nil
}

// specFromConfig translates the YAML model into realserver.Spec.
func specFromConfig(a *config.Agent) (realserver.Spec, error) {
	mode, err := realserver.ParseMode(string(a.Mode))
	if err != nil {
		return realserver.Spec{}, err
	}
	s := realserver.Spec{
		Mode:           mode,
		VIPs:           slices.Clone(a.VIPs),
		Interface:      a.Interface,
		Interface6:     a.Interface6,
		LabelPrefix:    a.LabelPrefix,
		NoLabels:       a.LabelPrefix == "",
		ARPIgnore:      a.Sysctls.ArpIgnore,
		ARPAnnounce:    a.Sysctls.ArpAnnounce,
		StateFile:      a.StateFile,
		ResyncInterval: a.ResyncInterval,
	}
	if a.Sysctls.RPFilter != nil {
		v := *a.Sysctls.RPFilter
		s.RPFilter = &v
	}
	if err := s.Validate(); err != nil {
		return realserver.Spec{}, err
	}
	return s, nil
}

// openAgent builds the agent on the kernel openSys opens.
func openAgent(spec realserver.Spec, log *slog.Logger, openSys systemOpener) (*realserver.Agent, func(), error) {
	sys, closeSys, err := openSys(log)
	if err != nil {
		return nil, nil, err
	}
	a, err := realserver.New(spec, sys, log)
	if err != nil {
		closeSys()
		return nil, nil, err
	}
	return a, closeSys, nil
}

// open parses args into f, loads the configuration it names, takes the
// state file's lock when lock is set (every subcommand that changes the
// node), and opens the agent. closeAgent closes the agent, then releases the
// lock; on error nothing is left open.
func (f *agentFlags) open(args []string, lock bool) (spec realserver.Spec, log *slog.Logger, agent *realserver.Agent, closeAgent func(), err error) {
	if err := cli.ParseFlags(f.fs, args); err != nil {
		return spec, nil, nil, nil, err
	}
	spec, f.register, log, err = loadAgent(*f.config, os.Stderr)
	if err != nil {
		return spec, nil, nil, nil, err
	}
	release := func() {}
	if lock {
		if release, err = realserver.LockState(spec.StateFile); err != nil {
			return spec, nil, nil, nil, err
		}
	}
	agent, closeSys, err := openAgent(spec, log, f.openSys)
	if err != nil {
		release()
		return spec, nil, nil, nil, err
	}
	return spec, log, agent, func() {
		closeSys()
		release()
	}, nil
}

// isRefusal reports whether an apply error is a refused VIP (the config must
// change; restarting will not help).
func isRefusal(err error) bool { return errors.Is(err, realserver.ErrRefused) }

// isBadState reports whether an error is a state file lbrs refuses to act on
// (corrupt or tampered): the operator must look at it; restarting will not
// help.
func isBadState(err error) bool { return errors.Is(err, realserver.ErrBadState) }

// runRun is the daemon: apply, tell systemd READY, watch and repair; SIGHUP
// reloads the config; SIGTERM/SIGINT restores everything and exits.
func runRun(ctx context.Context, args []string) error {
	return runDaemon(ctx, args, netlinkSystem)
}

// runDaemon is runRun on the kernel openSys opens.
func runDaemon(ctx context.Context, args []string, openSys systemOpener) error {
	f := newAgentFlags("run", "run [-c FILE]\n\nApply the configuration, repair any drift, restore on SIGTERM/SIGINT. SIGHUP reloads.")
	f.openSys = openSys
	spec, log, agent, closeAgent, err := f.open(args, true)
	if err != nil {
		return err
	}
	defer closeAgent()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	applied := true
	if err := agent.Apply(ctx); err != nil {
		applied = false
		if isBadState(err) {
			// Never READY: without its state lbrs cannot put the VIPs in
			// place safely, and a node without its VIPs must not look up.
			log.Error("state file refused; not starting", "err", err)
			return cli.ExitCode(exitConfig)
		}
		if isRefusal(err) {
			log.Error("configuration refused", "err", err)
			// Undo anything a former run left (the refusal changed nothing).
			if rerr := agent.Restore(context.Background()); rerr != nil {
				log.Error("restore", "err", rerr)
			}
			return cli.ExitCode(exitConfig)
		}
		// Transient (a sysctl or device failed): keep running, the watcher
		// retries at every resync.
		log.Error("apply failed; will retry", "err", err)
	}
	notify(log, daemon.SdNotifyReady)
	log.Info("lbrs running", "mode", spec.Mode.String(), "vips", fmt.Sprint(spec.VIPs), "state_file", spec.StateFile)
	var reg *pendingRegistration
	if f.register != nil {
		reg = registerWhenReady(ctx, *f.register, agent, applied, log)
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() { watchDone <- agent.Watch(watchCtx) }()

	for {
		select {
		case <-hup:
			notify(log, fmt.Sprintf("%s\nMONOTONIC_USEC=%d", daemon.SdNotifyReloading, monotonicUsec()))
			reload(ctx, agent, *f.config, f.register, log)
			notify(log, daemon.SdNotifyReady)
		case <-ctx.Done():
			notify(log, daemon.SdNotifyStopping)
			log.Info("stopping: restoring what lbrs changed")
			stopWatch()
			<-watchDone
			return stopDaemon(agent, spec, reg.stop(), log)
		}
	}
}

// stopDaemon is the graceful stop: with a registration, its steps (see
// gracefulStop) end with the restore; without, the restore alone.
func stopDaemon(agent *realserver.Agent, spec realserver.Spec, reg *registration, log *slog.Logger) error {
	bound := 30 * time.Second
	if reg != nil {
		bound += reg.cfg.DrainTimeout
	}
	rctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	var err error
	if reg != nil {
		err = reg.stopWith(spec.VIPs, agent.Restore).run(rctx)
		reg.shutdown()
	} else {
		err = agent.Restore(rctx)
	}
	if err != nil {
		return fmt.Errorf("restore on stop: %w", err)
	}
	log.Info("restored; exiting")
	return nil
}

func reload(ctx context.Context, agent *realserver.Agent, path string, register *config.AgentRegister, log *slog.Logger) {
	log.Info("SIGHUP: reloading", "config", path)
	spec, reg, _, err := loadAgent(path, logWriter{log})
	if err != nil {
		log.Error("reload: configuration not loaded, keeping the old one", "err", err)
		return
	}
	if err := agent.Reload(ctx, spec); err != nil {
		log.Error("reload", "err", err)
		return
	}
	log.Info("reloaded", "vips", fmt.Sprint(spec.VIPs))
	if !reflect.DeepEqual(reg, register) {
		log.Warn("reload: the register section changed; it takes effect when lbrs restarts (the node stays registered as it is)")
	}
}

// logWriter sends config error lines to the log on reload.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Error("config", "line", string(bytes.TrimRight(p, "\r\n")))
	return len(p), nil
}

func notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify", "state", state, "err", err)
	}
}

func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

// runApply applies the configuration once and exits.
func runApply(ctx context.Context, args []string) error {
	f := newAgentFlags("apply", "apply [-c FILE]\n\nApply the configuration once (idempotent) and exit; originals are recorded in the state file.")
	_, _, agent, closeAgent, err := f.open(args, true)
	if err != nil {
		return err
	}
	defer closeAgent()
	if err := agent.Apply(ctx); err != nil {
		if isRefusal(err) || isBadState(err) {
			fmt.Fprintln(os.Stderr, err)
			return cli.ExitCode(exitConfig)
		}
		return err
	}
	return nil
}

// runRestore undoes what lbrs applied, from the state file: -c names the
// config holding state_file (the records must concern its devices), or
// -state gives the file directly (for a config that no longer loads or no
// longer names the devices the records concern: then only lo, dummy and
// tunnel devices are acted on). A state file lbrs refuses changes nothing.
func runRestore(ctx context.Context, args []string) error {
	f, stateFile := newRestoreFlags()
	if err := cli.ParseFlags(f.fs, args); err != nil {
		return err
	}
	if *stateFile == "" {
		_, _, agent, closeAgent, err := f.open(nil, true)
		if err != nil {
			return err
		}
		defer closeAgent()
		return agent.Restore(ctx)
	}
	log, _, err := logging.New(os.Stderr, "text", "info")
	if err != nil {
		return err
	}
	release, err := realserver.LockState(*stateFile)
	if err != nil {
		return err
	}
	defer release()
	sys, err := realserver.NewNetlinkSystem(log)
	if err != nil {
		return err
	}
	defer sys.Close()
	return realserver.Restore(ctx, sys, *stateFile, log)
}

// runStatus prints the status table; exit status 1 when something differs.
func runStatus(ctx context.Context, args []string) error {
	f := newAgentFlags("status", "status [-c FILE]\n\nShow each link, sysctl and VIP: expected, actual, OK/DIFFERS, and who owns it.\nExit status 1 when anything differs.")
	_, _, agent, closeAgent, err := f.open(args, false)
	if err != nil {
		return err
	}
	defer closeAgent()
	st, err := agent.Status(ctx)
	if err != nil {
		return err
	}
	if _, err := st.WriteTo(os.Stdout); err != nil {
		return err
	}
	if n := st.Differs(); n > 0 {
		fmt.Fprintf(os.Stdout, "%d item(s) differ\n", n)
		return cli.ExitCode(1)
	}
	return nil
}

// newRestoreFlags defines the flags of "lbrs restore".
func newRestoreFlags() (agentFlags, *string) {
	f := newAgentFlags("restore", "restore [-c FILE | -state FILE]\n\nRemove the VIPs lbrs added and put back the original sysctls, from the state file.")
	return f, f.fs.String("state", "", "state `file` to restore from (instead of the one named in the config)")
}
