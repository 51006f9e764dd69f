package healthcheck

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func addrPort(t *testing.T, rawURL string) netip.AddrPort {
	t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(rawURL, "http://"), "https://")
	ap, err := netip.ParseAddrPort(host)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// check runs one attempt through the net package and, for plain HTTP and
// TCP, through the reactor too, asserts that both give the same verdict
// and reason, and returns the first. An attempt must end by its timeout:
// one still running hangAfter past it ignores its deadline (how much later
// than the timeout an attempt ends is load, not behaviour, and is not
// asserted; the timeout cases assert KindTimeout and the reason instead).
func check(t *testing.T, s Spec, timeout time.Duration) Result {
	t.Helper()
	c, err := NewChecker(s)
	if err != nil {
		t.Fatalf("NewChecker: %v", err)
	}
	got := make(chan Result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		got <- c.Check(ctx)
	}()
	var r Result
	select {
	case r = <-got:
	case <-time.After(timeout + hangAfter):
		t.Fatalf("check still running %v after its %v timeout", hangAfter, timeout)
	}
	r.Reason = budgetIn(t, r.Reason, timeout)
	if rr, ok := checkReactor(t, c, timeout); ok {
		rr.Reason = budgetIn(t, rr.Reason, timeout)
		if rr.OK != r.OK || rr.Kind != r.Kind || rr.Reason != r.Reason || (rr.Weight == nil) != (r.Weight == nil) {
			t.Errorf("reactor and net disagree:\nreactor %+v\nnet     %+v", rr, r)
		}
	}
	return r
}

// timeoutAfter is the budget a timeout's reason reports.
var timeoutAfter = regexp.MustCompile(`(timeout after )([0-9.]+(?:ns|µs|ms|s))`)

// budgetIn writes timeout for the budget a timeout's reason reports when
// the budget is within it: the net engine reports what was left of its
// context's deadline when the attempt started, which a busy machine makes
// a little less than the timeout (299ms for 300ms); any positive budget up
// to the timeout is right.
func budgetIn(t *testing.T, reason string, timeout time.Duration) string {
	t.Helper()
	m := timeoutAfter.FindStringSubmatch(reason)
	if m == nil {
		return reason
	}
	d, err := time.ParseDuration(m[2])
	if err != nil || d <= 0 || d > timeout {
		t.Errorf("reason %q reports a budget of %s, want one in (0, %v]", reason, m[2], timeout)
		return reason
	}
	return timeoutAfter.ReplaceAllString(reason, "${1}"+timeout.String())
}

// checkReactor runs one attempt of c through a reactor, if it can.
func checkReactor(t *testing.T, c Checker, timeout time.Duration) (Result, bool) {
	t.Helper()
	rc, err := newReactor(newResources())
	if err != nil {
		t.Fatalf("newReactor: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rc.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if !rc.canRun(c) {
		return Result{}, false
	}
	got := make(chan Result, 1)
	rc.start(c, timeout, func(r Result) { got <- r })
	select {
	case r := <-got:
		if r.Duration <= 0 {
			t.Errorf("reactor Duration = %v", r.Duration)
		}
		return r, true
	case <-time.After(timeout + hangAfter):
		t.Fatalf("reactor check still running %v after its %v timeout", hangAfter, timeout)
	}
	return Result{}, false
}

// seen records what the test server received.
type seen struct {
	mu    sync.Mutex
	hosts []string
	sni   []string
	proto []string
}

func (s *seen) add(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hosts = append(s.hosts, r.Host)
	s.proto = append(s.proto, r.Proto)
	if r.TLS != nil {
		s.sni = append(s.sni, r.TLS.ServerName)
	}
}

func testMux(sn *seen) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		sn.add(r)
		fmt.Fprint(w, "hello world\n")
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("/302", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		// HTTP/1.0 clients get no chunking from net/http: write raw.
		hj, _ := w.(http.Hijacker)
		conn, buf, _ := hj.Hijack()
		defer conn.Close()
		fmt.Fprint(buf, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n6;ext=1\r\nworld\n\r\n0\r\nX-Trailer: 1\r\n\r\n")
		_ = buf.Flush()
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("0123456789", 100000))
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, buf, _ := hj.Hijack()
		defer conn.Close()
		fmt.Fprint(buf, "SSH-2.0-OpenSSH\r\n\r\n")
		_ = buf.Flush()
	})
	return mux
}

