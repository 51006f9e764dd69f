package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/vrrp"
)

// The running daemon's events over the control socket, in order: the
// start's IPVS writes and the start, a check going down with the failing detail, the real server going
// down, the IPVS write that takes it out, and a reload with its result;
// a dry run is not a reload and records none.
func TestDaemonEvents(t *testing.T) {
	f := start(t, false)
	waitFor(t, "table programmed", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1})
	})
	backends[0].fail.Store(true)
	waitFor(t, "server 1 removed", func() bool { return eqDests(f.dests(), map[string]uint32{"198.51.100.2": 1}) })
	cl := control.NewClient(f.sock)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Reload(ctx, control.ReloadRequest{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Reload(ctx, control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	var got []events.Event
	err := cl.Events(ctx, 0, true, func(e events.Event) error {
		got = append(got, e)
		if e.Kind == events.KindReload {
			return errors.New("done")
		}
		return nil
	})
	if err == nil || err.Error() != "done" {
		t.Fatalf("events: %v; got %+v", err, got)
	}
	want := []struct{ kind, has string }{
		{events.KindIPVS, "3 IPVS writes on start: -A -t 192.0.2.10:80 -s rr; -a -t 192.0.2.10:80 -r 198.51.100.1:80 -g -w 3"},
		{events.KindDaemon, "lbd started"},
		{events.KindCheck, "check down: GET /health: status 500 not in 200-299"},
		{events.KindHealth, "real server down"},
		{events.KindIPVS, "-d -t 192.0.2.10:80 -r 198.51.100.1:80"},
		{events.KindReload, "reload applied"},
	}
	i := 0
	var last uint64
	for _, e := range got {
		if e.Seq <= last {
			t.Errorf("seq %d after %d", e.Seq, last)
		}
		last = e.Seq
		if i < len(want) && e.Kind == want[i].kind && strings.Contains(e.Message, want[i].has) {
			i++
		}
	}
	if i < len(want) {
		var b strings.Builder
		for _, e := range got {
			b.WriteString(e.Kind + " " + e.Subject + ": " + e.Message + "\n")
		}
		t.Errorf("missing in order: %s %q; events:\n%s", want[i].kind, want[i].has, b.String())
	}
	reloads := 0
	for _, e := range got {
		if e.Kind == events.KindReload {
			reloads++
		}
	}
	if reloads != 1 {
		t.Errorf("%d reload events, want 1 (the dry run is none)", reloads)
	}
}

func TestVRRPReason(t *testing.T) {
	tests := []struct {
		from, to vrrp.State
		status   string
		want     string
	}{
		{vrrp.StateInit, vrrp.StateBackup, "", "started"},
		{vrrp.StateBackup, vrrp.StateMaster, "", "no better master heard within the master down interval, or preempting a lower priority"},
		{vrrp.StateMaster, vrrp.StateBackup, "priority 200 -> 50 by tracking", "a master with a higher priority (or the same, higher address) advertises; priority 200 -> 50 by tracking"},
		{vrrp.StateMaster, vrrp.StateFault, "fault: a tracked interface, script, process or file is down", "fault: a tracked interface, script, process or file is down"},
		{vrrp.StateFault, vrrp.StateBackup, "", "fault cleared"},
		{vrrp.StateMaster, vrrp.StateStopped, "", "stopped (reload or shutdown)"},
	}
	for _, tt := range tests {
		if got := vrrpReason(tt.from, tt.to, tt.status); got != tt.want {
			t.Errorf("%s -> %s (%q): %q, want %q", tt.from, tt.to, tt.status, got, tt.want)
		}
	}
}
