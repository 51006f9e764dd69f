package vrrp

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLateTimer: a protocol timer handled lateTimerBound or more after its
// time is counted and logged with where the delay sat (the Go timer's
// callback, the precise sleep, the wait for the loop); one on time is not.
func TestLateTimer(t *testing.T) {
	at := time.Now()
	tests := []struct {
		name     string
		fired    time.Duration // after at - timerLead
		woke     time.Duration // after fired
		handled  time.Duration // after woke
		wantLate bool
		want     []string
	}{
		{"on time", 0, timerLead, time.Millisecond, false, nil},
		{"the Go timer fired late", 60 * time.Millisecond, timerLead - 60*time.Millisecond + time.Millisecond, time.Millisecond, false, nil},
		{"the Go timer fired past the deadline", timerLead + 58*time.Millisecond, 0, time.Millisecond,
			true, []string{"timer=master-down", "callback_late=158ms", "loop_wait=1ms"}},
		{"the loop was busy", 0, timerLead, 250 * time.Millisecond, true, []string{"callback_late=0s", "loop_wait=250ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := &Router{log: slog.New(slog.NewTextHandler(&buf, nil))}
			in := &instance{cfg: Config{Name: "VI_1"}}
			fired := at.Add(-timerLead).Add(tt.fired)
			woke := fired.Add(tt.woke)
			r.lateTimer(timerMsg{in: in, t: TimerMasterDown, at: at, fired: fired, woke: woke}, woke.Add(tt.handled))
			if got := in.stats.LateTimers == 1; got != tt.wantLate {
				t.Fatalf("late = %v, want %v (log %q)", got, tt.wantLate, buf.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("log %q lacks %q", buf.String(), w)
				}
			}
		})
	}
}
