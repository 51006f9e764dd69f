package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lvsd/lb/internal/httplimit"
)

// DefaultSocket is where lbd listens unless configured otherwise.
const DefaultSocket = "/run/lbd/lbd.sock"

// ServerConfig configures a Server.
type ServerConfig struct {
	// Path of the socket; default DefaultSocket.
	Path string
	// Group, if set (a name or a numeric gid), gets read-write access: the
	// socket is mode 0660 owned by that group. Otherwise it is mode 0600.
	Group string
	// Daemon answers the requests; without one, status is empty and the
	// actions answer 501.
	Daemon Daemon
	Logger *slog.Logger
	// Limits bound what clients may hold (connections, idle and write
	// time, body size); zero fields take httplimit's defaults (64
	// connections, 30s idle, 5s headers, 10s body, 10s without write
	// progress, 64 KiB bodies).
	Limits httplimit.Limits
}

// Server answers the control API.
type Server struct {
	cfg ServerConfig
	log *slog.Logger
	mux *http.ServeMux
	// followers counts the event streams followed (events.go).
	followers atomic.Int32
}

// NewServer returns a Server; ListenAndServe starts it.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Path == "" {
		cfg.Path = DefaultSocket
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.mux.HandleFunc("GET /v1/status", s.status)
	s.mux.HandleFunc("POST /v1/reload", s.reload)
	s.mux.HandleFunc("POST /v1/resync", s.resync)
	s.mux.HandleFunc("POST /v1/discovery/confirm", s.confirmDiscovery)
	s.mux.HandleFunc("GET /v1/events", s.events) // events.go
	s.mux.HandleFunc("POST /v1/realserver/state", s.setOverride)
	s.mux.HandleFunc("POST /v1/director/drain", s.setDirectorDrain)
	return s
}

// Handler returns the HTTP handler of the API (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	var st Status
	if s.cfg.Daemon != nil {
		st = s.cfg.Daemon.Status(r.Context())
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) reload(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Daemon == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: "reload is not available"})
		return
	}
	req, err := decodeReloadRequest(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	res, err := s.cfg.Daemon.Reload(r.Context(), req)
	if err != nil {
		s.log.Warn("reload over the control socket failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, struct {
			errorBody
			Result ReloadResult `json:"result"`
		}{errorBody{err.Error()}, res})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// decodeReloadRequest reads the optional body of a reload (at most
// MaxReloadRequest bytes of JSON, unknown fields refused).
func decodeReloadRequest(r *http.Request) (ReloadRequest, error) {
	var req ReloadRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxReloadRequest+1))
	if err != nil {
		return req, fmt.Errorf("reading the reload request: %w", err)
	}
	if len(body) > MaxReloadRequest {
		return req, fmt.Errorf("reload request larger than %d bytes", MaxReloadRequest)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("invalid reload request: %w", err)
	}
	return req, nil
}

func (s *Server) resync(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Daemon == nil {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: "resync is not available"})
		return
	}
	res, err := s.cfg.Daemon.Resync(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, struct {
			errorBody
			Result ApplyResult `json:"result"`
		}{errorBody{err.Error()}, res})
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

// Listen creates the socket: it refuses to replace a live socket (another
// lbd) or a non-socket file, removes a stale one, and sets the mode and
// group before the socket appears under its name (it is bound under a
// temporary name and renamed), so no one connects with looser rights.
func (s *Server) Listen() (net.Listener, error) {
	path := s.cfg.Path
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create control socket directory: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	gid, mode := -1, os.FileMode(0o600)
	if s.cfg.Group != "" {
		g, err := lookupGroup(s.cfg.Group)
		if err != nil {
			return nil, err
		}
		gid, mode = g, 0o660
	}
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.%d", filepath.Base(path), os.Getpid()))
	os.Remove(tmp)
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		l.Close()
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(fmt.Errorf("chmod control socket: %w", err))
	}
	if gid >= 0 {
		if err := os.Chown(tmp, -1, gid); err != nil {
			return fail(fmt.Errorf("chown control socket to group %s: %w", s.cfg.Group, err))
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("install control socket %s: %w", path, err))
	}
	return &unlinkListener{Listener: l, path: path}, nil
}

// unlinkListener removes the socket file when closed.
type unlinkListener struct {
	net.Listener
	path string
}

func (l *unlinkListener) Close() error {
	err := l.Listener.Close()
	os.Remove(l.path)
	return err
}

func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("control socket %s: exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("control socket %s: another lbd is listening", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale control socket: %w", err)
	}
	return nil
}

func lookupGroup(g string) (int, error) {
	if n, err := strconv.Atoi(g); err == nil {
		return n, nil
	}
	gr, err := user.LookupGroup(g)
	if err != nil {
		return 0, fmt.Errorf("control socket group %q: %w", g, err)
	}
	n, err := strconv.Atoi(gr.Gid)
	if err != nil {
		return 0, fmt.Errorf("control socket group %q: gid %q: %w", g, gr.Gid, err)
	}
	return n, nil
}

// ListenAndServe listens (see Listen) and serves until ctx ends, then
// closes the socket and removes it.
func (s *Server) ListenAndServe(ctx context.Context) error {
	l, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, l)
}

// Serve serves on l until ctx ends, under the configured Limits.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs, hl := httplimit.Server(l, s.mux, s.cfg.Limits)
	hs.BaseContext = func(net.Listener) context.Context { return ctx }
	l = hl
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l) }()
	select {
	case err := <-done:
		l.Close()
		return fmt.Errorf("control socket: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := hs.Shutdown(sctx)
		if err != nil { // a request still in its handler: cut it
			s.log.Warn("control socket: requests still running at shutdown, closed", "err", err)
			_ = hs.Close()
		}
		l.Close()
		<-done
		return nil
	}
}

// DiscoveryConfirmer is the Daemon's optional discovery command: release
// a held discovery update of one service and apply it.
type DiscoveryConfirmer interface {
	ConfirmDiscovery(ctx context.Context, service string) (ReloadResult, error)
}

func (s *Server) confirmDiscovery(w http.ResponseWriter, r *http.Request) {
	dc, ok := s.cfg.Daemon.(DiscoveryConfirmer)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, errorBody{Error: "discovery confirm is not available"})
		return
	}
	var req DiscoveryConfirmRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxReloadRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Service == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("invalid discovery confirm request (want {\"service\": \"TCP 192.0.2.10:80\"}): %v", err)})
		return
	}
	res, err := dc.ConfirmDiscovery(r.Context(), req.Service)
	if err != nil {
		s.log.Warn("discovery confirm over the control socket refused", "service", req.Service, "err", err)
		writeJSON(w, http.StatusConflict, struct {
			errorBody
			Result ReloadResult `json:"result"`
		}{errorBody{err.Error()}, res})
		return
	}
	writeJSON(w, http.StatusOK, res)
}
