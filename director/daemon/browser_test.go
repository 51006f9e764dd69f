//go:build browser

package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/director/kernel/fake"
)

// pageFixture is lbd run in-process on the fake kernel with its metrics
// listener (and so the status page) on a free localhost port, over two
// real HTTP backends whose health page can be broken.
type pageFixture struct {
	d    *Daemon
	url  string
	back [2]*backend
}

func startForPage(t *testing.T, extraGlobal string) *pageFixture {
	t.Helper()
	f := &pageFixture{back: [2]*backend{newBackend(t), newBackend(t)}}
	dir := t.TempDir()
	free := freeAddr(t)
	b1, b2 := f.back[0].addrPort(), f.back[1].addrPort()
	y := fmt.Sprintf(`global:
  control_socket: %s/lbd.sock
  state_dir: %s
  metrics_address: %s
  resync_interval: 1h
%svirtual_servers:
  - address: 192.0.2.10
    port: 80
    scheduler: wlc
    delay_loop: 50ms
    connect_timeout: 1s
    retry: 0
    real_servers:
      - address: 198.51.100.1
        weight: 3
        checks: [{type: http, connect_ip: %s, connect_port: %d, urls: [{path: /health}]}]
      - address: 198.51.100.2
        weight: 1
        checks: [{type: http, connect_ip: %s, connect_port: %d, urls: [{path: /health}]}]
`, dir, dir, free, extraGlobal, b1.Addr(), b1.Port(), b2.Addr(), b2.Port())
	path := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	d, err := New(path, Options{Kernel: fake.New(), LogOutput: logs, Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	runDaemon(t, d, logs.String)
	re := regexp.MustCompile(`msg="metrics listening" address=(\S+)`)
	waitFor(t, "metrics listener", func() bool {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			f.url = "http://" + m[1]
		}
		return f.url != ""
	})
	waitFor(t, "both servers up", func() bool {
		n := 0
		for _, rs := range d.Status(context.Background()).RealServers {
			if rs.State == "up" {
				n++
			}
		}
		return n == 2
	})
	return f
}

// browser starts Debian's chromium headless (no sandbox as root, where it
// refuses to start otherwise) and returns its context.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not installed (.ci/deps installs it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(1280, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	tctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return tctx
}

const rowClass = `(document.querySelector('tr[data-server="%s"]') || {}).className`

// The status page in a real browser: every section renders; a real
// server failing turns its row red without a reload, pushed by the
// daemon (server-sent events) within a second; a drain shows; and with
// JavaScript disabled the page is complete (rendered on the server).
func TestBrowserStatusPage(t *testing.T) {
	f := startForPage(t, "")
	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-server="198.51.100.2:80"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, sel := range []string{"section#reload h2", "section#vrrp h2", "section#services h2", "section#events h2",
		`div.service[data-service="TCP 192.0.2.10:80"] table`, `tr.up[data-server="198.51.100.1:80"]`, `tr.up[data-server="198.51.100.2:80"]`} {
		if _, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(sel), chromedp.AtLeast(1), chromedp.RetryInterval(50*time.Millisecond))); err != nil {
			t.Errorf("%s: %v", sel, err)
		}
	}
	// A mark in the window: a reload would lose it. A mutation observer
	// notes when the row turns red, in the page's clock (the same host's).
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.lbMark = 1;
		new MutationObserver(function () {
			if (!window.lbRed && `+fmt.Sprintf(rowClass, "198.51.100.1:80")+` === "down") { window.lbRed = Date.now(); }
		}).observe(document.getElementById("live"), {childList: true, subtree: true}); true`))
	if err != nil {
		t.Fatal(err)
	}
	before := f.d.Events().Last()
	f.back[0].fail.Store(true)
	red, err := chromedp.Run(ctx, chromedp.Poll[float64](`window.lbRed || 0`,
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	for red == 0 && err == nil {
		red, err = chromedp.Run(ctx, chromedp.Evaluate[float64](`window.lbRed || 0`))
	}
	if err != nil {
		t.Fatalf("the failing server's row never turned red: %v", err)
	}
	var down *events.Event
	for _, e := range f.d.Events().Read(before, 1000) {
		if e.Kind == events.KindHealth && strings.Contains(e.Subject, "198.51.100.1") && down == nil {
			down = &e
		}
	}
	if down == nil {
		t.Fatal("no health event for the failing server")
	}
	push := time.UnixMilli(int64(red)).Sub(down.Time)
	t.Logf("push latency (health event in the daemon -> row red in the browser): %v", push)
	if push > time.Second {
		t.Errorf("the row turned red %v after the daemon's event (want within 1s)", push)
	}
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.lbMark || 0`)); err != nil || mark != 1 {
		t.Errorf("the page was reloaded (mark %d, %v)", mark, err)
	}
	// A drain shows on the page, pushed the same way.
	if _, err := f.d.SetOverride(context.Background(), control.OverrideRequest{Service: "TCP 192.0.2.10:80", Server: "198.51.100.2", State: "drain"}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(rowClass, "198.51.100.2:80")+` === "draining"`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("the drain did not show: %v", err)
	}
	if txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-server="198.51.100.2:80"] td.state`))); err != nil || !strings.HasPrefix(txt, "draining since") {
		t.Errorf("drained row's state %q, %v", txt, err)
	}
	noScript(t, ctx, f)
}

// noScript opens the page in a tab with JavaScript disabled: the page is
// complete, the failing server's row red, the drained one marked.
func noScript(t *testing.T, parent context.Context, f *pageFixture) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent) // a new tab
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}),
		chromedp.Navigate(f.url+"/status"),
		chromedp.WaitReady(chromedp.CSS(`section#events`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, sel := range []string{"section#reload", "section#vrrp", `tr.down[data-server="198.51.100.1:80"]`, `tr.draining[data-server="198.51.100.2:80"]`, "section#events tbody tr"} {
		if _, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(sel))); err != nil {
			t.Errorf("without JavaScript: %s: %v", sel, err)
		}
	}
	// The same from a plain HTTP client: the HTML has the table.
	resp, err := http.Get(f.url + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `<tr class="down" data-server="198.51.100.1:80">`) {
		t.Errorf("the served HTML lacks the red row:\n%s", b)
	}
}

// With status_page_token_file the page's buttons act: the operator types
// the token and clicks maintenance on a row, the daemon puts that server
// in maintenance and the page shows it. LBD_SCREENSHOT=FILE.png saves
// the page afterwards (docs/status-page.png).
func TestBrowserAdminActions(t *testing.T) {
	tokFile := filepath.Join(t.TempDir(), "page.token")
	const tok = "browser-token-0123456789"
	if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := startForPage(t, "  status_page_token_file: "+tokFile+"\n")
	f.back[0].fail.Store(true)
	ctx := browser(t)
	button := `button[value="maintenance|TCP 192.0.2.10:80|198.51.100.2:80"]`
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(button)),
		chromedp.SendKeys(chromedp.CSS(`input[name="token"]`), tok),
		chromedp.Click(chromedp.CSS(button)),
		chromedp.WaitVisible(chromedp.CSS(`tr.maintenance[data-server="198.51.100.2:80"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr.down[data-server="198.51.100.1:80"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range f.d.Status(context.Background()).RealServers {
		if rs.Address.String() == "198.51.100.2" && rs.State != "maintenance" {
			t.Errorf("the daemon's state after the click: %q", rs.State)
		}
	}
	if out := os.Getenv("LBD_SCREENSHOT"); out != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
