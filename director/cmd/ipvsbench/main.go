// Command ipvsbench measures the director's IPVS writes on a real kernel
// (run it in the testbed VM, as root):
//
//   - apply of N services x M destinations to an empty table through the
//     Reconciler, against "ipvsadm -R" of the same rules (goal <= 0.25x),
//     and, as a reference, one cloudflare/ipvs call per rule;
//   - restart on a matching table: writes of a fresh process (goal 0), the
//     time of its full read and diff;
//   - full read of the table against "ipvsadm -Sn" (goal <= 1.0x), and
//     "lbctl status -n --kernel";
//   - reload with one weight changed: writes (goal exactly 1), reads (goal
//     2: only that service) and latency (goal <= 50 ms);
//   - resync after a destination deleted behind its back (goal 1).
//
// Each measurement runs in a fresh network namespace (with -netns, the
// default), so that every one starts from a truly empty IPVS: after a flush
// the kernel keeps the deleted destinations in a per-namespace trash list for
// a minute and scans it on every destination add, which would slow down
// whichever run comes second. Without -netns it works on the current
// namespace's table, flushing it (a non-empty table needs -force).
//
// After each step it checks that the kernel holds exactly the table asked
// for. It prints the figures and ratios and exits 1 if a goal is missed, 2
// if it cannot run (no IPVS, no ipvsadm).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/lvsd/lb/internal/benchverdict"

	"golang.org/x/sys/unix"

	"github.com/lvsd/lb/director"
	"github.com/lvsd/lb/director/kernel"
	"github.com/lvsd/lb/director/table"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	services, dests, runs int
	ipvsadm               string
	force, netns          bool
	forward, cpuprofile   string
	batchMin              int
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ipvsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.services, "services", 1000, "virtual services")
	fs.IntVar(&o.dests, "dests", 10, "destinations per service")
	fs.IntVar(&o.runs, "runs", 1, "runs of each apply measurement (the median is reported)")
	fs.StringVar(&o.ipvsadm, "ipvsadm", "ipvsadm", "ipvsadm binary for the comparison")
	fs.BoolVar(&o.netns, "netns", true, "run each measurement in a fresh network namespace")
	fs.BoolVar(&o.force, "force", false, "without -netns: flush a non-empty IPVS table")
	fs.StringVar(&o.forward, "forward", "dr", "forwarding of the destinations: dr, nat or tun")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile to this file")
	fs.IntVar(&o.batchMin, "batch-min", 0, "reconciler BatchMin (0: default 16, -1: never batch)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.services < 1 || o.services > 60000 || o.dests < 1 || o.dests > 250 || o.runs < 1 {
		fmt.Fprintln(stderr, "ipvsbench: -services must be 1..60000, -dests 1..250, -runs >= 1")
		return 2
	}
	ipvsadm, err := exec.LookPath(o.ipvsadm)
	if err != nil {
		fmt.Fprintf(stderr, "ipvsbench: cannot run without ipvsadm: %v\n", err)
		return 2
	}
	// Fail early and cleanly where there is no IPVS.
	h, err := kernel.Open()
	if err != nil {
		if kernel.IsUnavailable(err) {
			fmt.Fprintf(stderr, "ipvsbench: IPVS is not available in this kernel: %v\n", err)
		} else {
			fmt.Fprintf(stderr, "ipvsbench: %v\n", err)
		}
		return 2
	}
	if !o.netns {
		svcs, err := h.Services()
		if err == nil && len(svcs) > 0 && !o.force {
			err = fmt.Errorf("the IPVS table has %d services; use -force to flush it", len(svcs))
		}
		if err != nil {
			h.Close()
			fmt.Fprintf(stderr, "ipvsbench: %v\n", err)
			return 2
		}
	}
	h.Close()

	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "ipvsbench: %v\n", err)
			return 2
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	b := &bench{o: o, ipvsadm: ipvsadm, out: stdout, log: slog.New(slog.DiscardHandler), sheet: benchverdict.NewSheet(stdout)}
	err = b.run()
	if err != nil {
		fmt.Fprintf(stderr, "ipvsbench: %v\n", err)
	}
	return benchverdict.ExitStatus(err)
}

