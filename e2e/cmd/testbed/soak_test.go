package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSoakArgs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		ok       bool
		duration time.Duration
		seed     int64
	}{
		{name: "defaults", args: []string{"soak"}, ok: true, duration: 10 * time.Minute},
		{name: "environment", env: map[string]string{"SOAK_DURATION": "60s", "SOAK_SEED": "42"}, args: []string{"soak"}, ok: true, duration: time.Minute, seed: 42},
		{name: "flags over environment", env: map[string]string{"SOAK_DURATION": "60s", "SOAK_SEED": "42"},
			args: []string{"soak", "-duration", "2m", "-seed", "7"}, ok: true, duration: 2 * time.Minute, seed: 7},
		{name: "bad duration", env: map[string]string{"SOAK_DURATION": "ten"}, args: []string{"soak"}},
		{name: "negative duration", env: map[string]string{"SOAK_DURATION": "-1m"}, args: []string{"soak"}},
		{name: "bad seed", env: map[string]string{"SOAK_SEED": "x"}, args: []string{"soak"}},
		{name: "fault kinds", env: map[string]string{"SOAK_FAULTS": "link-flap,lbd-kill"}, args: []string{"soak"}, ok: true, duration: 10 * time.Minute},
		{name: "fault kinds with shell words", env: map[string]string{"SOAK_FAULTS": "x'; reboot"}, args: []string{"soak"}},
		{name: "no arguments", args: []string{"soak", "extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"SOAK_DURATION", "SOAK_SEED", "SOAK_FAULTS"} {
				t.Setenv(k, tc.env[k])
			}
			inv, ok := parseArgs(tc.args, io.Discard)
			if ok != tc.ok {
				t.Fatalf("parseArgs(%q) ok = %t, want %t", tc.args, ok, tc.ok)
			}
			if !ok {
				return
			}
			if inv.soak.duration != tc.duration || inv.soak.seed != tc.seed {
				t.Errorf("duration %s seed %d, want %s %d", inv.soak.duration, inv.soak.seed, tc.duration, tc.seed)
			}
			if !slices.Equal(inv.buildOpts.GuestTags, []string{soakTag}) || !slices.Equal(inv.buildOpts.GuestPackages, []string{"scenarios"}) {
				t.Errorf("build options: tags %q, packages %q; want the soak tag and the scenarios only", inv.buildOpts.GuestTags, inv.buildOpts.GuestPackages)
			}
		})
	}
}

func TestSoakCommand(t *testing.T) {
	got := soakCommand(soakOptions{duration: 90 * time.Second, seed: 5, faults: "reload,lbd-kill"}, 12*time.Minute)
	for _, want := range []string{"SOAK_DURATION=1m30s", "SOAK_SEED=5", "SOAK_FAULTS='reload,lbd-kill'", "/usr/local/bin/scenarios.test", "-test.run '^TestSoak$'", "-test.timeout 12m0s"} {
		if !strings.Contains(got, want) {
			t.Errorf("soak command %q lacks %q", got, want)
		}
	}
}
