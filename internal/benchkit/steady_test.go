package benchkit

import (
	"testing"
	"time"
)

func TestSteadyTracker(t *testing.T) {
	rule := SteadyRule{Want: 10000, Frac: 0.95, Need: 3}
	tests := []struct {
		name      string
		perSecond []int64
		steadyAt  int // index of the second it becomes steady, -1 never
	}{
		{name: "three good seconds", perSecond: []int64{10000, 9600, 10100}, steadyAt: 2},
		{name: "ramp then steady", perSecond: []int64{0, 3000, 9000, 9500, 9900, 10000}, steadyAt: 5},
		{name: "a dip restarts the count", perSecond: []int64{10000, 10000, 9000, 10000, 10000, 10000}, steadyAt: 5},
		{name: "never: below 95%", perSecond: []int64{9400, 9400, 9400, 9400, 9400}, steadyAt: -1},
		{name: "never: no checks", perSecond: []int64{0, 0, 0, 0}, steadyAt: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := SteadyTracker{Rule: rule}
			got := -1
			for i, c := range tt.perSecond {
				if tr.Add(c, time.Second) {
					got = i
					break
				}
			}
			if got != tt.steadyAt {
				t.Errorf("steady at second %d, want %d", got, tt.steadyAt)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Memory
		wantErr bool
	}{
		{name: "a process", in: "Name:\tlbd\nVmPeak:\t 100 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n",
			want: Memory{RSS: 40 << 20, Peak: 50 << 20}},
		{name: "a kernel thread has neither", in: "Name:\tkworker\nThreads:\t1\n", wantErr: true},
		{name: "garbage value", in: "VmHWM:\tlots kB\nVmRSS:\t1 kB\n", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseStatusMemory([]byte(tt.in))
		if (err != nil) != tt.wantErr || !tt.wantErr && got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v (error %v)", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// utime 150 and stime 50 ticks; a command name with spaces and ")".
	line := "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0 5 1000 10 100 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	got, err := parseStatCPU(line)
	if err != nil || got != 2*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 2s", got, err)
	}
	if _, err := parseStatCPU("42 (x) S 1"); err == nil {
		t.Errorf("a short line parsed")
	}
}

func TestParseVoluntarySwitches(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"Name:\tx\nvoluntary_ctxt_switches:\t42\nnonvoluntary_ctxt_switches:\t7\n", 42},
		{"Name:\tx\n", 0},
		{"voluntary_ctxt_switches:\tbad\n", 0},
	}
	for _, tc := range tests {
		if got := parseVoluntarySwitches([]byte(tc.in)); got != tc.want {
			t.Errorf("parseVoluntarySwitches(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
