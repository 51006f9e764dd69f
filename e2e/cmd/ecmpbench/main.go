// Command ecmpbench measures issue 16's scale-out on a real kernel (run it
// in the testbed VM: `testbed bench ecmpbench`, `make bench-ecmp`): what
// the client's established flows see when one of three lbd directors
// behind a bird2 ECMP router is drained or dies, against the keepalived
// VRRP pair's takeover and bird2 announcing the VIP itself, in one run.
//
//   - the topology is the VM scenario's (e2e/ecmplab): a client behind a
//     router running bird2 with merge paths (one route, a next hop per
//     director, fib_multipath_hash_policy=1), three directors announcing
//     the VIP with BGP (hold 3 s), three DR real servers;
//   - the client holds -flows long-lived TCP connections from distinct
//     source ports, each sending a line every -every and reading the real
//     server's answer: a reset or a stall shows;
//   - lbd drain: lbctl drain-director on one director (BGP withdraw);
//     lbd kill: its link cut, then kill -9 (the router notices only by the
//     hold time, 3 s, or BFD, 100ms x 3), sloppy_tcp on; each trial's
//     victim is the next director;
//   - keepalived: two directors with keepalived (VRRP advert 1 s, the VIP
//     on eth0, the same IPVS service: mh, mh-port, mh-fallback, DR,
//     sloppy_tcp on), the router's route to the VIP on its LAN; the
//     master's link cut, then kill -9;
//   - bird2, the anchor operators build by hand: bird2 on each director
//     announcing the VIP (a static route) and the same IPVS service set up
//     with ipvsadm, one director cut and killed, hold 3 s and BFD.
//
// Each trial prints the share of established flows broken (reset, or not
// answered again within 20 s), the time until the last of the faulted
// director's flows was answered again, and the router's route change; then
// the medians per series, the ratios ours/peer and the verdict: PASS when
// no flow broke on lbd's drain or kill, the router dropped a killed lbd
// and its flows were served again no later than with bird2 (give or take
// one interval of the dead director's sender: a keepalive, 1 s, or a BFD
// packet, 100 ms; where the fault falls in it is chance), with hold time
// and with BFD, and with BFD no later than after the keepalived pair's
// takeover (hold time against VRRP is printed, not judged: see
// comparisons); FAIL (exit 1); 2 when a series could not be measured. With
// BFD it also counts the router's BFD sessions that went down beyond the
// kills (flaps).
//
//	ecmpbench [-trials 3] [-quick] [-flows 60] [-every 100ms] [-peers keepalived,bird] [-v]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lb/e2e/ecmplab"
	"github.com/lvsd/lb/internal/benchverdict"
)

// options are the command's flags.
type options struct {
	trials  int
	flows   int
	every   time.Duration
	peers   []string
	verbose bool
}

const (
	peerKeepalived = "keepalived"
	peerBird       = "bird"
)

func main() {
	var o options
	flag.IntVar(&o.trials, "trials", 3, "trials per series")
	quick := flag.Bool("quick", false, "one trial per series")
	flag.IntVar(&o.flows, "flows", 60, "long-lived connections the client holds in each trial")
	flag.DurationVar(&o.every, "every", 100*time.Millisecond, "each flow's interval between two exchanges")
	peers := flag.String("peers", "keepalived,bird", "peers to measure (keepalived, bird); without both there is no verdict")
	flag.BoolVar(&o.verbose, "v", false, "print the daemons' logs")
	flag.Parse()
	if *quick {
		o.trials = 1
	}
	if *peers != "" {
		o.peers = strings.Split(*peers, ",")
	}
	if err := validate(o); err != nil {
		fmt.Fprintln(os.Stderr, "ecmpbench:", err)
		os.Exit(2)
	}
	err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ecmpbench:", err)
	}
	os.Exit(benchverdict.ExitStatus(err))
}

func validate(o options) error {
	if o.trials < 1 {
		return fmt.Errorf("-trials %d: at least 1", o.trials)
	}
	if o.flows < 3 || o.flows > 1000 {
		return fmt.Errorf("-flows %d: 3 to 1000", o.flows)
	}
	if o.every <= 0 {
		return fmt.Errorf("-every must be positive")
	}
	for _, p := range o.peers {
		if p != peerKeepalived && p != peerBird {
			return fmt.Errorf("-peers: unknown peer %q (keepalived, bird)", p)
		}
	}
	return nil
}

// wanted is the series a run with o measures, all of which the verdict
// needs.
func wanted(o options) []string {
	want := []string{seriesDrain, seriesKillHold, seriesKillBFD}
	if slices.Contains(o.peers, peerKeepalived) {
		want = append(want, seriesKeepalived)
	}
	if slices.Contains(o.peers, peerBird) {
		want = append(want, seriesBirdHold, seriesBirdBFD)
	}
	return want
}

