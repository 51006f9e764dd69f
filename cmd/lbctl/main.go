// Command lbctl is the CLI of lbd: "lbctl status" prints the IPVS table
// exactly like "ipvsadm -L" (with -n like "ipvsadm -ln"), plus, with
// --health, the VRRP state, each real server's configured, desired and
// kernel weight, and each health check's state, last result and reason.
// It asks lbd over its control socket and, when lbd is not running, reads
// the kernel directly for the table views. "lbctl reload" and
// "lbctl resync" ask lbd to reload its configuration or repair the table.
//
// It imports director/control (the API), director/table (the printer) and
// director/kernel (the direct read), nothing of the daemon itself; and
// internal/kaconf for "lbctl import-keepalived" (import.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/kernel"
	"github.com/lvsd/lb/director/table"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, systemEnv()))
}

// env is what lbctl needs from the outside world.
type env struct {
	// status asks lbd at the socket path.
	status func(ctx context.Context, socket string) (control.Status, error)
	reload func(ctx context.Context, socket string) (control.ReloadResult, error)
	resync func(ctx context.Context, socket string) (control.ApplyResult, error)
	// kernel reads the kernel directly.
	kernel func() (kernelView, error)
	// conns reads /proc/net/ip_vs_conn.
	conns func() ([]table.Conn, error)
	// resolver names addresses and ports without -n.
	resolver func() table.Resolver
	// now is the clock for "Ns ago"; nil: time.Now.
	now func() time.Time
}

// kernelView is what lbctl shows from a direct kernel read.
type kernelView struct {
	ipvs control.IPVS
}

func systemEnv() env {
	return env{
		status: func(ctx context.Context, s string) (control.Status, error) { return control.NewClient(s).Status(ctx) },
		reload: func(ctx context.Context, s string) (control.ReloadResult, error) {
			return control.NewClient(s).Reload(ctx)
		},
		resync: func(ctx context.Context, s string) (control.ApplyResult, error) {
			return control.NewClient(s).Resync(ctx)
		},
		kernel: readKernel,
		conns:  func() ([]table.Conn, error) { return kernel.ReadConns("") },
		resolver: func() table.Resolver {
			return table.NewSystemResolver()
		},
	}
}

func readKernel() (kernelView, error) {
	h, err := kernel.Open()
	if err != nil {
		return kernelView{}, err
	}
	defer h.Close()
	var v kernelView
	if v.ipvs.Info, err = h.Info(); err != nil {
		return v, err
	}
	if v.ipvs.Table, err = table.Read(h); err != nil {
		return v, err
	}
	if v.ipvs.Timeouts, err = h.Timeouts(); err != nil {
		return v, err
	}
	if v.ipvs.Daemons, err = h.Daemons(); err != nil {
		return v, err
	}
	return v, nil
}

