package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/events"
)

func TestEventsCommand(t *testing.T) {
	at := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	held := []events.Event{
		{Seq: 7, Time: at, Kind: events.KindVRRP, Subject: "VI_1", Message: "BACKUP -> MASTER: no better master heard",
			Fields: map[string]string{"to": "MASTER", "priority": "150"}},
		{Seq: 9, Kind: events.KindGap, Missed: 1},
		{Seq: 10, Time: at, Kind: events.KindCheck, Subject: "TCP 10.0.0.1:80 10.1.0.1:80 http#0", Message: "check down: status 500 not in 200-299"},
	}
	tests := []struct {
		name  string
		args  []string
		since uint64
		check func(t *testing.T, out string)
	}{
		{name: "text", args: []string{"events"}, check: func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "7 ") || !strings.Contains(lines[0], "vrrp      VI_1: BACKUP -> MASTER: no better master heard") ||
				!strings.Contains(lines[0], `priority="150"`) || strings.Contains(lines[0], `to="MASTER"`) ||
				lines[1] != "9 -- 1 events missed: this reader fell behind lbd's history --" ||
				!strings.HasSuffix(lines[2], "check     TCP 10.0.0.1:80 10.1.0.1:80 http#0: check down: status 500 not in 200-299") {
				t.Errorf("text:\n%s", out)
			}
		}},
		{name: "json since", args: []string{"events", "--json", "--since", "6", "--follow"}, since: 6, check: func(t *testing.T, out string) {
			var last uint64
			for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				var e events.Event
				if err := json.Unmarshal([]byte(l), &e); err != nil || e.Seq <= last {
					t.Errorf("line %q: %v (seq after %d)", l, err, last)
				}
				last = e.Seq
			}
			if last != 10 {
				t.Errorf("last seq %d", last)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEnv{running: true}
			e := f.env()
			var gotSince uint64
			var gotFollow bool
			e.events = func(_ context.Context, _ string, since uint64, follow bool, fn func(events.Event) error) error {
				gotSince, gotFollow = since, follow
				for _, ev := range held {
					if err := fn(ev); err != nil {
						return err
					}
				}
				return nil
			}
			var out, errb bytes.Buffer
			if code := run(context.Background(), tt.args, &out, &errb, e); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if gotSince != tt.since || gotFollow != strings.Contains(strings.Join(tt.args, " "), "--follow") {
				t.Errorf("asked since %d follow %v", gotSince, gotFollow)
			}
			tt.check(t, out.String())
		})
	}
}
