//go:build netns

package vrrp

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// threadNices returns the nice value of each of the process's threads.
func threadNices(t *testing.T) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended
		}
		// Fields after the command (which may hold spaces), from field 3:
		// nice is field 19.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 17 {
			t.Fatalf("%s: short stat %q", p, s)
		}
		n, err := strconv.Atoi(f[16])
		if err != nil {
			t.Fatalf("%s: nice %q: %v", p, f[16], err)
		}
		out = append(out, n)
	}
	return out
}

func hasNice(ns []int, n int) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// TestNetnsPreciseSleepPriority (root: CAP_SYS_NICE): the last stretch of
// a protocol timer is slept on a thread of priority loopNice, which the
// kernel wakes at the deadline ahead of the host's normal work (a Go
// timer's own thread woke up to 60 ms late in a loaded VM); afterwards no
// thread keeps that priority.
func TestNetnsPreciseSleepPriority(t *testing.T) {
	if hasNice(threadNices(t), loopNice) {
		t.Fatalf("a thread already has nice %d", loopNice)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		preciseSleepUntil(time.Now().Add(500 * time.Millisecond))
	}()
	raised := false
	for deadline := time.Now().Add(400 * time.Millisecond); time.Now().Before(deadline) && !raised; {
		raised = hasNice(threadNices(t), loopNice)
		time.Sleep(5 * time.Millisecond)
	}
	<-done
	if !raised {
		t.Fatalf("no thread had nice %d during the sleep", loopNice)
	}
	if ns := threadNices(t); hasNice(ns, loopNice) {
		t.Fatalf("a thread kept nice %d after the sleep: %v", loopNice, ns)
	}
}
