package vrrp

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// procSpec is a tracked process with keepalived's defaults applied.
func procSpec(p ProcessConfig) ProcessConfig {
	p.SetDefaults(nil)
	return p
}

func TestProcessMatches(t *testing.T) {
	argv := func(s string) []string { return strings.Fields(s) }
	tests := []struct {
		name string
		spec ProcessConfig
		comm string
		argv []string
		want bool
	}{
		{"name matches comm exactly", ProcessConfig{Process: []string{"nginx"}}, "nginx", argv("/usr/sbin/nginx -g x"), true},
		{"name is not a pattern (pgrep ssh matches sshd, this does not)", ProcessConfig{Process: []string{"ssh"}}, "sshd", argv("sshd"), false},
		{"name ignores the command line", ProcessConfig{Process: []string{"nginx"}}, "worker", argv("nginx"), false},
		{"full_command matches argv[0]", ProcessConfig{Process: []string{"/usr/sbin/nginx"}, FullCommand: true}, "nginx", argv("/usr/sbin/nginx -g x"), true},
		{"full_command without parameters takes any", ProcessConfig{Process: []string{"/usr/sbin/nginx"}, FullCommand: true}, "nginx", argv("/usr/sbin/nginx"), true},
		{"full_command argv[0] differs", ProcessConfig{Process: []string{"nginx"}, FullCommand: true}, "nginx", argv("/usr/sbin/nginx"), false},
		{"full_command, no command line (kernel thread)", ProcessConfig{Process: []string{"kthreadd"}, FullCommand: true}, "kthreadd", nil, false},
		{"parameters: exact by default", ProcessConfig{Process: argv("sleep 100")}, "sleep", argv("sleep 100"), true},
		{"exact: one more is no match", ProcessConfig{Process: argv("sleep 100")}, "sleep", argv("sleep 100 x"), false},
		{"exact: one less is no match", ProcessConfig{Process: argv("sleep 100 x")}, "sleep", argv("sleep 100"), false},
		{"exact: a prefix is no match", ProcessConfig{Process: argv("sleep 10")}, "sleep", argv("sleep 100"), false},
		{"param_match exact without parameters: none allowed", ProcessConfig{Process: argv("sleep"), ParamMatch: ParamMatchExact}, "sleep", argv("sleep 1"), false},
		{"param_match exact without parameters: none given", ProcessConfig{Process: argv("sleep"), ParamMatch: ParamMatchExact}, "sleep", argv("sleep"), true},
		{"partial: more may follow", ProcessConfig{Process: argv("java -jar a.jar"), ParamMatch: ParamMatchPartial}, "java", argv("java -jar a.jar --port 1"), true},
		{"partial: a parameter differs", ProcessConfig{Process: argv("java -jar a.jar"), ParamMatch: ParamMatchPartial}, "java", argv("java -jar b.jar"), false},
		{"partial: too few", ProcessConfig{Process: argv("java -jar a.jar"), ParamMatch: ParamMatchPartial}, "java", argv("java -jar"), false},
		{"partial: the last is not a prefix", ProcessConfig{Process: argv("java -jar a"), ParamMatch: ParamMatchPartial}, "java", argv("java -jar a.jar"), false},
		{"partial without parameters: anything", ProcessConfig{Process: argv("java"), ParamMatch: ParamMatchPartial}, "java", argv("java -x"), true},
		{"initial: the last begins the process's", ProcessConfig{Process: argv("java -jar a"), ParamMatch: ParamMatchInitial}, "java", argv("java -jar a.jar --x"), true},
		{"initial: an earlier one must be whole", ProcessConfig{Process: argv("java -j a.jar"), ParamMatch: ParamMatchInitial}, "java", argv("java -jar a.jar"), false},
		{"initial: too few", ProcessConfig{Process: argv("java -jar a"), ParamMatch: ParamMatchInitial}, "java", argv("java -jar"), false},
		{"initial without parameters: anything", ProcessConfig{Process: argv("java"), ParamMatch: ParamMatchInitial}, "java", argv("java"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := procSpec(tt.spec)
			if got := p.matches(tt.comm, tt.argv); got != tt.want {
				t.Fatalf("matches(%q, %q) = %v, want %v (spec %+v)", tt.comm, tt.argv, got, tt.want, p)
			}
		})
	}
}