type bench struct {
	o       options
	ipvsadm string
	out     io.Writer
	log     *slog.Logger
	sheet   *benchverdict.Sheet
}

// scratch runs f with a handle on an empty IPVS: in a fresh network
// namespace (on a thread of its own, which dies with it), or in the current
// one after a flush.
func (b *bench) scratch(f func(h *kernel.Handle) error) error {
	if !b.o.netns {
		h, err := kernel.Open()
		if err != nil {
			return err
		}
		defer h.Close()
		if err := h.Flush(); err != nil {
			return err
		}
		return f(h)
	}
	errc := make(chan error, 1)
	go func() {
		// Not unlocked: the thread changes namespace and exits with us.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("new network namespace: %w", err)
			return
		}
		// IPVS refuses destinations in a namespace without a local
		// routing table: bring lo up.
		if err := linkUp("lo"); err != nil {
			errc <- err
			return
		}
		h, err := kernel.Open()
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		errc <- f(h)
	}()
	return <-errc
}

func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring %s up: %w", name, err)
	}
	return nil
}

func (b *bench) reconciler(h *kernel.Handle) (*director.Reconciler, error) {
	return director.NewReconciler(director.ReconcilerConfig{Kernel: h, Logger: b.log, BatchMin: b.o.batchMin})
}

// run measures the apply from empty against ipvsadm -R, then the write
// counts of a restart, a reload and a resync: benchverdict.ErrFailed when a
// goal is missed, another error when it could not measure.
func (b *bench) run() error {
	want := buildTable(b.o)
	rules := len(want.Services) * (1 + b.o.dests)
	where := "a fresh network namespace each"
	if !b.o.netns {
		where = "the current namespace, flushed"
	}
	fmt.Fprintf(b.out, "ipvsbench: %d services x %d destinations (%d rules, %s forwarding), %s\n",
		b.o.services, b.o.dests, rules, b.o.forward, where)
	if err := b.applyFromEmpty(want); err != nil {
		return err
	}
	if err := b.scratch(func(h *kernel.Handle) error { return b.writeCounts(h, want) }); err != nil {
		return err
	}
	if err := b.sheet.Err(); err != nil {
		fmt.Fprintf(b.out, "ipvsbench: FAIL (%d goal(s) missed)\n", len(b.sheet.Failed()))
		return err
	}
	fmt.Fprintln(b.out, "ipvsbench: PASS (all goals met)")
	return nil
}

// applyFromEmpty times, o.runs times each, the reference (one call per
// rule), our reconciler and ipvsadm -R programming want into an empty
// table, prints the medians and judges the ratio ours / ipvsadm -R.
func (b *bench) applyFromEmpty(want table.Table) error {
	var save bytes.Buffer
	if err := table.WriteSave(&save, want, table.FormatNumeric, nil); err != nil {
		return err
	}
	var ours, theirs, floors []time.Duration
	var oursWrites uint64
	for i := 0; i < b.o.runs; i++ {
		floor, err := b.onePerRule(want)
		if err != nil {
			return err
		}
		o, writes, err := b.reconcilerApply(want)
		if err != nil {
			return err
		}
		t, err := b.ipvsadmRestore(want, save.Bytes())
		if err != nil {
			return err
		}
		floors, ours, theirs, oursWrites = append(floors, floor), append(ours, o), append(theirs, t), writes
	}
	o, t, fl := median(ours), median(theirs), median(floors)
	ratio := o.Seconds() / t.Seconds()
	fmt.Fprintf(b.out, "apply from empty, lbd reconciler:   %8.3fs  %d netlink writes (%.1f us/write)\n",
		o.Seconds(), oursWrites, float64(o.Microseconds())/float64(max(oursWrites, 1)))
	fmt.Fprintf(b.out, "ipvsadm -R of the same rules:       %8.3fs\n", t.Seconds())
	fmt.Fprintf(b.out, "one cloudflare/ipvs call per rule:  %8.3fs  (%.3fx ipvsadm -R)\n", fl.Seconds(), fl.Seconds()/t.Seconds())
	b.sheet.Check(ratio <= 0.25, "ratio lbd / ipvsadm -R: %.3f (goal <= 0.25)", ratio)
	return nil
}

