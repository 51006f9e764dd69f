// Command vrrpd runs VRRP instances standalone, outside lbd: the netns
// tests, the keepalived interop tests and vrrpbench drive it.
//
//	vrrpd -config vrrp.json [-log-level debug]
//
// The configuration is JSON of the vrrp package's types:
//
//	{"Instances": [vrrp.Config...], "Scripts": [vrrp.ScriptConfig...], "SyncGroups": [...]}
//
// (durations in nanoseconds, addresses as strings, states as "MASTER"). It
// prints one JSON object per line on stdout: {"Event":"state",...} for every
// transition and {"Event":"stats",...} when it receives SIGUSR1. SIGTERM or
// SIGINT stops it gracefully (a master sends priority 0 and releases).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/lvsd/lb/vrrp"
)

// File is the configuration file's shape.
type File struct {
	Instances  []vrrp.Config
	Scripts    []vrrp.ScriptConfig
	SyncGroups []vrrp.SyncGroupConfig
}

// Line is one line of output.
type Line struct {
	Event  string            // "state" or "stats"
	Change *vrrp.StateChange `json:",omitempty"`
	Stats  *vrrp.Stats       `json:",omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vrrpd:", err)
		os.Exit(1)
	}
}

func run() error {
	config := flag.String("config", "", "JSON configuration file")
	level := flag.String("log-level", "info", "debug|info|warn|error")
	flag.Parse()
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	raw, err := os.ReadFile(*config)
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	var f File
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("decoding %s: %w", *config, err)
	}

	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(l Line) {
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(l); err != nil {
			log.Error("writing output", "err", err)
		}
	}
	r, err := vrrp.New(vrrp.Options{
		Instances:     f.Instances,
		Scripts:       f.Scripts,
		SyncGroups:    f.SyncGroups,
		Logger:        log,
		OnStateChange: func(c vrrp.StateChange) { emit(Line{Event: "state", Change: &c}) },
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			s := r.Stats()
			emit(Line{Event: "stats", Stats: &s})
		}
	}()
	return r.Run(ctx)
}