// procStep is one change of the process table fed to a procTracker, at a
// time in milliseconds from the start; want is the changes it reports
// ("name+N" up with N counted, "name-N" down).
type procStep struct {
	at   int
	op   string // reset PIDS..., exec PID COMM, fork PARENT CHILD, exit PID, comm PID COMM, expire
	want string
}

func TestProcTracker(t *testing.T) {
	qmax := func(n int) *int { return &n }
	nginx := ProcessConfig{Name: "ng", Process: []string{"nginx"}}
	tests := []struct {
		name  string
		specs []ProcessConfig
		steps []procStep
	}{
		{"first read reports every process, up or down", []ProcessConfig{nginx, {Name: "ha", Process: []string{"haproxy"}}},
			[]procStep{{0, "reset 1:nginx 2:bash", "ng+1 ha-0"}}},
		{"exit and exec change the count at once without delays", []ProcessConfig{nginx}, []procStep{
			{0, "reset 1:nginx", "ng+1"},
			{1, "exit 1", "ng-0"},
			{2, "exit 1", ""}, // not counted any more
			{3, "exec 5:nginx", "ng+1"},
			{4, "exec 5:bash", "ng-0"}, // the pid ran another program
		}},
		{"a fork of a counted process counts", []ProcessConfig{nginx}, []procStep{
			{0, "reset", "ng-0"},
			{1, "exec 5:nginx", "ng+1"},
			{2, "fork 5 6", ""},
			{3, "exit 5", ""},
			{4, "exit 6", "ng-0"},
			{5, "fork 7 8", ""}, // not counted parent
		}},
		{"quorum 2", []ProcessConfig{{Name: "ng", Process: []string{"nginx"}, Quorum: 2}}, []procStep{
			{0, "reset 1:nginx", "ng-1"},
			{1, "fork 1 2", "ng+2"},
			{2, "fork 2 3", ""},
			{3, "exit 3", ""},
			{4, "exit 1", "ng-1"},
		}},
		{"quorum_max 1: a second one is a failure", []ProcessConfig{{Name: "ng", Process: []string{"nginx"}, QuorumMax: qmax(1)}}, []procStep{
			{0, "reset 1:nginx", "ng+1"},
			{1, "exec 2:nginx", "ng-2"},
			{2, "exit 2", "ng+1"},
		}},
		{"quorum_max 0: up while none runs", []ProcessConfig{{Name: "ng", Process: []string{"nginx"}, QuorumMax: qmax(0)}}, []procStep{
			{0, "reset", "ng+0"},
			{1, "exec 2:nginx", "ng-1"},
			{2, "exit 2", "ng+0"},
		}},
		{"terminate_delay holds a loss by exit, a fork back within it cancels", []ProcessConfig{{Name: "ng", Process: []string{"nginx"}, TerminateDelay: 100 * time.Millisecond}}, []procStep{
			{0, "reset 1:nginx", "ng+1"},
			{10, "fork 1 2", ""},
			{20, "exit 1", ""},
			{30, "exit 2", ""},       // lost: delayed
			{60, "expire", ""},       // not yet due
			{70, "exec 3:nginx", ""}, // back within the delay: cancelled, no change
			{200, "expire", ""},
			{210, "exit 3", ""},
			{310, "expire", "ng-0"}, // due
		}},
		{"fork_delay holds a gain by fork, not one by exec", []ProcessConfig{{Name: "ng", Process: []string{"nginx"}, Quorum: 2, ForkDelay: 50 * time.Millisecond}}, []procStep{
			{0, "reset 1:nginx", "ng-1"},
			{10, "fork 1 2", ""},
			{59, "expire", ""},
			{60, "expire", "ng+2"},
			{70, "exit 2", "ng-1"},
			{80, "exec 3:nginx", "ng+2"},
		}},
		{"delay sets both", []ProcessConfig{{Name: "ng", Process: []string{"nginx"}, Delay: 50 * time.Millisecond}}, []procStep{
			{0, "reset 1:nginx", "ng+1"},
			{10, "exit 1", ""},
			{60, "expire", "ng-0"},
			{70, "exec 2:bash", ""},
			{80, "fork 9 10", ""},
		}},
		{"a name change re-evaluates name matches", []ProcessConfig{nginx, {Name: "full", Process: []string{"nginx"}, FullCommand: true}}, []procStep{
			{0, "reset 1:nginx", "ng+1 full+1"},
			{1, "comm 1 worker", "ng-0"}, // the command line is unchanged
			{2, "comm 1 nginx", "ng+1"},
		}},
		{"a rescan finds what events missed, with the delays", []ProcessConfig{{Name: "ng", Process: []string{"nginx"}, TerminateDelay: 50 * time.Millisecond}}, []procStep{
			{0, "reset 1:nginx", "ng+1"},
			{10, "reset", ""},
			{60, "expire", "ng-0"},
			{70, "reset 4:nginx", "ng+1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var specs []ProcessConfig
			for _, s := range tt.specs {
				specs = append(specs, procSpec(s))
			}
			tr := newProcTracker(specs)
			t0 := time.Unix(1000, 0)
			for _, st := range tt.steps {
				now := t0.Add(time.Duration(st.at) * time.Millisecond)
				got := formatProcChanges(applyProcStep(t, tr, st.op, now))
				if got != st.want {
					t.Fatalf("at %dms %q: changes %q, want %q", st.at, st.op, got, st.want)
				}
			}
		})
	}
}

func applyProcStep(t *testing.T, tr *procTracker, op string, now time.Time) []ProcChange {
	t.Helper()
	f := strings.Fields(op)
	num := func(s string) int {
		var n int
		for _, c := range s {
			n = n*10 + int(c-'0')
		}
		return n
	}
	proc := func(s string) Process {
		pid, comm, _ := strings.Cut(s, ":")
		return Process{PID: num(pid), Comm: comm, Argv: []string{comm}}
	}
	switch f[0] {
	case "reset":
		var ps []Process
		for _, s := range f[1:] {
			ps = append(ps, proc(s))
		}
		return tr.Reset(ps, now)
	case "exec":
		return tr.Exec(proc(f[1]), now)
	case "fork":
		return tr.Fork(num(f[1]), num(f[2]), now)
	case "exit":
		return tr.Exit(num(f[1]), now)
	case "comm":
		return tr.Comm(num(f[1]), f[2], now)
	case "expire":
		return tr.Expire(now)
	}
	t.Fatalf("bad step %q", op)
	return nil
}

func formatProcChanges(cs []ProcChange) string {
	var out []string
	for _, c := range cs {
		sign := "-"
		if c.Up {
			sign = "+"
		}
		out = append(out, c.Name+sign+string(rune('0'+c.N)))
	}
	return strings.Join(out, " ")
}

func TestProcTrackerNext(t *testing.T) {
	tr := newProcTracker([]ProcessConfig{procSpec(ProcessConfig{Name: "ng", Process: []string{"nginx"}, TerminateDelay: time.Second})})
	t0 := time.Unix(1000, 0)
	tr.Reset([]Process{{PID: 1, Comm: "nginx"}}, t0)
	if _, ok := tr.Next(); ok {
		t.Fatal("a deadline without a pending change")
	}
	tr.Exit(1, t0.Add(time.Second))
	if next, ok := tr.Next(); !ok || !next.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("Next = %v, %v; want %v", next, ok, t0.Add(2*time.Second))
	}
}

