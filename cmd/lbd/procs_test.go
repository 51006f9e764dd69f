package main

import (
	"runtime"
	"testing"
)

// TestEnsureProcs: lbd never runs its VRRP loop on a single P (a one-CPU
// host), unless the operator sets GOMAXPROCS.
func TestEnsureProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	tests := []struct {
		name string
		env  string
		cur  int
		want int
	}{
		{name: "one CPU", cur: 1, want: minProcs},
		{name: "two CPUs", cur: 2, want: 2},
		{name: "eight CPUs", cur: 8, want: 8},
		{name: "GOMAXPROCS=1 set by the operator", env: "1", cur: 1, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tt.env)
			runtime.GOMAXPROCS(tt.cur)
			if got := ensureProcs(); got != tt.want || runtime.GOMAXPROCS(0) != tt.want {
				t.Errorf("ensureProcs() with %d Ps, GOMAXPROCS=%q: %d (runtime %d), want %d", tt.cur, tt.env, got, runtime.GOMAXPROCS(0), tt.want)
			}
		})
	}
}
