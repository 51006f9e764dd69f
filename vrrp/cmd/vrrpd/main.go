// Command vrrpd runs VRRP instances standalone, outside lbd: the netns
// tests and the keepalived interop tests drive it (vrrpbench drives lbd
// itself, VRRP only).
//
//	vrrpd -config vrrp.json [-log-level debug]
//
// The configuration is JSON of the vrrp package's types:
//
//	{"Instances": [vrrp.Config...], "Scripts": [vrrp.ScriptConfig...], "SyncGroups": [...],
//	 "TrackProcesses": [vrrp.ProcessConfig...], "TrackFiles": [vrrp.FileConfig...]}
//
// (durations in nanoseconds, addresses as strings, states as "MASTER"). It
// prints one JSON object per line on stdout: {"Event":"state",...} for every
// transition and {"Event":"stats",...} when it receives SIGUSR1. SIGTERM or
// SIGINT stops it gracefully (a master sends priority 0 and releases).
//
// With -record-heard the stats line also lists every datagram the router's
// readers received (its source, its receive time and when the reader came
// back for the next one: by then the router had it queued) and every
// gratuitous ARP burst it asked for (when, how many). The netns tests use
// them to tell a backup's takeover forced by a starved process from one
// made while adverts reached it in time, and to check the GARP schedule
// burst by burst.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/lvsd/lb/vrrp"
)

// File is the configuration file's shape.
type File struct {
	Instances  []vrrp.Config
	Scripts    []vrrp.ScriptConfig
	SyncGroups []vrrp.SyncGroupConfig
	// Tracked processes and files (vrrp.ProcessConfig, vrrp.FileConfig).
	TrackProcesses []vrrp.ProcessConfig
	TrackFiles     []vrrp.FileConfig
}

// Line is one line of output.
type Line struct {
	Event  string            // "state" or "stats"
	Change *vrrp.StateChange `json:",omitempty"`
	Stats  *vrrp.Stats       `json:",omitempty"`
	Heard  []Heard           `json:",omitempty"`
	// Announced lists the gratuitous ARP bursts, in order.
	Announced []Announce `json:",omitempty"`
}

// Announce is one call of the router's Announcer: a burst of Repeat
// gratuitous ARPs (or neighbour advertisements) for Addrs.
type Announce struct {
	Device string
	Addrs  []netip.Addr
	Repeat int
	At     time.Time // when the router asked
}

// Heard is a datagram a reader handed to the router.
type Heard struct {
	Src netip.Addr
	At  time.Time // Datagram.At: its receive time (the kernel's)
	// Queued is when the reader came back for the next datagram: the
	// router had this one in its queue by then (zero: not yet).
	Queued time.Time `json:",omitzero"`
}

// heardLog records what the transports of a router received and the
// bursts its announcer sent.
type heardLog struct {
	mu        sync.Mutex
	heard     []Heard
	announced []Announce
}

func (l *heardLog) lists() ([]Heard, []Announce) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Heard(nil), l.heard...), append([]Announce(nil), l.announced...)
}

// recordingAnnouncer records every burst before sending it.
type recordingAnnouncer struct {
	vrrp.Announcer
	log *heardLog
}

func (a recordingAnnouncer) Announce(device string, addrs []netip.Addr, repeat int, interval time.Duration) error {
	a.log.mu.Lock()
	a.log.announced = append(a.log.announced, Announce{Device: device, Addrs: append([]netip.Addr(nil), addrs...), Repeat: repeat, At: time.Now()})
	a.log.mu.Unlock()
	return a.Announcer.Announce(device, addrs, repeat, interval)
}

// heardTransport records every datagram its reader receives.
type heardTransport struct {
	vrrp.Transport
	log  *heardLog
	last int // index in log of the datagram returned last; -1 none
}

func (t *heardTransport) Recv() (vrrp.Datagram, error) {
	t.log.mu.Lock()
	if t.last >= 0 {
		t.log.heard[t.last].Queued = time.Now()
		t.last = -1
	}
	t.log.mu.Unlock()
	d, err := t.Transport.Recv()
	if err == nil {
		t.log.mu.Lock()
		t.log.heard = append(t.log.heard, Heard{Src: d.Src, At: d.At})
		t.last = len(t.log.heard) - 1
		t.log.mu.Unlock()
	}
	return d, err
}

// recordingEnv is the Linux environment with transports and an announcer
// that record what they hear and send in log.
func recordingEnv(slogger *slog.Logger, log *heardLog) (vrrp.Env, error) {
	env, err := vrrp.LinuxEnv(slogger)
	if err != nil {
		return vrrp.Env{}, fmt.Errorf("linux environment: %w", err)
	}
	listen := env.Listen
	env.Listen = func(c vrrp.TransportConfig) (vrrp.Transport, error) {
		tr, err := listen(c)
		if err != nil {
			return nil, err
		}
		return &heardTransport{Transport: tr, log: log, last: -1}, nil
	}
	env.Announcer = recordingAnnouncer{Announcer: env.Announcer, log: log}
	return env, nil
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
	recordHeard := flag.Bool("record-heard", false, "list the datagrams received in the stats line")
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
	var heard *heardLog
	var env vrrp.Env
	if *recordHeard {
		heard = &heardLog{}
		if env, err = recordingEnv(log, heard); err != nil {
			return err
		}
	}
	r, err := vrrp.New(vrrp.Options{
		Instances:      f.Instances,
		Scripts:        f.Scripts,
		SyncGroups:     f.SyncGroups,
		TrackProcesses: f.TrackProcesses,
		TrackFiles:     f.TrackFiles,
		Env:            env,
		Logger:         log,
		OnStateChange:  func(c vrrp.StateChange) { emit(Line{Event: "state", Change: &c}) },
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
			l := Line{Event: "stats", Stats: &s}
			if heard != nil {
				l.Heard, l.Announced = heard.lists()
			}
			emit(l)
		}
	}()
	return r.Run(ctx)
}