// run builds the lab, runs every series and judges.
func run(o options) error {
	l, err := buildLab()
	if err != nil {
		return fmt.Errorf("%w: building the lab: %w", benchverdict.ErrNotMeasured, err)
	}
	defer l.close()
	fmt.Printf("ecmpbench: client %s -> router (bird2, merge paths, L4 hash) -> VIP %s:80 on d1..d3 %v -> DR mh to %s, %s, %s\n",
		ecmplab.Client, ecmplab.VIP, ecmplab.DirectorAddrs(), ecmplab.WebAddr(1), ecmplab.WebAddr(2), ecmplab.WebAddr(3))
	fmt.Printf("flows: %d long-lived connections per trial from distinct source ports, a line every %v each; %d trials per series\n",
		o.flows, o.every, o.trials)
	res := results{}
	var missing []string
	note := func(series string, trial int, out outcome, err error) {
		var restore errRestore
		if errors.As(err, &restore) {
			fmt.Printf("%-16s trial %d: measured, but the lab was not put back: %v\n", series, trial, restore.error)
			err = nil
		}
		if err != nil {
			fmt.Printf("%-16s trial %d: NOT MEASURED: %v\n", series, trial, err)
			missing = append(missing, fmt.Sprintf("%s trial %d: %v", series, trial, err))
			return
		}
		fmt.Printf("%-16s trial %d: %s\n", series, trial, out)
		res.add(series, out)
	}
	for _, bfd := range []bool{false, true} {
		if err := l.bgpSeries(o, bfd, note); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if slices.Contains(o.peers, peerKeepalived) {
		if err := l.keepalivedSeries(o, note); err != nil {
			missing = append(missing, err.Error())
		}
	}
	return judge(os.Stdout, res, wanted(o), missing)
}

// noteFunc records one trial's outcome, or why it was not measured.
type noteFunc func(series string, trial int, out outcome, err error)

// bgpSeries runs bird2 on the router (with BFD or not), then lbd's trials
// (the drain only without BFD: it does not depend on failure detection),
// then the bird2 anchor's.
func (l *lab) bgpSeries(o options, bfd bool, note noteFunc) error {
	router, err := l.startRouterBird(bfd)
	if err != nil {
		return err
	}
	defer router.Stop(daemonGrace)
	killSeries, birdSeries := seriesKillHold, seriesBirdHold
	if bfd {
		killSeries, birdSeries = seriesKillBFD, seriesBirdBFD
	}
	s, err := startLbdStack(l, bfd)
	if err != nil {
		return fmt.Errorf("%s: starting lbd: %w", killSeries, err)
	}
	for i := range o.trials {
		if bfd {
			break // the drain does not depend on failure detection
		}
		out, err := l.drainTrial(s, o, i%ecmplab.Size+1, 20000+i*1000)
		note(seriesDrain, i+1, out, err)
	}
	mark := len(router.Log.String())
	kills := l.killSeries(s, o, killSeries, 20500+boolInt(bfd)*10000, note)
	if bfd {
		printFlaps(killSeries, router.Log.String()[mark:], kills)
	}
	if o.verbose {
		fmt.Print(s.logs())
	}
	s.stop()
	if err := l.cleanDirectors(); err != nil {
		return err
	}
	if slices.Contains(o.peers, peerBird) {
		bs, err := startBirdStack(l, bfd)
		if err != nil {
			return fmt.Errorf("%s: starting bird2 on the directors: %w", birdSeries, err)
		}
		mark := len(router.Log.String())
		kills := l.killSeries(bs, o, birdSeries, 40500+boolInt(bfd)*10000, note)
		if bfd {
			printFlaps(birdSeries, router.Log.String()[mark:], kills)
		}
		if o.verbose {
			fmt.Print(bs.logs())
		}
		bs.stop()
		if err := l.cleanDirectors(); err != nil {
			return err
		}
	}
	if o.verbose {
		fmt.Printf("--- the router's bird2 log:\n%s", lastLines(router.Log.String(), 60))
	}
	return nil
}

// killSeries runs o.trials kill trials on s, the victim the next director
// each time, a trial whose set-up failed tried again twice; it stops at a
// trial that could not be measured. It returns the kills made.
func (l *lab) killSeries(s stack, o options, series string, base int, note noteFunc) (kills int) {
	start := l.kills
	defer func() { kills = l.kills - start }()
	for i := range o.trials {
		v := i%ecmplab.Size + 1
		out, err := l.killTrial(s, o, v, base+i*1000)
		for retry := 1; retry <= 2 && isSetup(err); retry++ {
			fmt.Printf("%-16s trial %d: set-up failed, trying again: %v\n", series, i+1, err)
			out, err = l.killTrial(s, o, v, base+i*1000+retry*200)
		}
		note(series, i+1, out, err)
		if err != nil && !errors.As(err, new(errRestore)) {
			return
		}
	}
	return
}

// bfdDownRE is the router's bird2 log line of a BFD session going down
// (protocol bfd with debug all).
var bfdDownRE = regexp.MustCompile(`Session to 10\.9\.0\.\d+ changed state from Up to Down`)

// bfdDowns counts the BFD sessions gone down in the router's log.
func bfdDowns(routerLog string) int { return len(bfdDownRE.FindAllString(routerLog, -1)) }

// printFlaps says how many of the router's BFD sessions went down during a
// series, beyond the kills: sessions that flapped (a starved VM).
func printFlaps(series, routerLog string, kills int) {
	downs := bfdDowns(routerLog)
	fmt.Printf("%-16s the router's BFD sessions went down %d times in the series: %d kills, %d flaps\n", series, downs, kills, max(downs-kills, 0))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