// onePerRule is the reference: one cloudflare/ipvs call per rule, no
// read, no diff.
func (b *bench) onePerRule(want table.Table) (took time.Duration, err error) {
	err = b.scratch(func(h *kernel.Handle) error {
		t0 := time.Now()
		for _, s := range want.Services {
			if err := h.CreateService(s); err != nil {
				return err
			}
			for _, d := range s.Destinations {
				if err := h.CreateDestination(s, d); err != nil {
					return err
				}
			}
		}
		took = time.Since(t0)
		return verify(h, want, "one call per rule")
	})
	return took, err
}

// reconcilerApply times our reconciler's apply of want to an empty table
// and counts its netlink writes.
func (b *bench) reconcilerApply(want table.Table) (took time.Duration, writes uint64, err error) {
	err = b.scratch(func(h *kernel.Handle) error {
		rec, err := b.reconciler(h)
		if err != nil {
			return err
		}
		w0 := h.Writes()
		t0 := time.Now()
		if _, err := rec.Apply(context.Background(), want); err != nil {
			return fmt.Errorf("apply from empty: %w", err)
		}
		took, writes = time.Since(t0), h.Writes()-w0
		return verify(h, want, "our apply")
	})
	return took, writes, err
}

// ipvsadmRestore times ipvsadm -R of save (want in ipvsadm-save form) into
// an empty table: the peer.
func (b *bench) ipvsadmRestore(want table.Table, save []byte) (took time.Duration, err error) {
	err = b.scratch(func(h *kernel.Handle) error {
		cmd := exec.Command(b.ipvsadm, "-R")
		cmd.Stdin = bytes.NewReader(save)
		var cerr bytes.Buffer
		cmd.Stderr = &cerr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("ipvsadm -R: %w: %s", err, cerr.String())
		}
		took = time.Since(t0)
		return verify(h, want, "ipvsadm -R")
	})
	return took, err
}

// writeCounts programs want through h, then judges a daemon restarting
// on the matching table (goal 0 writes; its full read and diff timed), the
// full read against "ipvsadm -Sn" (goal <= 1.0x) and "lbctl status -n
// --kernel", a reload with one weight changed (goal 1 write, 2 reads, <=
// 50 ms) and a resync after a destination deleted behind the reconciler's
// back (goal 1 write).
func (b *bench) writeCounts(h *kernel.Handle, want table.Table) error {
	for _, err := range h.WriteBatch(createOps(want)) {
		if err != nil {
			return fmt.Errorf("set up: %w", err)
		}
	}
	if err := verify(h, want, "setup"); err != nil {
		return err
	}
	// A daemon starting on a matching table, as after kill -9 and a
	// restart: a new handle and reconciler must adopt it without a write.
	h2, err := kernel.Open()
	if err != nil {
		return err
	}
	defer h2.Close()
	rec, err := b.reconciler(h2)
	if err != nil {
		return err
	}
	r0 := h2.Reads()
	t0 := time.Now()
	if _, err := rec.Apply(context.Background(), want); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	took := time.Since(t0)
	n := h2.Writes()
	b.sheet.Check(n == 0, "restart on a matching table: %d writes (goal 0), %d reads, read and diff took %.3fs",
		n, h2.Reads()-r0, took.Seconds())
	if err := b.fullRead(h2, want); err != nil {
		return err
	}
	changed, err := b.reloadOneWeight(h2, rec, want)
	if err != nil {
		return err
	}
	return b.resyncAfterDelete(h, h2, rec, changed)
}

