package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// ErrNotRunning means no lbd answers on the socket (it does not exist or
// nobody listens).
var ErrNotRunning = errors.New("lbd is not running")

// Client talks to lbd over its control socket.
type Client struct {
	path string
	hc   *http.Client
}

// NewClient returns a client of the socket at path (DefaultSocket if empty).
func NewClient(path string) *Client {
	if path == "" {
		path = DefaultSocket
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
	return &Client{path: path, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// Path returns the socket path.
func (c *Client) Path() string { return c.path }

// Status fetches the daemon's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/v1/status", &st)
	return st, err
}

// Reload asks the daemon to reload its configuration (req.Force: even if
// the removal guard refuses it).
func (c *Client) Reload(ctx context.Context, req ReloadRequest) (ReloadResult, error) {
	var r ReloadResult
	body, err := json.Marshal(req)
	if err != nil {
		return r, fmt.Errorf("encode reload request: %w", err)
	}
	err = c.doBody(ctx, http.MethodPost, "/v1/reload", body, &r)
	return r, err
}

// ConfirmDiscovery releases the held discovery update of service ("TCP
// 192.0.2.10:80") and applies it; refused when nothing is held.
func (c *Client) ConfirmDiscovery(ctx context.Context, service string) (ReloadResult, error) {
	var r ReloadResult
	body, err := json.Marshal(DiscoveryConfirmRequest{Service: service})
	if err != nil {
		return r, fmt.Errorf("encode discovery confirm request: %w", err)
	}
	err = c.doBody(ctx, http.MethodPost, "/v1/discovery/confirm", body, &r)
	return r, err
}

// Resync asks the daemon to repair the kernel table now.
func (c *Client) Resync(ctx context.Context) (ApplyResult, error) {
	var r ApplyResult
	err := c.do(ctx, http.MethodPost, "/v1/resync", &r)
	return r, err
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	return c.doBody(ctx, method, path, nil, out)
}

// doBody sends a request with a JSON body (none if nil) and decodes the
// answer into out.
func (c *Client) doBody(ctx context.Context, method, path string, in []byte, out any) error {
	var reqBody io.Reader
	if in != nil {
		reqBody = bytes.NewReader(in)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lbd"+path, reqBody)
	if err != nil {
		return fmt.Errorf("control request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if isNotRunning(err) {
			return fmt.Errorf("%w (%s: %s)", ErrNotRunning, c.path, rootCause(err))
		}
		return fmt.Errorf("control socket %s: %w", c.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read control answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb struct {
			Error  string          `json:"error"`
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
			if len(eb.Result) > 0 {
				_ = json.Unmarshal(eb.Result, out) // best effort: partial result
			}
			return fmt.Errorf("lbd: %s", eb.Error)
		}
		return fmt.Errorf("lbd: %s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode control answer: %w", err)
	}
	return nil
}

func isNotRunning(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

func rootCause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
