package healthcheck

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestScriptChecker(t *testing.T) {
	tests := []struct {
		name       string
		cmd        []string
		dynamic    bool
		wantOK     bool
		wantKind   ResultKind
		wantReason string
		wantWeight int // -1: none
	}{
		{"exit 0", []string{"/bin/sh", "-c", "exit 0"}, false, true, KindOK, "script exited 0", -1},
		{"exit 0 dynamic keeps weight", []string{"/bin/sh", "-c", "exit 0"}, true, true, KindOK, "script exited 0", -1},
		{"exit 1", []string{"/bin/sh", "-c", "echo nginx is dead; exit 1"}, false, false, KindScriptExit, "script exited 1: nginx is dead", -1},
		{"exit 1 dynamic", []string{"/bin/sh", "-c", "exit 1"}, true, false, KindScriptExit, "script exited 1", -1},
		{"exit 12 dynamic sets weight 10", []string{"/bin/sh", "-c", "exit 12"}, true, true, KindOK, "script exited 12: weight 10", 10},
		{"exit 2 dynamic sets weight 0", []string{"/bin/sh", "-c", "exit 2"}, true, true, KindOK, "weight 0", 0},
		{"exit 255 dynamic", []string{"/bin/sh", "-c", "exit 255"}, true, true, KindOK, "weight 253", 253},
		{"exit 12 not dynamic fails", []string{"/bin/sh", "-c", "exit 12"}, false, false, KindScriptExit, "script exited 12", -1},
		{"no shell: argv is not parsed", []string{"/bin/echo", "$(exit 1)", ";", "false"}, false, true, KindOK, "exited 0", -1},
		{"missing program", []string{"/nonexistent/check"}, false, false, KindError, "no such file", -1},
		{"killed by signal", []string{"/bin/sh", "-c", "kill -9 $$"}, false, false, KindScriptExit, "killed", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(t, Spec{Type: TypeScript, Command: tt.cmd, Dynamic: tt.dynamic}, okTimeout)
			t.Logf("%s: %s", r.Kind, r.Reason)
			if r.OK != tt.wantOK || r.Kind != tt.wantKind || !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("Check = %+v, want ok=%t kind=%s reason %q", r, tt.wantOK, tt.wantKind, tt.wantReason)
			}
			switch {
			case tt.wantWeight < 0 && r.Weight != nil:
				t.Errorf("Weight = %d, want none", *r.Weight)
			case tt.wantWeight >= 0 && (r.Weight == nil || *r.Weight != tt.wantWeight):
				t.Errorf("Weight = %v, want %d", r.Weight, tt.wantWeight)
			}
		})
	}
}

func TestScriptTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The script starts a grandchild that would outlive a plain kill by
	// far more than the wait below.
	cmd := []string{"/bin/sh", "-c", "sleep 60 & echo $! > " + pidFile + "; sleep 60"}
	r := check(t, Spec{Type: TypeScript, Command: cmd}, 300*time.Millisecond)
	if r.OK || r.Kind != KindTimeout || !strings.Contains(r.Reason, "script timeout after 300ms") {
		t.Errorf("Check = %+v, want a timeout", r)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// SIGKILL to the group is immediate; the wait only stops a test whose
	// grandchild was not killed (it would live on for a minute).
	deadline := time.Now().Add(hangAfter)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		// Gone, or a zombie waiting for its reaper: either way killed.
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d still alive: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
