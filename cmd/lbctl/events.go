package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
)

// eventsFlags are the flags of "lbctl events" (also for its man page);
// -s sets *socket.
type eventsFlags struct {
	fs             *flag.FlagSet
	asJSON, follow *bool
	since          *uint64
}

func newEventsFlags(socket *string, stderr io.Writer) eventsFlags {
	fs := flag.NewFlagSet("lbctl events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(socket, "s", *socket, "control socket of lbd")
	ef := eventsFlags{fs: fs,
		asJSON: fs.Bool("json", false, "one JSON object per line"),
		since:  fs.Uint64("since", 0, "only the events after this sequence number"),
		follow: fs.Bool("follow", false, "go on with each new event until interrupted"),
	}
	fs.BoolVar(ef.follow, "f", false, "same as --follow")
	return ef
}

// eventsCmd is "lbctl events [--json] [--since N] [--follow]": lbd's event
// history (VRRP and check transitions, IPVS applies, reloads, discovery),
// oldest first; --follow goes on with each new event until interrupted.
// --json prints each event as one JSON object per line, with its seq;
// --since N resumes after event N. A gap marker says how many events this
// reader missed (it fell behind the history lbd keeps).
func eventsCmd(ctx context.Context, args []string, socket string, stdout, stderr io.Writer, e env) int {
	ef := newEventsFlags(&socket, stderr)
	fs, asJSON, since, follow := ef.fs, ef.asJSON, ef.since, ef.follow
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lbctl events: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	enc := json.NewEncoder(stdout)
	err := e.events(ctx, socket, *since, *follow, func(ev events.Event) error {
		if *asJSON {
			return enc.Encode(ev)
		}
		_, err := io.WriteString(stdout, eventLine(ev))
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "lbctl: events: %v\n", err)
		return 1
	}
	return 0
}

// eventLine is an event as one line of text: seq, time, kind, subject,
// message, then the fields not already said, sorted.
func eventLine(e events.Event) string {
	if e.Kind == events.KindGap {
		return fmt.Sprintf("%d -- %d events missed: this reader fell behind lbd's history --\n", e.Seq, e.Missed)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %-9s", e.Seq, e.Time.Local().Format(time.RFC3339Nano), e.Kind)
	if e.Subject != "" {
		b.WriteString(" " + e.Subject + ":")
	}
	b.WriteString(" " + e.Message)
	keys := make([]string, 0, len(e.Fields))
	for k, v := range e.Fields {
		if !strings.Contains(e.Message, v) && !strings.Contains(e.Subject, v) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, e.Fields[k])
	}
	b.WriteByte('\n')
	return b.String()
}

func systemEvents(ctx context.Context, socket string, since uint64, follow bool, fn func(events.Event) error) error {
	return control.NewClient(socket).Events(ctx, since, follow, fn)
}
