package nginxlab

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lvsd/lb/vrrp"
)

// The pair's protocol constants, as both configurations have them (the
// shipped example and the seed's keepalived.conf): adverts every second,
// chk_nginx every second with a 1 s timeout, fall 1 and rise 1, weight 0
// (FAULT while failing), priorities 200 and 100.
const (
	Advert        = time.Second
	CheckInterval = time.Second
	CheckTimeout  = time.Second
	D1Priority    = 200
	D2Priority    = 100
)

// Slack is what a busy two-core host may add to a protocol bound: the
// prober's interval, scheduling, the gratuitous ARP reaching the client.
const Slack = 2 * time.Second

// MasterDown is RFC 3768's Master_Down_Interval of a backup of priority prio.
func MasterDown(prio int, advert time.Duration) time.Duration {
	return 3*advert + time.Duration(256-prio)*advert/256
}

// detection is the longest a tracker takes to see nginx die or come
// back: the script's interval and timeout; for a tracked process, the
// kernel's event at once (no delay configured), or lbd's full read of the
// process table every second where it has no process events (Polling).
func detection(t Track) time.Duration {
	if t == TrackProcess {
		return vrrp.DefaultProcessPollInterval
	}
	return CheckInterval + CheckTimeout
}

// FailoverBound is the protocol's bound from the kill of d1's nginx to d2
// answering: the tracker sees it (detection), d1 goes FAULT, and d2
// becomes MASTER within its Master_Down_Interval at worst (its skew time
// when d1's priority-0 advert arrives).
func FailoverBound(t Track) time.Duration {
	return detection(t) + MasterDown(D2Priority, Advert)
}

// PreemptBound is the protocol's bound from d1's nginx accepting again
// to d1 answering (Preempt): the tracker sees it, d1 goes BACKUP and,
// ignoring d2's lower-priority adverts, becomes MASTER after its
// Master_Down_Interval.
func PreemptBound(t Track) time.Duration {
	return detection(t) + MasterDown(D1Priority, Advert)
}

// Pair is one kind of speaker on both proxies.
type Pair struct {
	Setup
	D1, D2 *Speaker
}

// StartPair starts s's speaker on both proxies: lbd from the binary
// lbdBin with the shipped example, keepalived with the seed's
// keepalived.conf found under the module root (LBDConfig,
// KeepalivedConfig).
func (l *Lab) StartPair(s Setup, lbdBin, root string) (pr *Pair, err error) {
	pr = &Pair{Setup: s}
	defer func() {
		if err != nil {
			err = errors.Join(err, pr.Stop(l))
			pr = nil
		}
	}()
	for _, p := range l.Proxies() {
		var sp *Speaker
		switch s.Kind {
		case LBD:
			conf, err := LBDConfig(p.Name, p.Dir, s)
			if err != nil {
				return pr, err
			}
			sp, err = p.StartLBD(lbdBin, conf)
			if err != nil {
				return pr, err
			}
		case Keepalived:
			conf, err := KeepalivedConfig(root, p.Name, s)
			if err != nil {
				return pr, err
			}
			if sp, err = p.StartKeepalived(conf); err != nil {
				return pr, err
			}
		default:
			return pr, fmt.Errorf("unknown speaker %q", s.Kind)
		}
		if p == l.D1 {
			pr.D1 = sp
		} else {
			pr.D2 = sp
		}
	}
	return pr, nil
}

// Stop stops both speakers and waits until neither proxy holds the VIP.
func (pr *Pair) Stop(l *Lab) error {
	var errs []error
	for _, sp := range []*Speaker{pr.D1, pr.D2} {
		if sp != nil {
			errs = append(errs, sp.Stop(10*time.Second))
		}
	}
	errs = append(errs, waitUntil(5*time.Second, string(pr.Kind)+" stopped: the VIP removed", func() bool {
		h, err := l.VIPHolders()
		return err == nil && len(h) == 0
	}))
	return errors.Join(errs...)
}

// Polling is why either lbd reads the process table periodically instead
// of following the kernel's process events ("" when neither does).
func (pr *Pair) Polling() string {
	for _, sp := range []*Speaker{pr.D1, pr.D2} {
		if sp != nil && sp.Polling() != "" {
			return sp.Proxy.Name + ": " + sp.Polling()
		}
	}
	return ""
}

// Events are both speakers' events, in time order.
func (pr *Pair) Events() []Event {
	var out []Event
	for _, sp := range []*Speaker{pr.D1, pr.D2} {
		if sp != nil {
			out = append(out, sp.Events()...)
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int { return a.At.Compare(b.At) })
	return out
}

// Logs is both speakers' output, for a failure's message.
func (pr *Pair) Logs() string {
	var s string
	for _, sp := range []*Speaker{pr.D1, pr.D2} {
		if sp != nil {
			s += fmt.Sprintf("--- %s %s:\n%s", sp.Kind, sp.Proxy.Name, sp.Output())
		}
	}
	return s
}

// Round is one kill of d1's nginx and its restart.
type Round struct {
	Setup
	Kill    time.Time // SIGKILL sent to d1's nginx (master and worker)
	Restart time.Time // d1's nginx started again
	NginxUp time.Time // and accepting connections
	// Failover is the first answer to a request sent after the kill.
	Failover Result
	// Back (Preempt) is the first answer from d1 to a request sent after
	// the restart.
	Back Result
	// Held (NoPreempt) is when the lab stopped watching the VIP stay on
	// d2: a Master_Down_Interval of d1's after d1 went BACKUP, and more.
	Held time.Time

	Events  []Event  // the speakers', from the pair's start
	Results []Result // the prober's, from its start
}

// FailoverTime is the time from the kill to the first answer.
func (r Round) FailoverTime() time.Duration { return r.Failover.Done.Sub(r.Kill) }

// PreemptTime is the time from nginx accepting again on d1 to d1's first
// answer.
func (r Round) PreemptTime() time.Duration { return r.Back.Done.Sub(r.NginxUp) }
