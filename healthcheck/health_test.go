package healthcheck

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	loop = 10 * time.Second
	dbr  = 2 * time.Second
)

func timing(retry int, alpha bool, rise, fall int) Timing {
	return Timing{DelayLoop: loop, ConnectTimeout: time.Second, Retry: retry, DelayBeforeRetry: dbr, Alpha: alpha, Rise: rise, Fall: fall}
}

// run feeds a sequence like "+--+" (pass, fail) and renders each step as
// U/D for the state, ! when it changed, and r/l for the next delay
// (delay_before_retry, delay_loop).
func run(tm Timing, seq string) string {
	h := InitialHealth(tm)
	var b strings.Builder
	for i, c := range seq {
		next, changed, delay := h.Step(tm, c == '+')
		h = next
		if i > 0 {
			b.WriteByte(' ')
		}
		if h.Up {
			b.WriteByte('U')
		} else {
			b.WriteByte('D')
		}
		if changed {
			b.WriteByte('!')
		}
		switch delay {
		case dbr:
			b.WriteByte('r')
		case loop:
			b.WriteByte('l')
		default:
			b.WriteString("?")
		}
	}
	return b.String()
}

func TestHealthStep(t *testing.T) {
	tests := []struct {
		name string
		tm   Timing
		seq  string
		want string
	}{
		{"retry 1: down after 2 failures, retries at delay_before_retry", timing(1, false, 0, 0), "--", "Ur D!l"},
		{"retry 1: one failure then pass stays up", timing(1, false, 0, 0), "-+-", "Ur Ul Ur"},
		{"retry 1: failures while down use delay_loop", timing(1, false, 0, 0), "----", "Ur D!l Dl Dl"},
		{"retry 1: up again after one pass", timing(1, false, 0, 0), "--+", "Ur D!l U!l"},
		{"retry 1: counter resets after recovery", timing(1, false, 0, 0), "--+-+--", "Ur D!l U!l Ur Ul Ur D!l"},
		{"retry 0: down at first failure", timing(0, false, 0, 0), "-+", "D!l U!l"},
		{"retry 3 (nb_get_retry 3): down after 4", timing(3, false, 0, 0), "-----", "Ur Ur Ur D!l Dl"},
		{"alpha: starts down, up after first pass", timing(1, true, 0, 0), "+", "U!l"},
		{"alpha: failures keep it down, no retries", timing(1, true, 0, 0), "--+", "Dl Dl U!l"},
		{"passes while up change nothing", timing(1, false, 0, 0), "+++", "Ul Ul Ul"},
		{"fall 3 overrides retry", timing(0, false, 0, 3), "---", "Ur Ur D!l"},
		{"rise 2: one pass is not enough", timing(1, false, 2, 0), "--+-++", "Ur D!l Dl Dl Dl U!l"},
		{"rise 3 fall 2 with alpha", timing(0, true, 3, 2), "+++--", "Dl Dl U!l Ur D!l"},
		{"rise/fall interrupted runs", timing(0, false, 2, 2), "-+-+--+-++", "Ur Ul Ur Ul Ur D!l Dl Dl Dl U!l"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.tm, tt.seq); got != tt.want {
				t.Errorf("run(%q) = %q, want %q", tt.seq, got, tt.want)
			}
		})
	}
}

// TestHealthStepExhaustive checks every sequence of up to 9 results under
// several timings against a model written from keepalived's rule: the
// state is down iff (alpha and no pass yet) or the last failure run that
// reached fall while up has not been followed by rise passes in a row.
func TestHealthStepExhaustive(t *testing.T) {
	timings := []Timing{
		timing(0, false, 0, 0), timing(1, false, 0, 0), timing(2, true, 0, 0),
		timing(1, false, 2, 0), timing(0, true, 3, 2), timing(5, false, 1, 1),
	}
	for _, tm := range timings {
		for n := 1; n <= 9; n++ {
			for bits := 0; bits < 1<<n; bits++ {
				seq := make([]bool, n)
				for i := range seq {
					seq[i] = bits&(1<<i) != 0
				}
				h := InitialHealth(tm)
				up := !tm.Alpha
				fails, passes := 0, 0
				for i, ok := range seq {
					wasUp := up
					if ok {
						fails, passes = 0, passes+1
						if !up && passes >= tm.rise() {
							up = true
						}
					} else {
						fails, passes = fails+1, 0
						if up && fails >= tm.fall() {
							up = false
						}
					}
					wantDelay := loop
					if !ok && up {
						wantDelay = dbr
					}
					next, changed, delay := h.Step(tm, ok)
					h = next
					if h.Up != up || changed != (up != wasUp) || delay != wantDelay {
						t.Fatalf("timing %v seq %v step %d: got up=%t changed=%t delay=%v, want up=%t changed=%t delay=%v",
							tm, fmtSeq(seq), i, h.Up, changed, delay, up, up != wasUp, wantDelay)
					}
				}
			}
		}
	}
}

func fmtSeq(seq []bool) string {
	var b strings.Builder
	for _, ok := range seq {
		fmt.Fprint(&b, map[bool]string{true: "+", false: "-"}[ok])
	}
	return b.String()
}