func TestParseTrackFile(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", 0, true},
		{"0\n", 0, true},
		{"10\n", 10, true},
		{"  -7 apples", -7, true},
		{"+3", 3, true},
		{"0x1f", 31, true},
		{"0X1F", 31, true},
		{"010", 8, true}, // C octal, as strtol base 0
		{"09", 0, true},  // octal stops at 9
		{"0x", 0, true},  // no hex digit: the 0
		{"abc", 0, true}, // not a number: 0
		{"\n\t 42", 42, true},
		{"2147483648", 2147483648, true}, // keepalived's upper bound, included
		{"2147483649", 0, false},         // out of range: ignored
		{"-2147483648", -2147483648, true},
		{"99999999999999999999999", 0, false},
		{strings.Repeat(" ", 130) + "5", 0, true}, // only the first 127 bytes are read
	}
	for _, tt := range tests {
		got, ok := parseTrackFile([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseTrackFile(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTrackEffect(t *testing.T) {
	tests := []struct {
		name    string
		it      trackItem
		delta   int
		fault   bool
		pending bool
	}{
		{"reverse positive weight lowers while up", trackItem{weight: 20, reverse: true, status: trackUp}, -20, false, false},
		{"reverse positive weight nothing while down", trackItem{weight: 20, reverse: true, status: trackDown}, 0, false, false},
		{"reverse negative weight raises while down", trackItem{weight: -20, reverse: true, status: trackDown}, 20, false, false},
		{"reverse negative weight nothing while up", trackItem{weight: -20, reverse: true, status: trackUp}, 0, false, false},
		{"reverse weight 0 is a fault while up", trackItem{reverse: true, status: trackUp}, 0, true, false},
		{"reverse weight 0 is fine while down", trackItem{reverse: true, status: trackDown}, 0, false, false},
		{"a process waits for its first report whatever its weight", trackItem{weight: 10, waitFirst: true}, 0, false, true},
		{"a script with a weight does not wait", trackItem{weight: 10}, 0, false, false},
		{"file: number times weight", trackItem{file: true, weight: 3, status: trackUp, value: 7}, 21, false, false},
		{"file: negative number", trackItem{file: true, weight: 2, status: trackUp, value: -10}, -20, false, false},
		{"file: reverse negates", trackItem{file: true, weight: 3, reverse: true, status: trackUp, value: 7}, -21, false, false},
		{"file: capped at 253", trackItem{file: true, weight: 10, status: trackUp, value: 100}, 253, false, false},
		{"file: -253 is a change", trackItem{file: true, weight: 1, status: trackUp, value: -253}, -253, false, false},
		{"file: below -253 is a fault", trackItem{file: true, weight: 1, status: trackUp, value: -254}, 0, true, false},
		{"file: far below is a fault", trackItem{file: true, weight: 1000, status: trackUp, value: -2147483648}, 0, true, false},
		{"file weight 0: non-zero is a fault", trackItem{file: true, status: trackUp, value: 5}, 0, true, false},
		{"file weight 0: zero is fine", trackItem{file: true, status: trackUp, value: 0}, 0, false, false},
		{"file weight 0 reverse: zero is a fault", trackItem{file: true, reverse: true, status: trackUp, value: 0}, 0, true, false},
		{"file weight 0 reverse: non-zero is fine", trackItem{file: true, reverse: true, status: trackUp, value: -1}, 0, false, false},
		{"file not read yet waits", trackItem{file: true, weight: 5, waitFirst: true}, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, f, p := tt.it.effect()
			if diff := cmp.Diff([]any{tt.delta, tt.fault, tt.pending}, []any{d, f, p}); diff != "" {
				t.Fatalf("(delta, fault, pending) (-want +got):\n%s", diff)
			}
		})
	}
	// In a sum: base 100, a file at +253 and a process at -30 give 254 at most.
	prio, fault, _ := trackResult(100, []trackItem{{file: true, weight: 1, status: trackUp, value: 253}, {weight: -30, status: trackDown}})
	if prio != 254 || fault {
		t.Fatalf("sum: priority %d fault %v, want 254 false", prio, fault)
	}
}