func TestHTTPChecker(t *testing.T) {
	sn := &seen{}
	srv := httptest.NewServer(testMux(sn))
	defer srv.Close()
	target := addrPort(t, srv.URL)
	body := "hello world\n"

	// A port with nothing listening.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := netip.MustParseAddrPort(l.Addr().String())
	l.Close()

	tests := []struct {
		name       string
		spec       Spec
		timeout    time.Duration
		wantOK     bool
		wantKind   ResultKind
		wantReason string
	}{
		{"status 200", Spec{URLs: []URL{{Path: "/ok"}}}, okTimeout, true, KindOK, "GET /ok: status 200"},
		{"digest ok", Spec{URLs: []URL{{Path: "/ok", Digest: md5hex(body)}}}, okTimeout, true, KindOK, "GET /ok: status 200, digest ok"},
		{"digest upper case ok", Spec{URLs: []URL{{Path: "/ok", Digest: strings.ToUpper(md5hex(body))}}}, okTimeout, true, KindOK, "digest ok"},
		{"wrong body", Spec{URLs: []URL{{Path: "/ok", Digest: md5hex("other")}}}, okTimeout, false, KindDigest,
			"GET /ok: digest mismatch: got " + md5hex(body) + " want " + md5hex("other")},
		{"status 500", Spec{URLs: []URL{{Path: "/500"}}}, okTimeout, false, KindStatus, "GET /500: status 500 not in 200-299"},
		{"status 500 accepted by range", Spec{URLs: []URL{{Path: "/500", StatusCodes: []StatusRange{{200, 200}, {500, 599}}}}}, okTimeout, true, KindOK, "status 500"},
		{"302 not followed", Spec{URLs: []URL{{Path: "/302"}}}, okTimeout, false, KindStatus, "status 302 not in 200-299"},
		{"404", Spec{URLs: []URL{{Path: "/nope"}}}, okTimeout, false, KindStatus, "status 404 not in 200-299"},
		{"404 with single code", Spec{URLs: []URL{{Path: "/nope", StatusCodes: []StatusRange{{200, 200}}}}}, okTimeout, false, KindStatus, "status 404 not in 200"},
		{"slow", Spec{URLs: []URL{{Path: "/slow"}}}, 200 * time.Millisecond, false, KindTimeout, "GET /slow: timeout after 200ms reading response"},
		{"chunked body digest", Spec{URLs: []URL{{Path: "/chunked", Digest: md5hex("hello world\n")}}}, okTimeout, true, KindOK, "digest ok"},
		{"big body digest", Spec{URLs: []URL{{Path: "/big", Digest: md5hex(strings.Repeat("0123456789", 100000))}}}, okTimeout, true, KindOK, "digest ok"},
		{"not http", Spec{URLs: []URL{{Path: "/garbage"}}}, okTimeout, false, KindError, "bad status line"},
		{"all urls must pass", Spec{URLs: []URL{{Path: "/ok"}, {Path: "/500"}}}, okTimeout, false, KindStatus, "GET /500"},
		{"refused", Spec{Target: closed, URLs: []URL{{Path: "/ok"}}}, okTimeout, false, KindRefused, "GET /ok: connection refused"},
		{"bindto", Spec{BindTo: netip.MustParseAddr("127.0.0.1"), URLs: []URL{{Path: "/ok"}}}, okTimeout, true, KindOK, "status 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Type = TypeHTTP
			if !tt.spec.Target.IsValid() {
				tt.spec.Target = target
			}
			r := check(t, tt.spec, tt.timeout)
			t.Logf("%s: %s", r.Kind, r.Reason)
			if r.OK != tt.wantOK || r.Kind != tt.wantKind || !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("Check = %+v, want ok=%t kind=%s reason containing %q", r, tt.wantOK, tt.wantKind, tt.wantReason)
			}
			if r.Duration <= 0 {
				t.Errorf("Duration = %v", r.Duration)
			}
		})
	}
}