const usage = `usage: lbctl [-s SOCKET] COMMAND [options]

commands:
  status   print the IPVS table like "ipvsadm -L" (-n: like "ipvsadm -ln")
             -n                 numeric addresses and ports
             --stats --rate --thresholds --persistent-conn --tun-info --exact --nosort
                                the same views as ipvsadm
             -c                 connections (/proc/net/ip_vs_conn)
             --timeout          IPVS timeouts
             --daemon           sync daemons
             --health           after the table: VRRP, each real server's weights
                                and each health check's state and last result
             --json             lbd's full status as JSON
             --kernel           do not ask lbd: read the kernel only
  save     print the table like "ipvsadm -S" (-n numeric, --kernel)
  reload   ask lbd to reload its configuration
  resync   ask lbd to repair the IPVS table now
  genhash URL [--virtualhost H] [--connect-ip IP] [--verify]
           print the status, headers and MD5SUM of URL (keepalived --genhash)
  import-keepalived [-o FILE] [--strict] KEEPALIVED.CONF
           convert a keepalived configuration into lbd.yaml
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, e env) int {
	global := flag.NewFlagSet("lbctl", flag.ContinueOnError)
	global.SetOutput(stderr)
	global.Usage = func() { fmt.Fprint(stderr, usage) }
	socket := global.String("s", control.DefaultSocket, "control socket of lbd")
	if err := global.Parse(args); err != nil {
		return 2
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := rest[0], rest[1:]
	switch cmd {
	case "status", "list", "ls":
		return status(ctx, rest, *socket, stdout, stderr, e, false)
	case "save":
		return status(ctx, rest, *socket, stdout, stderr, e, true)
	case "reload":
		return action(ctx, "reload", rest, *socket, stdout, stderr, func(ctx context.Context, s string) (any, error) {
			return e.reload(ctx, s)
		})
	case "resync":
		return action(ctx, "resync", rest, *socket, stdout, stderr, func(ctx context.Context, s string) (any, error) {
			return e.resync(ctx, s)
		})
	case "import-keepalived":
		return importKeepalived(ctx, rest, stdout, stderr)
	case "genhash":
		return genhash(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "lbctl: unknown command %q\n%s", cmd, usage)
	return 2
}

type statusFlags struct {
	numeric, stats, rate, thresholds, persistent, tunInfo, exact, nosort bool
	conns, timeout, daemon, health, json, kernelOnly                     bool
}

func status(ctx context.Context, args []string, socket string, stdout, stderr io.Writer, e env, save bool) int {
	fs := flag.NewFlagSet("lbctl status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	var f statusFlags
	fs.StringVar(&socket, "s", socket, "control socket of lbd")
	fs.BoolVar(&f.numeric, "n", false, "numeric output")
	if !save {
		fs.BoolVar(&f.stats, "stats", false, "statistics")
		fs.BoolVar(&f.rate, "rate", false, "rates")
		fs.BoolVar(&f.thresholds, "thresholds", false, "thresholds")
		fs.BoolVar(&f.persistent, "persistent-conn", false, "persistent connections")
		fs.BoolVar(&f.tunInfo, "tun-info", false, "tunnel information")
		fs.BoolVar(&f.exact, "exact", false, "exact numbers")
		fs.BoolVar(&f.nosort, "nosort", false, "kernel order")
		fs.BoolVar(&f.conns, "c", false, "connections")
		fs.BoolVar(&f.timeout, "timeout", false, "timeouts")
		fs.BoolVar(&f.daemon, "daemon", false, "sync daemons")
		fs.BoolVar(&f.health, "health", false, "VRRP and real-server health after the table")
		fs.BoolVar(&f.json, "json", false, "JSON")
	}
	fs.BoolVar(&f.kernelOnly, "kernel", false, "read the kernel only")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbctl: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	// ipvsadm's own rule for the list command.
	if (f.conns || f.timeout || f.daemon) && (f.stats || f.rate || f.thresholds) ||
		(f.timeout || f.daemon) && f.persistent {
		fmt.Fprintln(stderr, "lbctl: options conflicts in the list command")
		return 2
	}

	format := table.Format(0)
	for _, b := range []struct {
		on bool
		f  table.Format
	}{{f.numeric, table.FormatNumeric}, {f.stats, table.FormatStats}, {f.rate, table.FormatRate},
		{f.thresholds, table.FormatThresholds}, {f.persistent, table.FormatPersistentConn},
		{f.tunInfo, table.FormatTunInfo}, {f.exact, table.FormatExact}, {f.nosort, table.FormatNoSort}} {
		if b.on {
			format |= b.f
		}
	}
	var res table.Resolver
	if !f.numeric {
		res = e.resolver()
	}

	if f.conns && !f.json && !f.health {
		// Connections come from /proc of this host: no need for lbd.
		conns, err := e.conns()
		if err != nil {
			fmt.Fprintf(stderr, "lbctl: %v\n", err)
			return 1
		}
		return writeOut(stderr, table.WriteConns(stdout, conns, format, res))
	}

	st, running, code := fetch(ctx, socket, f.kernelOnly, stderr, e)
	if code != 0 {
		return code
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return writeOut(stderr, enc.Encode(st))
	}
	var err error
	switch {
	case save:
		err = table.WriteSave(stdout, st.IPVS.Table, format, res)
	case f.conns:
		var conns []table.Conn
		if conns, err = e.conns(); err == nil {
			err = table.WriteConns(stdout, conns, format, res)
		}
	case f.timeout:
		err = table.WriteTimeouts(stdout, st.IPVS.Timeouts)
	case f.daemon:
		err = table.WriteDaemons(stdout, st.IPVS.Daemons)
	default:
		err = table.WriteList(stdout, st.IPVS.Info, st.IPVS.Table, format, res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	if f.health {
		if !running {
			fmt.Fprintln(stderr, "lbctl: no health or VRRP state: lbd is not running")
			return 0
		}
		now := time.Now
		if e.now != nil {
			now = e.now
		}
		return writeOut(stderr, writeHealth(stdout, st, now()))
	}
	return 0
}

// fetch gets the status from lbd, or the kernel's table when lbd is not
// there (saying so on stderr). running reports whether lbd answered.
func fetch(ctx context.Context, socket string, kernelOnly bool, stderr io.Writer, e env) (st control.Status, running bool, code int) {
	if !kernelOnly {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := e.status(cctx, socket)
		cancel()
		if err == nil {
			if st.IPVS.Error != "" {
				fmt.Fprintf(stderr, "lbctl: lbd could not read the IPVS table: %s\n", st.IPVS.Error)
				if len(st.IPVS.Table.Services) == 0 && st.IPVS.Info == (table.Info{}) {
					return st, true, 1
				}
			}
			return st, true, 0
		}
		if errors.Is(err, control.ErrNotRunning) {
			fmt.Fprintf(stderr, "lbctl: %v: showing the kernel table only\n", err)
		} else {
			fmt.Fprintf(stderr, "lbctl: cannot ask lbd (%v): showing the kernel table only\n", err)
		}
	}
	kv, err := e.kernel()
	if err != nil {
		if kernel.IsUnavailable(err) {
			fmt.Fprintf(stderr, "lbctl: cannot read the IPVS table: IPVS is not available in this kernel (%v)\n", err)
		} else {
			fmt.Fprintf(stderr, "lbctl: cannot read the IPVS table: %v\n", err)
		}
		return control.Status{}, false, 1
	}
	return control.Status{IPVS: kv.ipvs}, false, 0
}

func writeOut(stderr io.Writer, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %v\n", err)
		return 1
	}
	return 0
}

func action(ctx context.Context, name string, args []string, socket string, stdout, stderr io.Writer,
	do func(ctx context.Context, socket string) (any, error)) int {
	fs := flag.NewFlagSet("lbctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&socket, "s", socket, "control socket of lbd")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	res, err := do(ctx, socket)
	if *asJSON && res != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else if res != nil {
		printAction(stdout, res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lbctl: %s: %v\n", name, err)
		return 1
	}
	return 0
}

func printAction(w io.Writer, res any) {
	var ar *control.ApplyResult
	switch r := res.(type) {
	case control.ReloadResult:
		if r.ConfigFile != "" {
			fmt.Fprintf(w, "reloaded %s\n", r.ConfigFile)
		}
		for _, c := range r.Changes {
			fmt.Fprintf(w, "  %s\n", c)
		}
		ar = r.Apply
	case control.ApplyResult:
		ar = &r
	}
	if ar == nil {
		return
	}
	fmt.Fprintf(w, "%s: %d writes in %s\n", ar.Kind, ar.Writes, ar.Took.Round(time.Microsecond))
	for _, op := range ar.Ops {
		fmt.Fprintf(w, "  ipvsadm %s\n", op)
	}
	for _, op := range ar.Failed {
		fmt.Fprintf(w, "  FAILED ipvsadm %s\n", op)
	}
	for _, op := range ar.Pending {
		fmt.Fprintf(w, "  PENDING ipvsadm %s\n", op)
	}
}

// dropsStr lists the non-zero drop counts as reason=count sorted by
// reason, or "none".
func dropsStr(drops map[string]uint64) string {
	reasons := make([]string, 0, len(drops))
	for r, n := range drops {
		if n != 0 {
			reasons = append(reasons, r)
		}
	}
	if len(reasons) == 0 {
		return "none"
	}
	sort.Strings(reasons)
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s=%d", r, drops[r])
	}
	return strings.Join(parts, " ")
}

// writeHealth prints what ipvsadm cannot show: VRRP instances, quorum,
// each real server's configured, desired and kernel weight and why they
// differ, and each health check's state and last result (ages counted
// from now).
func writeHealth(w io.Writer, st control.Status, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "VRRP instances")
	if len(st.VRRP) == 0 {
		fmt.Fprintln(tw, "  (none)")
	} else {
		fmt.Fprintln(tw, "  Name\tInterface\tVRID\tState\tPriority\tSince\tVIPs\tReason")
		for _, v := range st.VRRP {
			since := "-"
			if !v.Since.IsZero() {
				since = v.Since.Format(time.RFC3339)
			}
			prio := fmt.Sprint(v.EffectivePriority)
			if v.EffectivePriority != v.Priority {
				prio = fmt.Sprintf("%d (configured %d)", v.EffectivePriority, v.Priority)
			}
			// Only a master holds its VIPs; say so rather than list
			// addresses this director does not have.
			vips := strings.Join(v.VIPs, ",")
			if v.State != "MASTER" && vips != "" {
				vips = "not held: " + vips
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.Interface, v.VRID, v.State, prio, since,
				vips, v.Reason)
		}
		// Counters go under the table: a line without cells inside it
		// would break the tabwriter's column alignment.
		for _, v := range st.VRRP {
			fmt.Fprintf(tw, "  %s: adverts sent=%d received=%d; drops: %s\n", v.Name, v.AdvertsSent, v.AdvertsReceived,
				dropsStr(v.Drops))
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "Real servers (weights: configured / desired / kernel)")
	if len(st.RealServers) == 0 {
		fmt.Fprintln(tw, "  (none)")
	} else {
		fmt.Fprintln(tw, "  Service\tRemoteAddress:Port\tHealth\tConfigured\tDesired\tKernel\tReason")
		for _, rs := range st.RealServers {
			health := "up"
			if !rs.Up {
				health = "down"
			}
			if rs.Sorry {
				health = "sorry"
			}
			reason := rs.Reason
			if !weightEq(rs.DesiredWeight, rs.KernelWeight) {
				if reason != "" {
					reason += "; "
				}
				reason += "kernel differs from desired (resync pending)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\t%s\n", rs.Service, addrPort(rs), health, rs.ConfiguredWeight,
				weightStr(rs.DesiredWeight), weightStr(rs.KernelWeight), reason)
		}
	}
	if len(st.Checks) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "Checks")
		fmt.Fprintln(tw, "  Service\tRemoteAddress:Port\tCheck\tState\tLast result\tTook\tLast at\tReason")
		for _, c := range st.Checks {
			state := "up"
			if !c.Up {
				state = "down"
			}
			result, took, at := "-", "-", "never"
			if !c.LastCheck.IsZero() {
				result, took, at = c.Result, tookStr(c.Duration), agoStr(now.Sub(c.LastCheck))
			}
			if c.InFlight {
				at += " (checking)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Service, hostPort(c.Address, c.Port), c.Check, state,
				result, took, at, oneLine(c.Reason))
		}
	}
	if len(st.Services) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "Quorum")
		fmt.Fprintln(tw, "  Service\tLive weight\tQuorum\tState")
		for _, q := range st.Services {
			state := "up"
			if !q.QuorumUp {
				state = "lost"
				if q.SorryActive {
					state += " (sorry server serving)"
				}
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\n", q.Service, q.LiveWeight, q.Quorum, state)
		}
	}
	if ipvs := st.IPVS; !ipvs.InSync && len(ipvs.Pending) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "Pending IPVS writes (the kernel differs from the desired table)")
		for _, p := range ipvs.Pending {
			fmt.Fprintf(tw, "  ipvsadm %s\n", p)
		}
	}
	return tw.Flush()
}

func addrPort(rs control.RealServer) string {
	return hostPort(rs.Address, rs.Port)
}

func hostPort(a netip.Addr, port uint16) string {
	if a.Is4() {
		return fmt.Sprintf("%s:%d", a, port)
	}
	return fmt.Sprintf("[%s]:%d", a, port)
}

// tookStr is a check's duration, to the microsecond under a second and to
// the millisecond above.
func tookStr(d time.Duration) string {
	if d >= time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// agoStr is the age of a result: "0.4s ago", "12s ago", "3m5s ago".
func agoStr(d time.Duration) string {
	switch {
	case d < 0:
		return "just now" // lbd's clock is ahead of ours
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs ago", d.Seconds())
	}
	return d.Truncate(time.Second).String() + " ago"
}

// oneLine keeps a reason on its row: a tab or a newline (a script's
// output, a server's status line) would break the table's columns.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func weightStr(w *uint32) string {
	if w == nil {
		return "-"
	}
	return fmt.Sprint(*w)
}

func weightEq(a, b *uint32) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
