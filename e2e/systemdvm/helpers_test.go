//go:build testbed_systemd

package systemdvm

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
)

// guestDir is where the initramfs left the packages (vm.SystemdGuestDir).
const guestDir = "/root/lbtestbed"

// run runs a command and returns its combined output and error.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// must runs a command and fails the test when it fails.
func must(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ensureInstalled installs the packages with dpkg unless installed.
func ensureInstalled(t *testing.T) {
	t.Helper()
	out, _ := run("dpkg-query", "-W", "-f=${Status}", "lbd", "lbrs")
	if strings.Count(out, "install ok installed") == 2 {
		return
	}
	debs, _ := filepath.Glob(filepath.Join(guestDir, "*.deb"))
	if len(debs) != 2 {
		t.Fatalf("want the two packages lbd and lbrs in %s, found %v", guestDir, debs)
	}
	t.Logf("dpkg -i %v", debs)
	// --force-unsafe-io: no fsync per file (the disk is a throwaway snapshot).
	t.Log(must(t, "dpkg", append([]string{"--force-unsafe-io", "-i"}, debs...)...))
}

// show returns the unit's properties (systemctl show -p).
func show(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	args := []string{"show", unit}
	for _, p := range props {
		args = append(args, "-p", p)
	}
	m := map[string]string{}
	for _, l := range strings.Split(must(t, "systemctl", args...), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// waitFor polls cond every 200 ms until it holds or timeout passes, and
// fails the test with cond's last word.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: not within %s; last: %s", what, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lbdStatus is lbctl status --json, through the package's lbctl.
func lbdStatus() (control.Status, error) {
	var st control.Status
	out, err := exec.Command("lbctl", "status", "--json").Output()
	if err != nil {
		return st, fmt.Errorf("lbctl status --json: %w", err)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("lbctl status --json: %w", err)
	}
	return st, nil
}

// ipvsSave is ipvsadm -Sn.
func ipvsSave(t *testing.T) string {
	t.Helper()
	return must(t, "ipvsadm", "-Sn")
}

// metric returns the sum of the samples of name on lbd's metrics page.
func metric(name string) (float64, error) {
	resp, err := http.Get("http://127.0.0.1:9650/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, name+"{") && !strings.HasPrefix(l, name+" ") {
			continue
		}
		f := strings.Fields(l)
		var v float64
		if _, err := fmt.Sscan(f[len(f)-1], &v); err == nil {
			sum += v
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("no %s on the metrics page", name)
	}
	return sum, sc.Err()
}

// capture runs a command (tcpdump) and keeps its output lines.
type capture struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []string
	done chan struct{}
}

func startCapture(t *testing.T, name string, args ...string) *capture {
	t.Helper()
	c := &capture{cmd: exec.Command(name, args...), done: make(chan struct{})}
	pr, pw := io.Pipe()
	c.cmd.Stdout, c.cmd.Stderr = pw, pw
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			c.mu.Lock()
			c.out = append(c.out, sc.Text())
			c.mu.Unlock()
		}
		close(c.done)
	}()
	go func() { c.cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { c.cmd.Process.Kill(); <-c.done })
	return c
}

// lines returns the captured lines holding every one of words.
func (c *capture) lines(words ...string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var got []string
	for _, l := range c.out {
		all := true
		for _, w := range words {
			all = all && strings.Contains(l, w)
		}
		if all {
			got = append(got, l)
		}
	}
	return got
}

// webServer is an HTTP server on addr whose /health answers 200 or, when
// failing, 500.
type webServer struct {
	srv  *http.Server
	mu   sync.Mutex
	fail bool
}

func startWeb(t *testing.T, addr string) *webServer {
	t.Helper()
	w := &webServer{}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("web server on %s: %v", addr, err)
	}
	w.srv = &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		fail := w.fail
		w.mu.Unlock()
		if fail {
			http.Error(rw, "failing", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(rw, "OK")
	})}
	go w.srv.Serve(ln)
	t.Cleanup(func() { w.srv.Close() })
	return w
}

func (w *webServer) setFailing(f bool) {
	w.mu.Lock()
	w.fail = f
	w.mu.Unlock()
}

// writeFile writes a file or fails the test.
func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}