func TestHTTPHostHeader(t *testing.T) {
	sn := &seen{}
	srv := httptest.NewServer(testMux(sn))
	defer srv.Close()
	target := addrPort(t, srv.URL)
	for _, s := range []Spec{
		{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/ok"}}},
		{Type: TypeHTTP, Target: target, VirtualHost: "www.example.com", URLs: []URL{{Path: "/ok"}}},
		{Type: TypeHTTP, Target: target, VirtualHost: "www.example.com", URLs: []URL{{Path: "/ok", VirtualHost: "api.example.com"}}},
	} {
		if r := check(t, s, okTimeout); !r.OK {
			t.Fatalf("check: %+v", r)
		}
	}
	// Each check ran twice: through the net package and the reactor.
	want := []string{target.String(), target.String(), "www.example.com", "www.example.com", "api.example.com", "api.example.com"}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if strings.Join(sn.hosts, " ") != strings.Join(want, " ") {
		t.Errorf("Host headers = %v, want %v", sn.hosts, want)
	}
	for _, p := range sn.proto {
		if p != "HTTP/1.0" {
			t.Errorf("request protocol %s, want HTTP/1.0", p)
		}
	}
}

func TestHTTPSChecker(t *testing.T) {
	sn := &seen{}
	srv := httptest.NewTLSServer(testMux(sn))
	defer srv.Close()
	target := addrPort(t, srv.URL)
	body := "hello world\n"

	// The test server's certificate is for 127.0.0.1 and example.com.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(testMux(&seen{}))
	defer plain.Close()

	tests := []struct {
		name       string
		spec       Spec
		wantOK     bool
		wantKind   ResultKind
		wantReason string
		wantSNI    string
	}{
		{"no verification, no SNI", Spec{URLs: []URL{{Path: "/ok", Digest: md5hex(body)}}}, true, KindOK, "digest ok", ""},
		{"virtualhost is the SNI", Spec{VirtualHost: "example.com", URLs: []URL{{Path: "/ok"}}}, true, KindOK, "status 200", "example.com"},
		{"explicit SNI", Spec{VirtualHost: "www.x", SNI: "example.com", URLs: []URL{{Path: "/ok"}}}, true, KindOK, "status 200", "example.com"},
		{"verify against CA by IP", Spec{TLSVerify: true, CAFile: caFile, URLs: []URL{{Path: "/ok"}}}, true, KindOK, "status 200", ""},
		{"verify against CA by name", Spec{TLSVerify: true, CAFile: caFile, VirtualHost: "example.com", URLs: []URL{{Path: "/ok"}}}, true, KindOK, "status 200", "example.com"},
		{"verify wrong name", Spec{TLSVerify: true, CAFile: caFile, VirtualHost: "wrong.test", URLs: []URL{{Path: "/ok"}}}, false, KindTLS, "TLS certificate", "wrong.test"},
		{"verify with system roots", Spec{TLSVerify: true, URLs: []URL{{Path: "/ok"}}}, false, KindTLS, "TLS certificate", ""},
		{"status over TLS", Spec{URLs: []URL{{Path: "/500"}}}, false, KindStatus, "status 500 not in 200-299", ""},
		{"TLS to a plain server", Spec{Target: addrPort(t, plain.URL), URLs: []URL{{Path: "/ok"}}}, false, KindTLS, "TLS handshake", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Type = TypeHTTPS
			if !tt.spec.Target.IsValid() {
				tt.spec.Target = target
			}
			sn.mu.Lock()
			sn.sni = nil
			sn.mu.Unlock()
			r := check(t, tt.spec, okTimeout)
			t.Logf("%s: %s", r.Kind, r.Reason)
			if r.OK != tt.wantOK || r.Kind != tt.wantKind || !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("Check = %+v, want ok=%t kind=%s reason containing %q", r, tt.wantOK, tt.wantKind, tt.wantReason)
			}
			sn.mu.Lock()
			defer sn.mu.Unlock()
			if tt.wantOK && tt.wantKind == KindOK && (len(sn.sni) != 1 || sn.sni[0] != tt.wantSNI) {
				t.Errorf("server saw SNI %q, want %q", sn.sni, tt.wantSNI)
			}
		})
	}
}

// rawServer answers every connection with resp, then holds it open until
// the end of the test: the server never closes first.
func rawServer(t *testing.T, resp string) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				_, _ = c.Read(buf)
				fmt.Fprint(c, resp)
				<-release
			}()
		}
	}()
	return netip.MustParseAddrPort(l.Addr().String())
}

