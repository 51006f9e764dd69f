package healthcheck

import (
	"errors"
	"fmt"
	"time"
)

// Timing is the resolved timing of one check (inheritance from virtual
// server and real server is the config package's job).
type Timing struct {
	// DelayLoop is the interval between checks (delay_loop).
	DelayLoop time.Duration
	// ConnectTimeout bounds one attempt: the connection and the response
	// of each URL (connect_timeout); for scripts it is the script timeout
	// (misc_timeout).
	ConnectTimeout time.Duration
	// Retry is how many more failures in a row, after the first, take an
	// up server down (retry, alias nb_get_retry): down after Retry+1.
	Retry int
	// DelayBeforeRetry replaces DelayLoop after a failure while the
	// server is still up (delay_before_retry).
	DelayBeforeRetry time.Duration
	// Warmup is the upper bound of the random delay before the first
	// check (warmup); 0 starts at once.
	Warmup time.Duration
	// Alpha starts the check down until its first pass (alpha).
	Alpha bool
	// Rise and Fall, when set (> 0), replace keepalived's rule: Fall
	// failures in a row take the server down (instead of Retry+1), Rise
	// passes in a row bring it up (instead of 1).
	Rise, Fall int
}

// DefaultTiming returns the timing of a check whose configuration sets
// none: delay_loop 60s, connect_timeout 5s, retry 1, delay_before_retry
// 3s, no warm-up, no alpha, rise 1 and fall retry+1 (keepalived's HTTP_GET
// defaults, for every type; the importer writes out keepalived's other
// per-checker values).
func DefaultTiming() Timing {
	return Timing{
		DelayLoop:        60 * time.Second,
		ConnectTimeout:   5 * time.Second,
		Retry:            1,
		DelayBeforeRetry: 3 * time.Second,
	}
}

// Validate reports what is wrong with the timing, if anything.
func (t Timing) Validate() error {
	switch {
	case t.DelayLoop <= 0:
		return fmt.Errorf("delay_loop %v must be positive", t.DelayLoop)
	case t.ConnectTimeout <= 0:
		return fmt.Errorf("connect_timeout %v must be positive", t.ConnectTimeout)
	case t.Retry < 0:
		return fmt.Errorf("retry %d must not be negative", t.Retry)
	case t.DelayBeforeRetry < 0, t.Warmup < 0:
		return errors.New("delay_before_retry and warmup must not be negative")
	case t.Rise < 0, t.Fall < 0:
		return errors.New("rise and fall must not be negative")
	}
	return nil
}

// earliness is how early a check may start to join a batch: a twentieth
// of its shortest delay.
func (t Timing) earliness() time.Duration {
	d := t.DelayLoop
	if t.DelayBeforeRetry > 0 {
		d = min(d, t.DelayBeforeRetry)
	}
	return d / 20
}

// fall is how many failures in a row take an up server down.
func (t Timing) fall() int {
	if t.Fall > 0 {
		return t.Fall
	}
	return t.Retry + 1
}

// rise is how many passes in a row bring a down server up.
func (t Timing) rise() int {
	if t.Rise > 0 {
		return t.Rise
	}
	return 1
}

func (t Timing) String() string {
	return fmt.Sprintf("loop=%v timeout=%v retry=%d dbr=%v warmup=%v alpha=%t rise=%d fall=%d",
		t.DelayLoop, t.ConnectTimeout, t.Retry, t.DelayBeforeRetry, t.Warmup, t.Alpha, t.Rise, t.Fall)
}