// fullRead times, o.runs times each in turn, the handle's read of the
// whole table, "ipvsadm -Sn" and "lbctl status -n --kernel" (both to
// /dev/null), prints the medians and judges the ratio ours / ipvsadm -Sn.
func (b *bench) fullRead(h *kernel.Handle, want table.Table) error {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	lbctl, lerr := exec.LookPath("lbctl")
	var ours, save, status []cpuTimes
	var reads uint64
	for i := 0; i < b.o.runs; i++ {
		r0 := h.Reads()
		var got table.Table
		ct, err := timeSelf(func() (err error) {
			got, err = table.Read(h)
			return err
		})
		if err != nil {
			return fmt.Errorf("full read: %w", err)
		}
		ours, reads = append(ours, ct), h.Reads()-r0
		if len(got.Services) != len(want.Services) {
			return fmt.Errorf("full read: %d services, want %d", len(got.Services), len(want.Services))
		}
		if ct, err = timeCommand(devnull, b.ipvsadm, "-Sn"); err != nil {
			return err
		}
		save = append(save, ct)
		if lerr == nil {
			if ct, err = timeCommand(devnull, lbctl, "status", "-n", "--kernel"); err != nil {
				return err
			}
			status = append(status, ct)
		}
	}
	oc, tc := medianTimes(ours), medianTimes(save)
	o, t := oc.wall, tc.wall
	fmt.Fprintf(b.out, "full read, lbd (kernel.Handle):     %s  %d netlink reads\n", oc, reads)
	fmt.Fprintf(b.out, "ipvsadm -Sn of the same table:      %s\n", tc)
	if lerr == nil {
		st := medianTimes(status)
		fmt.Fprintf(b.out, "lbctl status -n --kernel:           %s  (%.3fx ipvsadm -Sn)\n", st, st.wall.Seconds()/t.Seconds())
	} else {
		fmt.Fprintf(b.out, "lbctl status -n --kernel:           not measured (%v)\n", lerr)
	}
	b.sheet.Check(o <= t, "ratio full read lbd / ipvsadm -Sn: %.3f (goal <= 1.0)", o.Seconds()/t.Seconds())
	return nil
}

// cpuTimes is a measurement: wall clock, and the CPU time in user space
// and in the kernel (where a read's time goes).
type cpuTimes struct{ wall, user, sys time.Duration }

func (c cpuTimes) String() string {
	return fmt.Sprintf("%8.3fs  (CPU: user %.3fs, kernel %.3fs)", c.wall.Seconds(), c.user.Seconds(), c.sys.Seconds())
}

// medianTimes is the measurement of median wall time.
func medianTimes(ts []cpuTimes) cpuTimes {
	s := slices.Clone(ts)
	slices.SortFunc(s, func(a, b cpuTimes) int { return int(a.wall - b.wall) })
	return s[len(s)/2]
}

// timeSelf times f in this process (CPU of the whole process: the
// runtime's own threads count).
func timeSelf(f func() error) (cpuTimes, error) {
	var r0, r1 unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &r0)
	t0 := time.Now()
	err := f()
	wall := time.Since(t0)
	_ = unix.Getrusage(unix.RUSAGE_SELF, &r1)
	return cpuTimes{wall: wall, user: tvDiff(r1.Utime, r0.Utime), sys: tvDiff(r1.Stime, r0.Stime)}, err
}

func tvDiff(a, b unix.Timeval) time.Duration {
	return time.Duration(a.Nano() - b.Nano())
}

// timeCommand runs name args with stdout to out and returns how long it
// took.
func timeCommand(out *os.File, name string, args ...string) (cpuTimes, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout = out
	var cerr bytes.Buffer
	cmd.Stderr = &cerr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return cpuTimes{}, fmt.Errorf("%s %v: %w: %s", name, args, err, cerr.String())
	}
	return cpuTimes{wall: time.Since(t0), user: cmd.ProcessState.UserTime(), sys: cmd.ProcessState.SystemTime()}, nil
}

// reloadGoal is the most a reload changing one weight may take.
const reloadGoal = 50 * time.Millisecond

