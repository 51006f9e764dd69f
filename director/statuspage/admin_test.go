package statuspage_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/events"
	"github.com/lvsd/lb/director/statuspage"
)

type overrider struct {
	mu   sync.Mutex
	reqs []control.OverrideRequest
}

func (o *overrider) SetOverride(_ context.Context, req control.OverrideRequest) (control.OverrideResult, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if req.Server == "10.9.9.9" {
		return control.OverrideResult{}, errors.New("no real server 10.9.9.9")
	}
	o.reqs = append(o.reqs, req)
	return control.OverrideResult{Changed: true, State: req.State}, nil
}

func (o *overrider) calls() []control.OverrideRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]control.OverrideRequest(nil), o.reqs...)
}

const token = "s3cret-token-0123456789"

func adminServer(t *testing.T) (*overrider, *httptest.Server) {
	src := &source{st: sampleStatus(), log: events.New(100, func() time.Time { return t0 })}
	h := statuspage.New(src, func() time.Time { return t0 })
	o := &overrider{}
	if err := h.EnableAdmin(token+"\n", o); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return o, srv
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// The admin actions: POST with the right token calls the daemon's
// override (drain, undrain, maintenance); a missing or wrong token is 403
// and acts on nothing; a GET never acts.
func TestAdminActions(t *testing.T) {
	o, srv := adminServer(t)
	drain := control.OverrideRequest{State: "drain", Service: "TCP 192.0.2.10:80", Server: "10.1.0.1:80"}
	for _, tc := range []struct {
		name   string
		form   url.Values
		bearer string
		code   int
		want   *control.OverrideRequest
	}{
		{"no token", url.Values{"op": {"drain|TCP 192.0.2.10:80|10.1.0.1:80"}}, "", 403, nil},
		{"wrong token", url.Values{"token": {token + "x"}, "op": {"drain|TCP 192.0.2.10:80|10.1.0.1:80"}}, "", 403, nil},
		{"wrong bearer", url.Values{"op": {"drain|TCP 192.0.2.10:80|10.1.0.1:80"}}, "nope", 403, nil},
		{"button", url.Values{"token": {token}, "op": {"drain|TCP 192.0.2.10:80|10.1.0.1:80"}}, "", 303, &drain},
		{"fields and bearer", url.Values{"state": {"maintenance"}, "service": {"tcp:192.0.2.10:80"}, "server": {"10.1.0.2"}}, token, 303,
			&control.OverrideRequest{State: "maintenance", Service: "tcp:192.0.2.10:80", Server: "10.1.0.2"}},
		{"undrain", url.Values{"token": {token}, "op": {"none|TCP 192.0.2.10:80|10.1.0.1:80"}}, "", 303,
			&control.OverrideRequest{State: "none", Service: "TCP 192.0.2.10:80", Server: "10.1.0.1:80"}},
		{"bad state", url.Values{"token": {token}, "op": {"delete|TCP 192.0.2.10:80|10.1.0.1:80"}}, "", 400, nil},
		{"bad op", url.Values{"token": {token}, "op": {"drain|10.1.0.1:80"}}, "", 400, nil},
		{"unknown server", url.Values{"token": {token}, "op": {"drain|TCP 192.0.2.10:80|10.9.9.9"}}, "", 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(o.calls())
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/status", strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.code)
			}
			calls := o.calls()[before:]
			switch {
			case tc.want == nil && len(calls) != 0:
				t.Errorf("acted: %+v", calls)
			case tc.want != nil && (len(calls) != 1 || calls[0] != *tc.want):
				t.Errorf("calls %+v, want %+v", calls, *tc.want)
			}
			if tc.code == 303 && resp.Header.Get("Location") != "/status" {
				t.Errorf("redirect to %q", resp.Header.Get("Location"))
			}
		})
	}
	// A GET with every parameter of an action renders the page and acts on nothing.
	before := len(o.calls())
	code, _, body := get(t, srv.URL+"/status?token="+token+"&op=drain|TCP+192.0.2.10:80|10.1.0.1:80&state=drain&service=TCP+192.0.2.10:80&server=10.1.0.1")
	if code != 200 || len(o.calls()) != before {
		t.Errorf("GET: %d, calls %+v", code, o.calls()[before:])
	}
	for _, want := range []string{`<form id="admin" method="post" action="/status">`, `<input type="password" name="token"`,
		`<button form="admin" name="op" value="drain|TCP 192.0.2.10:80|10.1.0.1:80">drain</button>`,
		`<button form="admin" name="op" value="maintenance|TCP 192.0.2.10:80|10.1.0.2:80">maintenance</button>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the admin page lacks %q", want)
		}
	}
	if strings.Contains(body, token) {
		t.Error("the page shows the token")
	}
}

// Without EnableAdmin the page has no buttons and POST stays 405.
func TestAdminOffByDefault(t *testing.T) {
	_, srv := newServer(t)
	_, _, body := get(t, srv.URL+"/status")
	if strings.Contains(body, "<button") || strings.Contains(body, `id="admin"`) {
		t.Error("a read-only page shows admin controls")
	}
	resp, err := http.PostForm(srv.URL+"/status", url.Values{"token": {token}, "op": {"drain|TCP 192.0.2.10:80|10.1.0.1:80"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST without admin: %d, want 405", resp.StatusCode)
	}
	h := statuspage.New(&source{}, nil)
	for _, bad := range []string{"", "short", "two words in the token file"} {
		if err := h.EnableAdmin(bad, &overrider{}); err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
}
