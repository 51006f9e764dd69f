//go:build testbed_guest

package scenarios

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// TestMain refuses to run scenarios outside the testbed VM (they reshape
// networking as root and need IPVS), but lets -test.list through: the host
// lists scenarios with it.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.list"); f == nil || f.Value.String() == "" {
		if _, err := os.Stat("/etc/lbtestbed/modules"); err != nil && os.Getenv("E2E_ALLOW_HOST") == "" {
			fmt.Fprintln(os.Stderr, "scenarios run inside the testbed VM: use 'go test -tags testbed ./e2e' or 'go run ./e2e/cmd/testbed run' (E2E_ALLOW_HOST=1 overrides)")
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// settle bounds a wait for something that must happen: a daemon's log line
// after a change it made, a state lbctl reports, an answer that follows an
// event. Past it the event is lost, not late. It is no latency
// expectation: the VM runs under TCG on one vCPU, and a busy host
// stretches every step (a second is ordinary). Where the protocol says
// when something happens, the wait is a multiple of that instead.
const settle = 15 * time.Second

// Narration prefixes. The host's demo mode shows these lines (and the
// verdicts) and hides the rest; they are also part of every scenario's log.
const (
	narrateStep  = "==> "
	narrateBlock = "    | "
)

// narrator prints a scenario's steps for humans, on stdout.
type narrator struct {
	t    *testing.T
	step int
}

func newNarrator(t *testing.T) *narrator { return &narrator{t: t} }

// Step prints one numbered line of narrative.
func (n *narrator) Step(format string, args ...any) {
	n.step++
	fmt.Printf("%s%2d. %s\n", narrateStep, n.step, fmt.Sprintf(format, args...))
}

// Note prints an unnumbered narrative line.
func (n *narrator) Note(format string, args ...any) {
	fmt.Printf("%s    %s\n", narrateStep, fmt.Sprintf(format, args...))
}

// Block prints text (command output) indented under the last step.
func (n *narrator) Block(text string) {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Printf("%s%s\n", narrateBlock, l)
	}
}

// run runs a program in ns and fails the test when it fails.
func run(t *testing.T, ns *netnslab.Namespace, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := ns.Run(ctx, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// serveName starts an HTTP server in ns on addr that answers every request
// with name and a newline. It stops at the end of the test.
func serveName(t *testing.T, ns *netnslab.Namespace, addr, name string) *http.Server {
	t.Helper()
	return serveHTTP(t, ns, addr, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, name)
	})
}

// serveHTTP starts an HTTP server in ns on addr that answers with h. It
// stops at the end of the test (or when the test closes the server it
// returns).
func serveHTTP(t *testing.T, ns *netnslab.Namespace, addr string, h http.HandlerFunc) *http.Server {
	t.Helper()
	l, err := ns.Listen("tcp", addr)
	must(t, err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return srv
}

// newHTTPClient returns a client whose connections start in ns, one new
// connection per request.
func newHTTPClient(ns *netnslab.Namespace, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:       ns.DialContext,
			DisableKeepAlives: true,
		},
	}
}

// get fetches url and returns the trimmed body.
func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("reading the answer of %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

// isTimeout reports whether err is a network timeout (a dropped SYN).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
