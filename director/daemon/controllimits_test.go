package daemon

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
)

// TestControlLimitsFromConfig: the control socket's bounds come from
// lbd.yaml. A reload that changes them says a restart is needed (the
// socket keeps its bounds); after the restart an idle keep-alive
// connection is closed after the configured 1s, not the default 30s.
func TestControlLimitsFromConfig(t *testing.T) {
	f := start(t, false)
	data, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tweaked := strings.Replace(string(data), "global:\n", "global:\n  control_idle_timeout: 1s\n  control_max_connections: 8\n", 1)
	if err := os.WriteFile(f.cfg, []byte(tweaked), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := control.NewClient(f.sock).Reload(ctx, control.ReloadRequest{})
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	const restart = "needs a restart to take effect: global.control_max_connections/control_*_timeout"
	if !slices.Contains(res.Changes, restart) {
		t.Errorf("reload changes %q, want %q", res.Changes, restart)
	}

	// Restart: stop the first daemon, start another on the same file.
	f.cancel()
	stopErr := <-f.done
	f.done <- stopErr // for start's cleanup
	d, err := New(f.cfg, Options{Kernel: f.k, LogOutput: f.logs, Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	t.Cleanup(func() { stop(); <-done })
	waitFor(t, "control socket after the restart", func() bool { _, err := os.Stat(f.sock); return err == nil })

	closedAfter := idleClose(t, f.sock)
	t.Logf("idle keep-alive connection closed %v after its last response (control_idle_timeout: 1s)", closedAfter)
	if closedAfter < 500*time.Millisecond || closedAfter > 15*time.Second {
		t.Errorf("idle connection closed after %v, want about 1s (the default is 30s)", closedAfter)
	}
}

// idleClose sends one status request on a keep-alive connection and
// returns how long after its answer the server closed the connection.
func idleClose(t *testing.T, sock string) time.Duration {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /v1/status HTTP/1.1\r\nHost: lbd\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	t0 := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %v, want EOF (closed by lbd)", err)
	}
	return time.Since(t0)
}
