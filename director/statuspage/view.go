package statuspage

import (
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/director/table"
)

// Page is what the template renders.
type Page struct {
	Now      time.Time
	Daemon   control.DaemonInfo
	Uptime   string
	VRRPOnly bool
	IPVSErr  string
	// LastReload is the last reload's event ("reload applied: 3 changes").
	LastReload *events.Event
	VRRP       []VRRPRow
	Services   []ServiceView
	Sync       []string
	InSync     bool
	Pending    int
	Discovery  []control.Discovery
	// Events are the recent events, newest first; LastSeq the newest's.
	Events  []events.Event
	LastSeq uint64
	// Admin is whether the admin actions are on (the buttons show).
	Admin bool
}

// VRRPRow is one VRRP instance.
type VRRPRow struct {
	control.VRRPInstance
	State string // css class: master, backup, fault, other
	Age   string
}

// ServiceView is one virtual service and its real servers.
type ServiceView struct {
	Key       string
	Scheduler string
	Quorum    *control.ServiceQuorum
	State     string // css class: up (quorum up), down
	Servers   []ServerRow
	CPS       uint64
	Active    uint32
	Inactive  uint32
}

// ServerRow is one real server.
type ServerRow struct {
	Addr string
	// State is the row's css class: up, down, weight0, absent, draining,
	// maintenance, slowstart (the operator's overrides and slow start
	// first, as in control status).
	State      string
	Label      string
	Configured uint32
	Desired    string
	Kernel     string
	Active     uint32
	Inactive   uint32
	CPS        uint64
	InBPS      uint64
	OutBPS     uint64
	Reason     string
	Source     string
	Sorry      bool
	Checks     []CheckRow
	// Override is the operator's (drain, maintenance) or "".
	Override string
}

// CheckRow is one check of a real server.
type CheckRow struct {
	Label    string
	State    string // up, down
	Result   string
	Reason   string
	Duration string
	Age      string
}

// build reads the status and the recent events into the page.
func (h *Handler) build(ctx context.Context) Page {
	st := h.src.Status(ctx)
	var evs []events.Event
	if l := h.src.Events(); l != nil {
		evs = recent(l, RecentEvents)
	}
	return Build(st, evs, h.now())
}

// Build makes the page of a status and its recent events (oldest first)
// at now. Pure.
func Build(st control.Status, evs []events.Event, now time.Time) Page {
	p := Page{Now: now, Daemon: st.Daemon, VRRPOnly: st.IPVS.VRRPOnly, IPVSErr: st.IPVS.Error,
		InSync: st.IPVS.InSync, Pending: len(st.IPVS.Pending), Discovery: st.Discovery}
	if !st.Daemon.Started.IsZero() {
		p.Uptime = age(now, st.Daemon.Started)
	}
	for _, in := range st.VRRP {
		p.VRRP = append(p.VRRP, VRRPRow{VRRPInstance: in, State: vrrpClass(in.State), Age: age(now, in.Since)})
	}
	for _, d := range st.IPVS.Daemons {
		p.Sync = append(p.Sync, fmt.Sprintf("%s on %s, syncid %d", d.State, d.Interface, d.SyncID))
	}
	p.Services = services(st, now)
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		p.Events = append(p.Events, e)
		if e.Kind == events.KindReload && p.LastReload == nil {
			p.LastReload = &evs[i]
		}
	}
	if len(evs) > 0 {
		p.LastSeq = evs[len(evs)-1].Seq
	}
	return p
}

func vrrpClass(s string) string {
	switch s {
	case "MASTER":
		return "master"
	case "BACKUP":
		return "backup"
	case "FAULT":
		return "fault"
	}
	return "other"
}

type destKey struct {
	svc  table.ServiceKey
	addr netip.Addr
	port uint16
}