// TestHTTPServerKeepsConnectionOpen: a server that never closes its end
// must not hold a check. With keep-alive, Content-Length ends the response:
// the check passes long before its one-minute timeout. An HTTP/1.0 server
// promises a close that never comes: the body is complete, so the check
// passes when its timeout ends the wait. Both engines.
func TestHTTPServerKeepsConnectionOpen(t *testing.T) {
	tests := []struct {
		name    string
		resp    string
		timeout time.Duration
		// endedBy says what must end the attempt: Content-Length (the
		// minute-long timeout is never reached) or the timeout.
		endedBy string
	}{
		{"HTTP/1.1 keep-alive", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok", time.Minute, "content-length"},
		{"HTTP/1.0 never closing", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 300 * time.Millisecond, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := rawServer(t, tt.resp)
			c, err := NewChecker(Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Digest: md5hex("ok")}}})
			if err != nil {
				t.Fatal(err)
			}
			engines := map[string]func(chan<- Result){
				"net": func(got chan<- Result) {
					ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
					defer cancel()
					got <- c.Check(ctx)
				},
				"reactor": func(got chan<- Result) {
					rc, err := newReactor(newResources())
					if err != nil {
						t.Errorf("newReactor: %v", err)
						got <- Result{}
						return
					}
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					go rc.run(ctx)
					done := make(chan Result, 1)
					rc.start(c, tt.timeout, func(r Result) { done <- r })
					got <- <-done
				},
			}
			for name, run := range engines {
				got := make(chan Result, 1)
				go run(got)
				// The server holds the connection for the whole test: an
				// attempt that waits for its close never returns.
				limit := min(tt.timeout, hangAfter) + hangAfter
				select {
				case r := <-got:
					if !r.OK {
						t.Errorf("%s: Check = %+v, want ok", name, r)
					}
				case <-time.After(limit):
					t.Fatalf("%s: no result %v after the start: the check waits for the server to close (ended by %s expected)", name, limit, tt.endedBy)
				}
			}
		})
	}
}

func TestGenHash(t *testing.T) {
	srv := httptest.NewServer(testMux(&seen{}))
	defer srv.Close()
	ctx := context.Background()

	got, err := GenHash(ctx, srv.URL+"/ok", GenHashOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != 200 || got.MD5 != md5hex("hello world\n") || got.BodyLen != 12 || !strings.HasPrefix(got.StatusLine, "HTTP/1.") {
		t.Errorf("GenHash = %+v", got)
	}
	found := false
	for _, h := range got.Headers {
		if h.Name == "Content-Length" && h.Value == "12" {
			found = true
		}
	}
	if !found {
		t.Errorf("headers %v lack Content-Length: 12", got.Headers)
	}

	// The digest GenHash prints is the one the checker accepts.
	ap := addrPort(t, srv.URL)
	got, err = GenHash(ctx, "http://www.example.com:"+fmt.Sprint(ap.Port())+"/big", GenHashOptions{ConnectIP: ap.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	r := check(t, Spec{Type: TypeHTTP, Target: ap, URLs: []URL{{Path: "/big", Digest: got.MD5}}}, okTimeout)
	if !r.OK || got.BodyLen != 1000000 {
		t.Errorf("checker with GenHash's digest: %+v (body %d)", r, got.BodyLen)
	}

	tls := httptest.NewTLSServer(testMux(&seen{}))
	defer tls.Close()
	got, err = GenHash(ctx, tls.URL+"/500", GenHashOptions{})
	if err != nil || got.Status != 500 || got.MD5 != md5hex("boom\n") {
		t.Errorf("GenHash https = %+v, %v", got, err)
	}

	for _, bad := range []string{"ftp://x/", "http:///x", "://"} {
		if _, err := GenHash(ctx, bad, GenHashOptions{}); err == nil {
			t.Errorf("GenHash(%q) should fail", bad)
		}
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	if _, err := GenHash(ctx, "http://"+addr+"/", GenHashOptions{}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("GenHash to a closed port: %v", err)
	}
}

func TestHTTPCheckerIPv6(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatalf("this machine kind has IPv6 loopback: %v", err)
	}
	srv := httptest.NewUnstartedServer(testMux(&seen{}))
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	target := netip.MustParseAddrPort(l.Addr().String())
	r := check(t, Spec{Type: TypeHTTP, Target: target, BindTo: netip.MustParseAddr("::1"), URLs: []URL{{Path: "/ok", Digest: md5hex("hello world\n")}}}, okTimeout)
	if !r.OK {
		t.Errorf("Check over IPv6 = %+v", r)
	}
	r = check(t, Spec{Type: TypeTCP, Target: target}, okTimeout)
	if !r.OK {
		t.Errorf("TCP check over IPv6 = %+v", r)
	}
}
