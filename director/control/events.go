package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/lvsd/lb/director/events"
)

// GET /v1/events?since=N[&follow=1]: the daemon's events after sequence
// number N (0: the whole history kept), one JSON object per line
// (application/x-ndjson), oldest first; with follow the answer stays open
// and each new event is written (and flushed) as it happens, until the
// client goes or lbd stops. The daemon never waits for a reader: one that
// falls behind the history gets a gap marker (kind "gap", missed N) in
// place of the events it lost. Followers are bounded (MaxFollowers);
// every write is under the socket's write timeout, so a reader that stops
// reading is cut.

// EventSource is the Daemon's optional event history.
type EventSource interface {
	Events() *events.Log
}

// MaxFollowers bounds the event streams followed at once (each holds one
// of the socket's connections).
const MaxFollowers = 16

// eventBatch is the most events written between two flushes.
const eventBatch = 1000

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	es, ok := s.cfg.Daemon.(EventSource)
	if !ok || es.Events() == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: "events are not available"})
		return
	}
	q := r.URL.Query()
	var since uint64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("since: not a sequence number: %q", v)})
			return
		}
		since = n
	}
	follow := q.Get("follow") == "1" || q.Get("follow") == "true"
	if follow {
		if s.followers.Add(1) > MaxFollowers {
			s.followers.Add(-1)
			writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: fmt.Sprintf("%d event streams already followed", MaxFollowers)})
			return
		}
		defer s.followers.Add(-1)
	}
	log := es.Events()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	for {
		evs := log.Read(since, 0)
		if follow {
			var err error
			if evs, err = log.Wait(r.Context(), since, eventBatch); err != nil {
				return // the client went, or lbd stops
			}
		}
		for _, e := range evs {
			if err := enc.Encode(e); err != nil {
				return
			}
			since = e.Seq
		}
		if !follow {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// Events reads the daemon's events after sequence number since and calls
// fn for each, in order; with follow it goes on with each new event until
// ctx ends (nil then), fn returns an error, or lbd closes the stream.
func (c *Client) Events(ctx context.Context, since uint64, follow bool, fn func(events.Event) error) error {
	url := "http://lbd/v1/events?since=" + strconv.FormatUint(since, 10)
	if follow {
		url += "&follow=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	hc := *c.hc
	hc.Timeout = 0 // a followed stream has no end; ctx ends it
	resp, err := hc.Do(req)
	if err != nil {
		if isNotRunning(err) {
			return fmt.Errorf("%w (%s)", ErrNotRunning, c.path)
		}
		return fmt.Errorf("lbd at %s: %w", c.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			return fmt.Errorf("lbd: %s", eb.Error)
		}
		return fmt.Errorf("lbd: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e events.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("lbd sent an invalid event line: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("reading events: %w", err)
	}
	return nil
}
