package control_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
)

// evDaemon is a Daemon with an event history.
type evDaemon struct {
	sources
	log *events.Log
}

func (d *evDaemon) Events() *events.Log { return d.log }

var errEnough = errors.New("enough")

// collect follows the events from since until it has the one numbered last.
func collect(ctx context.Context, cl *control.Client, since, last uint64) ([]events.Event, error) {
	var got []events.Event
	err := cl.Events(ctx, since, true, func(e events.Event) error {
		got = append(got, e)
		if e.Seq >= last {
			return errEnough
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return got, err
}

// Two readers that follow the stream over the socket see the same events,
// every one, in order, numbered 1, 2, 3...; a reader resumes with since.
func TestEventsFollowedByTwoReaders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	d := &evDaemon{log: events.New(events.DefaultCapacity, nil)}
	cl, stop := serve(t, control.ServerConfig{Path: path, Daemon: d})
	defer stop()
	d.log.Emit(events.Event{Kind: events.KindDaemon, Message: "lbd started"})
	const n = 5000
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	got := make([][]events.Event, 2)
	for r := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if got[r], err = collect(ctx, cl, 0, n); err != nil {
				t.Errorf("reader %d: %v", r, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // most of it followed live (either way, every event must come)
	for i := 2; i <= n; i++ {
		d.log.Emit(events.Event{Kind: events.KindCheck, Subject: "TCP 10.0.0.1:80 10.1.0.1:80 tcp#0", Message: fmt.Sprint(i)})
	}
	wg.Wait()
	for r, evs := range got {
		if len(evs) != n {
			t.Fatalf("reader %d: %d events, want %d", r, len(evs), n)
		}
		for i, e := range evs {
			if e.Seq != uint64(i+1) || e.Kind == events.KindGap || (i > 0 && e.Message != fmt.Sprint(i+1)) {
				t.Fatalf("reader %d: event %d = %+v", r, i, e)
			}
			if o := got[0][i]; o.Seq != e.Seq || o.Message != e.Message || !o.Time.Equal(e.Time) {
				t.Fatalf("readers differ at %d: %+v and %+v", i, o, e)
			}
		}
	}
	// --since resumes after the last event seen, without follow: what is held.
	var resumed []uint64
	if err := cl.Events(ctx, 4990, false, func(e events.Event) error { resumed = append(resumed, e.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(resumed) != 10 || resumed[0] != 4991 || resumed[9] != 5000 {
		t.Errorf("since 4990: %v", resumed)
	}
}

// A reader that does not read while the daemon emits far more events than
// the history holds never holds the daemon up; when it reads again it gets
// a gap marker counting what it lost, then the events after it: every
// event is either delivered or counted, in order.
func TestEventsSlowReaderGetsAGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	d := &evDaemon{log: events.New(100, nil)}
	_, stop := serve(t, control.ServerConfig{Path: path, Daemon: d})
	defer stop()
	d.log.Emit(events.Event{Kind: events.KindDaemon, Message: "first"})

	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.UnixConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /v1/events?since=0&follow=1 HTTP/1.1\r\nHost: lbd\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("follow: %v %v", err, resp)
	}
	const n = 100000 // the stream stalls: the socket buffers hold far less
	t0 := time.Now()
	for i := 2; i <= n; i++ {
		d.log.Emit(events.Event{Kind: events.KindIPVS, Message: fmt.Sprintf("event %d %0100d", i, 0)})
	}
	took := time.Since(t0)
	t.Logf("%d events emitted in %v while a reader stalled", n-1, took)
	if took > 20*time.Second {
		t.Errorf("emitting took %v: the daemon waited for the reader", took)
	}
	sc := bufio.NewScanner(resp.Body)
	var last, delivered, missed uint64
	gaps := 0
	for last < n && sc.Scan() {
		var e events.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("invalid JSON line %q: %v", sc.Text(), err)
		}
		if e.Seq <= last {
			t.Fatalf("seq %d after %d", e.Seq, last)
		}
		if e.Kind == events.KindGap {
			gaps++
			missed += e.Missed
			if e.Seq != last+e.Missed {
				t.Fatalf("gap marker %+v after %d", e, last)
			}
		} else {
			delivered++
			if e.Seq != last+1 {
				t.Fatalf("event %d after %d without a gap marker", e.Seq, last)
			}
		}
		last = e.Seq
	}
	if last != n || delivered+missed != n || gaps == 0 {
		t.Fatalf("last %d, delivered %d + missed %d (want %d), %d gap markers (want some); scan: %v", last, delivered, missed, n, gaps, sc.Err())
	}
	t.Logf("slow reader: %d delivered, %d missed in %d gap markers", delivered, missed, gaps)
}

func TestEventsBadRequests(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.sock")
	cl, stop := serve(t, control.ServerConfig{Path: path, Daemon: &sources{}})
	defer stop()
	err := cl.Events(context.Background(), 0, false, func(events.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "events are not available") {
		t.Errorf("no event source: %v", err)
	}
	path2 := filepath.Join(t.TempDir(), "lbd.sock")
	_, stop2 := serve(t, control.ServerConfig{Path: path2, Daemon: &evDaemon{log: events.New(10, nil)}})
	defer stop2()
	if code, body := getURL(t, path2, "/v1/events?since=x"); code != 400 || !strings.Contains(body, "not a sequence number") {
		t.Errorf("since=x: %d %s", code, body)
	}
}

func getURL(t *testing.T, path, url string) (int, string) {
	t.Helper()
	hc := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	resp, err := hc.Get("http://lbd" + url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b [4096]byte
	n, _ := resp.Body.Read(b[:])
	return resp.StatusCode, string(b[:n])
}
