// Command outagebench measures the whole stack's client-visible outage on
// a real kernel (run it in the testbed VM: `testbed bench outagebench`,
// `make bench-outage`), lbd against keepalived in the same run:
//
//   - one LAN (a bridge): a client, two directors d1 (priority 200) and d2
//     (priority 100), VRRPv2 advert 1 s, one VIP, IPVS DR round robin over
//     two web nodes with HTTP health checks every second; the web nodes
//     hold the VIP on lo with the ARP sysctls (set by the bench, the same
//     for both stacks);
//   - the directors run lbd (lbd.yaml) or keepalived (keepalived.conf)
//     with the same timers, started afresh for each trial;
//   - a prober in the client opens a new TCP connection to the VIP and
//     sends an HTTP GET every 10 ms (each request times out after 1 s);
//   - the fault: "cut", d1's switch port goes down; "stop", d1's daemon
//     gets SIGTERM (a graceful stop). It is injected at a fixed phase
//     after one of d1's adverts (trial i of n at (i+1/2)/n of the advert
//     interval), the same phases for both stacks, the stacks alternating
//     trial by trial;
//   - the outage is the longest gap between two successful answers around
//     the fault, as the client saw it. After a cut it depends on where in
//     d1's advert cycle the cut fell (the backup's Master_Down_Interval
//     runs from d1's last advert), and on a starved VM the sleep to the
//     aimed phase overshoots: so a cut is judged on the outage from d1's
//     last advert (the outage plus the phase the client saw), a stop on the
//     outage itself (the backup's wait runs from the priority-0 advert sent
//     at the stop). d1's last advert is the last one the client saw, also
//     one that crossed after the fault's start (a slow cut on a loaded VM);
//     the client's frames carry the kernel's receive time;
//   - a cut also reports each side's takeover, d1's last advert to d2's
//     first, and how many trials' came past Master_Down_Interval + 20 ms;
//     an lbd takeover past the bound prints d2's VRRP log (late timers, a
//     busy loop, slow actions). -hog N runs N busy loops in the VM through
//     every trial, the same for both stacks: a loaded host on demand.
//
// It prints every trial with what the client saw (d1's last advert, its
// priority-0 advert, d2's first advert, d2's gratuitous ARP, the client's
// first SYN to d2, its first answer), the medians per stack and fault, the
// ratios lbd/keepalived, then the verdict: PASS when lbd's median is at
// most keepalived's for both faults (exit 0), FAIL (1), or 2 when a figure
// could not be measured (keepalived missing, a trial that never recovered
// after two retries of its set-up).
//
// A third stack, "lbd+bfd" (-stacks lbd,keepalived,lbd+bfd), is lbd with
// bfd (100ms x 3) on both directors: it is judged against keepalived on
// the raw outage (BFD's detection runs from d1's last BFD packet, every
// ~100 ms, not from its last advert).
//
//	outagebench [-trials 7] [-faults cut,stop] [-stacks lbd,keepalived[,lbd+bfd]] [-hog N] [-v] [-trace]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"
)

// options are the command's flags.
type options struct {
	trials  int
	faults  []string
	stacks  []string
	every   time.Duration
	timeout time.Duration
	verbose bool
	trace   bool
	hogs    int
}

func main() {
	var o options
	flag.IntVar(&o.trials, "trials", 7, "trials per stack and fault")
	faults := flag.String("faults", "cut,stop", "faults to inject: cut (d1's link down), stop (SIGTERM to d1's daemon)")
	stacks := flag.String("stacks", "lbd,keepalived", "stacks to measure (lbd, keepalived, lbd+bfd: lbd with bfd 100ms x 3); a comparison without keepalived has no verdict")
	flag.DurationVar(&o.every, "every", 10*time.Millisecond, "the prober's request interval")
	flag.DurationVar(&o.timeout, "timeout", time.Second, "a request's timeout")
	flag.BoolVar(&o.verbose, "v", false, "print the daemons' logs of each trial")
	flag.BoolVar(&o.trace, "trace", false, "print each trial's frames around the fault as the client, d1, d2 and web1 saw them (tcpdump), and the slow requests")
	flag.IntVar(&o.hogs, "hog", 0, "CPU hogs (busy shell loops) running through each trial, the same for every stack: a loaded host")
	flag.Parse()
	o.faults = strings.Split(*faults, ",")
	o.stacks = strings.Split(*stacks, ",")
	if err := validate(o); err != nil {
		fmt.Fprintln(os.Stderr, "outagebench:", err)
		os.Exit(2)
	}
	err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "outagebench:", err)
	}
	os.Exit(benchverdict.ExitStatus(err))
}

func validate(o options) error {
	if o.trials < 1 {
		return fmt.Errorf("-trials %d: at least 1", o.trials)
	}
	for _, f := range o.faults {
		if f != faultCut && f != faultStop {
			return fmt.Errorf("-faults: unknown fault %q (cut, stop)", f)
		}
	}
	for _, s := range o.stacks {
		if s != stackLbd && s != stackLbdBFD && s != stackKeepalived {
			return fmt.Errorf("-stacks: unknown stack %q (lbd, lbd+bfd, keepalived)", s)
		}
	}
	if o.hogs < 0 || o.hogs > 16 {
		return fmt.Errorf("-hog %d: 0 to 16", o.hogs)
	}
	if o.every <= 0 || o.timeout <= 0 {
		return fmt.Errorf("-every and -timeout must be positive")
	}
	return nil
}

// run builds the lab, runs every trial and judges.
func run(o options) error {
	lab, err := buildLab()
	if err != nil {
		return fmt.Errorf("%w: building the lab: %w", benchverdict.ErrNotMeasured, err)
	}
	defer lab.close()
	fmt.Printf("outagebench: client %s -> VIP %s:80 on d1 %s (priority 200) / d2 %s (priority 100), VRRPv2 advert %v, IPVS DR rr -> %s, %s\n",
		clientAddr, vipAddr, d1Addr, d2Addr, advert, web1Addr, web2Addr)
	fmt.Printf("prober: a new connection and GET / every %v, timeout %v; Master_Down_Interval of d2 %v, its skew %v\n",
		o.every, o.timeout, masterDown, skew)
	res := results{}
	var missing []string
	for _, f := range o.faults {
		for i := range o.trials {
			phase := time.Duration((float64(i) + 0.5) / float64(o.trials) * float64(advert))
			for _, s := range o.stacks {
				tr, err := lab.trial(s, f, phase, o)
				for retry := 1; retry <= 2 && errors.As(err, new(errSetup)); retry++ {
					fmt.Printf("%-10s %-4s trial %d: set-up failed, trying again: %v\n", s, f, i+1, err)
					tr, err = lab.trial(s, f, phase, o)
				}
				if err != nil {
					fmt.Printf("%-10s %-4s trial %d: NOT MEASURED: %v\n", s, f, i+1, err)
					missing = append(missing, fmt.Sprintf("%s %s trial %d: %v", s, f, i+1, err))
					continue
				}
				fmt.Printf("%-10s %-4s trial %d phase %4dms: %s\n", s, f, i+1, phase.Milliseconds(), tr)
				res.add(s, f, tr)
			}
		}
	}
	return judge(os.Stdout, res, o, missing)
}