// services groups the real servers by service, in the kernel's order of
// services then the status's, with the kernel's counters and the checks.
func services(st control.Status, now time.Time) []ServiceView {
	kern := map[destKey]table.Destination{}
	scheds := map[table.ServiceKey]string{}
	for _, s := range st.IPVS.Table.Services {
		scheds[s.Key()] = s.Scheduler
		for _, d := range s.Destinations {
			kern[destKey{s.Key(), d.Address, d.Port}] = d
		}
	}
	checks := map[destKey][]CheckRow{}
	for _, c := range st.Checks {
		k := destKey{c.Service, c.Address, c.Port}
		checks[k] = append(checks[k], checkRow(c, now))
	}
	var out []ServiceView
	index := map[table.ServiceKey]int{}
	get := func(k table.ServiceKey) *ServiceView {
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, ServiceView{Key: k.String(), Scheduler: scheds[k], State: "up"})
		}
		return &out[i]
	}
	for i := range st.Services {
		q := st.Services[i]
		sv := get(q.Service)
		sv.Quorum = &q
		if !q.QuorumUp {
			sv.State = "down"
		}
	}
	for _, rs := range st.RealServers {
		sv := get(rs.Service)
		k := destKey{rs.Service, rs.Address, rs.Port}
		row := serverRow(rs, checks[k])
		if d, ok := kern[k]; ok {
			row.Active, row.Inactive, row.CPS, row.InBPS, row.OutBPS = d.ActiveConns, d.InactConns, d.Stats.CPS, d.Stats.InBPS, d.Stats.OutBPS
			sv.Active += d.ActiveConns
			sv.Inactive += d.InactConns
			sv.CPS += d.Stats.CPS
		}
		sv.Servers = append(sv.Servers, row)
	}
	return out
}

func serverRow(rs control.RealServer, checks []CheckRow) ServerRow {
	row := ServerRow{Addr: netip.AddrPortFrom(rs.Address, rs.Port).String(), Configured: rs.ConfiguredWeight,
		Desired: weight(rs.DesiredWeight), Kernel: weight(rs.KernelWeight), Reason: rs.Reason, Source: rs.Source,
		Sorry: rs.Sorry, Checks: checks, Override: rs.Override}
	since := ""
	if !rs.OverrideSince.IsZero() {
		since = " since " + rs.OverrideSince.UTC().Format("15:04:05")
	}
	switch {
	case rs.State == "maintenance":
		row.State, row.Label = "maintenance", "maintenance"+since
	case rs.State == "draining":
		row.State, row.Label = "draining", "draining"+since
	case !rs.Up:
		row.State, row.Label = "down", "down"
	case rs.State == "slow-starting":
		row.State, row.Label = "slowstart", "slow start "+weight(rs.KernelWeight)+"/"+strconv.FormatUint(uint64(rs.ConfiguredWeight), 10)
	case rs.DesiredWeight == nil:
		row.State, row.Label = "absent", "out of the table"
	case *rs.DesiredWeight == 0:
		row.State, row.Label = "weight0", "weight 0"
	default:
		row.State, row.Label = "up", "up"
	}
	if rs.Sorry {
		row.Label = "sorry server: " + row.Label
	}
	return row
}

func weight(w *uint32) string {
	if w == nil {
		return "-"
	}
	return strconv.FormatUint(uint64(*w), 10)
}

func checkRow(c control.CheckStatus, now time.Time) CheckRow {
	r := CheckRow{Label: c.Check, State: "down", Result: c.Result, Reason: c.Reason, Duration: c.Duration.Round(time.Microsecond).String()}
	if c.Up {
		r.State = "up"
	}
	if !c.LastCheck.IsZero() {
		r.Age = age(now, c.LastCheck)
	}
	return r
}

// age is how long ago t was, e.g. "3s ago", "5m ago".
func age(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

var funcs = template.FuncMap{
	"rfc3339": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
	"fieldKeys": func(m map[string]string) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	},
}

func mustSub(dir string) fs.FS {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
