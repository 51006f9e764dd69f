package main

import (
	"testing"
	"time"
)

func TestVerbOf(t *testing.T) {
	cases := []struct {
		what, verb, addr string
		ok               bool
	}{
		{"create-destination 10.1.1.1:80 of TCP 192.0.2.80:80", "create", "10.1.1.1:80", true},
		{"remove-destination 10.1.1.2:80 of TCP 192.0.2.80:80", "remove", "10.1.1.2:80", true},
		{"create-service TCP 192.0.2.80:80", "", "", false},
		{"set-timeouts", "", "", false},
	}
	for _, c := range cases {
		verb, addr, ok := verbOf(c.what)
		if ok != c.ok || (ok && (verb != c.verb || addr != c.addr)) {
			t.Errorf("verbOf(%q) = %q %q %v, want %q %q %v", c.what, verb, addr, ok, c.verb, c.addr, c.ok)
		}
	}
}

func TestQuantile(t *testing.T) {
	ds := []time.Duration{}
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ds, 0.5, 50 * time.Millisecond},
		{ds, 0.99, 99 * time.Millisecond},
		{ds, 1, 100 * time.Millisecond},
		{ds[99:], 0.99, time.Millisecond},
	}
	for _, c := range cases {
		if got := quantile(c.ds, c.q); got != c.want {
			t.Errorf("quantile(%d values, %v) = %v, want %v", len(c.ds), c.q, got, c.want)
		}
	}
}

// TestMemberAddr: every member of a burst and of an hour's churn has its
// own unicast address (the lag is matched by address).
func TestMemberAddr(t *testing.T) {
	seen := map[string]bool{}
	for _, block := range []int{1, 2} {
		for n := range 400_000 {
			a := memberAddr(block, n)
			if seen[a] {
				t.Fatalf("memberAddr(%d, %d) = %s twice", block, n, a)
			}
			seen[a] = true
		}
	}
}

func TestCountsRequests(t *testing.T) {
	c := counts{ops: 1000, batches: 4, batchedOps: 990}
	if got := c.requests(); got != 14 {
		t.Fatalf("requests = %d, want 14 (4 batches + 10 single writes)", got)
	}
	if got := c.minus(counts{ops: 1, batches: 1, batchedOps: 0}); got != (counts{ops: 999, batches: 3, batchedOps: 990}) {
		t.Fatalf("minus = %+v", got)
	}
}