// reloadOneWeight applies want with one weight changed through rec (on
// h2), o.runs times with a new weight each, and judges the writes, reads
// and median latency; it returns the last table applied.
func (b *bench) reloadOneWeight(h2 *kernel.Handle, rec *director.Reconciler, want table.Table) (table.Table, error) {
	changed := want.Clone()
	var took []time.Duration
	var writes, reads uint64
	var res director.Result
	for i := 0; i < b.o.runs; i++ {
		changed.Services[len(changed.Services)/2].Destinations[0].Weight += 7
		w0, r0 := h2.Writes(), h2.Reads()
		t0 := time.Now()
		var err error
		if res, err = rec.Apply(context.Background(), changed); err != nil {
			return changed, fmt.Errorf("reload: %w", err)
		}
		took = append(took, time.Since(t0))
		writes, reads = max(writes, h2.Writes()-w0), max(reads, h2.Reads()-r0)
	}
	lat := median(took)
	b.sheet.Check(writes == 1 && reads == 2, "reload with one weight changed: %d writes (goal 1), %d reads (goal 2: the service and its destinations): %v",
		writes, reads, opStrings(res.Ops))
	b.sheet.Check(lat <= reloadGoal, "reload with one weight changed: %.1f ms, median of %d (goal <= %d ms)",
		float64(lat.Microseconds())/1000, len(took), reloadGoal.Milliseconds())
	return changed, verify(h2, changed, "reload")
}

// resyncAfterDelete deletes a destination through h, behind rec's back,
// and judges the writes of rec's resync (on h2).
func (b *bench) resyncAfterDelete(h, h2 *kernel.Handle, rec *director.Reconciler, changed table.Table) error {
	victim := changed.Services[0]
	if err := h.RemoveDestination(victim, victim.Destinations[0]); err != nil {
		return err
	}
	w0 := h2.Writes()
	res, err := rec.Resync(context.Background())
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	n := h2.Writes() - w0
	b.sheet.Check(n == 1 && len(res.Ops) == 1 && res.Ops[0].Kind == table.OpCreateDest,
		"resync after a hand-deleted destination: %d writes (goal 1): %v", n, opStrings(res.Ops))
	return verify(h2, changed, "resync")
}

func createOps(t table.Table) []table.Op {
	return table.Diff(t, table.Table{}, table.DiffOptions{})
}

// verify checks that the kernel holds exactly want.
func verify(h *kernel.Handle, want table.Table, after string) error {
	got, err := table.Read(h)
	if err != nil {
		return err
	}
	if ops := table.Diff(want, got, table.DiffOptions{Purge: true}); len(ops) > 0 {
		return fmt.Errorf("after %s the kernel differs from the table asked for (%d writes needed, first: %s)", after, len(ops), ops[0])
	}
	return nil
}

func opStrings(ops []table.Op) []string {
	var s []string
	for _, op := range ops {
		s = append(s, op.String())
	}
	return s
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// buildTable makes the benchmark table: services TCP 10.100.x.y:80 (wrr),
// destinations 10.200.j.k with weights 1..M.
func buildTable(o options) table.Table {
	var t table.Table
	fwd := table.ForwardRoute
	switch o.forward {
	case "nat":
		fwd = table.ForwardMasq
	case "tun":
		fwd = table.ForwardTunnel
	}
	for i := 0; i < o.services; i++ {
		vip := netip.AddrFrom4([4]byte{10, 100, byte(i / 250), byte(i%250 + 1)})
		s := table.Service{
			ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP, Address: vip, Port: 80},
			Scheduler:  "wrr",
			Netmask:    table.FullNetmask(table.FamilyIPv4),
		}
		for j := 0; j < o.dests; j++ {
			rip := netip.AddrFrom4([4]byte{10, 200, byte(j), byte(i%250 + 1)})
			port := uint16(80)
			if fwd == table.ForwardMasq {
				port = uint16(8080 + i/250)
			}
			s.Destinations = append(s.Destinations, table.Destination{
				Address: rip, Port: port, Family: table.FamilyIPv4, Forward: fwd, Weight: uint32(j + 1),
			})
		}
		t.Services = append(t.Services, s)
	}
	return t
}
