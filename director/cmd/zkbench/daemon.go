package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/daemon"
)

// daemonConfig is lbd.yaml for the daemon under test: one virtual service
// whose real servers all come from the registry (members trusted at once,
// no checks: the figure is discovery's path to the table, not a check's).
func daemonConfig(dir string, servers []string, path string) string {
	return fmt.Sprintf(`global:
  control_socket: %s/lbd.sock
  state_dir: %s
  metrics_address: ""
  resync_interval: 1h
  log_level: warn
virtual_servers:
  - address: %s
    port: %d
    scheduler: rr
    forwarding: DR
    discovery:
      zookeeper: ["%s"]
      session_timeout: %v
      path: %s
      format: seed
      trust_new: true
`, dir, dir, vip.Addr(), vip.Port(), strings.Join(servers, `", "`), sessionTimeout, path)
}

// startDaemon is lbd's daemon (director/daemon, the code of `lbd run`)
// in-process on the fake kernel, with a virtual service discovered from
// path: the whole path from the registry to the table (the daemon's own
// ZooKeeper session and watcher, its apply).
func startDaemon(ctx context.Context, servers []string, path string, k director.Kernel) (func(), error) {
	dir, err := os.MkdirTemp("", "zkbench-lbd-")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(cfg, []byte(daemonConfig(dir, servers, path)), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d, err := daemon.New(cfg, daemon.Options{Kernel: k, LogOutput: io.Discard, Notify: func(string) {}})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("lbd: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		os.RemoveAll(dir)
	}
	return stop, nil
}
