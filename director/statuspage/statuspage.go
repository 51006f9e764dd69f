// Package statuspage is lbd's live status page (issue 17 item 5), served
// on the metrics listener: "/" and "/status" (HTML rendered on the server
// from html/template files embedded in the binary: readable without
// JavaScript, coloured per state), "/status.json" (the same as JSON) and
// "/events" (server-sent events: each new event of the daemon's history,
// which a few lines of script on the page use to re-render its live part
// within a second, with no page reload). Read-only unless EnableAdmin
// turns on the drain, undrain and maintenance buttons (POST with a token).
package statuspage

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
)

// Source is what the page shows: the daemon's status, read at request
// time, and its event history.
type Source interface {
	Status(ctx context.Context) control.Status
	Events() *events.Log
}

//go:embed web/*.html web/*.css web/*.js
var files embed.FS

// RecentEvents is how many events the page lists.
const RecentEvents = 50

// MaxStreams bounds the /events streams open at once.
const MaxStreams = 32

// keepalive is how often an idle /events stream gets a comment line.
const keepalive = 15 * time.Second

// Handler serves the page over src; now is the clock (nil: time.Now).
type Handler struct {
	src     Source
	now     func() time.Time
	tmpl    *template.Template
	mux     *http.ServeMux
	streams atomic.Int32
	// token and admin are set by EnableAdmin (admin.go); nil: read-only.
	token []byte
	admin Overrider
}

// New returns the page's handler.
func New(src Source, now func() time.Time) *Handler {
	if now == nil {
		now = time.Now
	}
	h := &Handler{src: src, now: now, mux: http.NewServeMux()}
	h.tmpl = template.Must(template.New("page").Funcs(funcs).ParseFS(files, "web/*.html"))
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET /status", h.page)
	h.mux.HandleFunc("GET /status.json", h.json)
	h.mux.HandleFunc("GET /events", h.events)
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(mustSub("web"))))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// page renders the whole page, or (?fragment=1) its live part only.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	p := h.build(r.Context())
	p.Admin = h.admin != nil
	name := "page.html"
	if r.URL.Query().Get("fragment") == "1" {
		name = "live"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := h.tmpl.ExecuteTemplate(w, name, p); err != nil {
		fmt.Fprintf(w, "\n<!-- rendering failed: %s -->\n", template.HTMLEscapeString(err.Error()))
	}
}

// StatusJSON is the answer of /status.json.
type StatusJSON struct {
	control.Status
	// Events are the recent events, oldest first.
	Events []events.Event `json:"events"`
}

func (h *Handler) json(w http.ResponseWriter, r *http.Request) {
	st := h.src.Status(r.Context())
	var evs []events.Event
	if l := h.src.Events(); l != nil {
		evs = recent(l, RecentEvents)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(StatusJSON{Status: st, Events: evs})
}

// recent is the last n events of l, oldest first.
func recent(l *events.Log, n int) []events.Event {
	last := l.Last()
	after := uint64(0)
	if last > uint64(n) {
		after = last - uint64(n)
	}
	evs := l.Read(after, n)
	if len(evs) > 0 && evs[0].Kind == events.KindGap {
		evs = evs[1:]
	}
	return evs
}

// events streams the daemon's events as server-sent events: "id: SEQ",
// "data: JSON"; a client resumes with Last-Event-ID (or ?since=N). A
// client that falls behind the history gets the gap marker.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	l := h.src.Events()
	if l == nil {
		http.Error(w, "no events", http.StatusNotImplemented)
		return
	}
	since := l.Last()
	for _, v := range []string{r.Header.Get("Last-Event-ID"), r.URL.Query().Get("since")} {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			since = n
			break
		}
	}
	if h.streams.Add(1) > MaxStreams {
		h.streams.Add(-1)
		http.Error(w, "too many event streams", http.StatusServiceUnavailable)
		return
	}
	defer h.streams.Add(-1)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	for {
		ctx, cancel := context.WithTimeout(r.Context(), keepalive)
		evs, err := l.Wait(ctx, since, 200)
		cancel()
		switch {
		case r.Context().Err() != nil:
			return
		case err != nil:
			_, err = fmt.Fprint(w, ": keepalive\n\n")
		default:
			err = writeSSE(w, evs)
			if len(evs) > 0 {
				since = evs[len(evs)-1].Seq
			}
		}
		if err != nil || rc.Flush() != nil {
			return
		}
	}
}

func writeSSE(w http.ResponseWriter, evs []events.Event) error {
	for _, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.Seq, b); err != nil {
			return err
		}
	}
	return nil
}
