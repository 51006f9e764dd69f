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
// freeAddr is a free 127.0.0.1 port, for a listener lbd opens (the file
// refuses port 0).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestStatusPageOnTheMetricsListener(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lbd.yaml")
	free := freeAddr(t)
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
	runDaemon(t, d, logs.String)
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

// status_page_token_file turns on the page's admin actions: a POST with
// the token drains a real server in the kernel (the same method as lbctl
// drain); a wrong token is 403 and changes nothing.
func TestStatusPageAdminActions(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "page.token")
	const tok = "0123456789abcdef0123"
	if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	free := freeAddr(t)
	path := filepath.Join(dir, "lbd.yaml")
	y := fmt.Sprintf("global:\n  control_socket: %s/lbd.sock\n  state_dir: %s\n  metrics_address: %s\n  resync_interval: 1h\n  status_page_token_file: %s\n"+
		"virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    real_servers: [{address: 10.1.0.1, weight: 2}]\n", dir, dir, free, tokFile)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	k := fake.New()
	logs := &syncBuf{}
	d, err := New(path, Options{Kernel: k, LogOutput: logs, Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d, logs.String)
	weight := func() int {
		for _, s := range k.Table().Services {
			for _, dst := range s.Destinations {
				return int(dst.Weight)
			}
		}
		return -1
	}
	waitFor(t, "table programmed", func() bool { return weight() == 2 })
	re := regexp.MustCompile(`msg="metrics listening" address=(\S+)`)
	var addr string
	waitFor(t, "metrics listener", func() bool {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	post := func(token string) int {
		form := strings.NewReader("op=drain%7CTCP+10.0.0.1%3A80%7C10.1.0.1&token=" + token)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/status", form)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		cl := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong-token-0123456789"); code != http.StatusForbidden || weight() != 2 {
		t.Errorf("wrong token: %d, weight %d", code, weight())
	}
	if code := post(tok); code != http.StatusSeeOther || weight() != 0 {
		t.Errorf("drain: %d, weight %d", code, weight())
	}
	if rs := d.Status(context.Background()).RealServers[0]; rs.State != "draining" {
		t.Errorf("state %q after the page's drain", rs.State)
	}
}

// A token file that cannot be read, or holds too short a token, stops
// the start naming the key.
func TestStatusPageBadTokenFile(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.token")
	if err := os.WriteFile(short, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{filepath.Join(dir, "missing.token"), short} {
		free := freeAddr(t)
		path := filepath.Join(dir, "lbd.yaml")
		y := fmt.Sprintf("global:\n  control_socket: %s/lbd.sock\n  state_dir: %s\n  metrics_address: %s\n  status_page_token_file: %s\n"+
			"virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    real_servers: [{address: 10.1.0.1}]\n", dir, dir, free, file)
		if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := New(path, Options{Kernel: fake.New(), LogOutput: io.Discard, Notify: func(string) {}})
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = d.Run(ctx)
			cancel()
		}
		if err == nil || !strings.Contains(err.Error(), "status_page_token_file") {
			t.Errorf("%s: %v", file, err)
		}
	}
}
