package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/kernel/fake"
)

// The status page is served on the metrics listener, beside /metrics.
func TestStatusPageOnTheMetricsListener(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lbd.yaml")
	l, err := net.Listen("tcp", "127.0.0.1:0") // a free port (the file refuses port 0)
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().String()
	l.Close()
	y := fmt.Sprintf("global:\n  control_socket: %s/lbd.sock\n  state_dir: %s\n  metrics_address: %s\n  resync_interval: 1h\n"+
		"virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    real_servers: [{address: 10.1.0.1}]\n", dir, dir, free)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	d, err := New(path, Options{Kernel: fake.New(), LogOutput: logs, Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	re := regexp.MustCompile(`msg="metrics listening" address=(\S+)`)
	var addr string
	waitFor(t, "metrics listener", func() bool {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	for path, want := range map[string]string{
		"/":            `data-service="TCP 10.0.0.1:80"`,
		"/status.json": `"events": [`,
		"/metrics":     "lbd_",
	} {
		var body string
		waitFor(t, path, func() bool {
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + path)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return resp.StatusCode == 200 && strings.Contains(body, want)
		})
	}
}
