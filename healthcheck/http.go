package healthcheck

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// httpChecker is keepalived's HTTP_GET / SSL_GET: for each URL, one
// connection, one HTTP/1.0 request with Connection: close, the status
// checked against the accepted codes and, if a digest is set, the MD5 of
// the body compared. It is a small hand-written client: one request per
// connection needs none of net/http's pooling, and costs far less.
type httpChecker struct {
	dialer net.Dialer
	target string
	// sa and bind are the target and source for the reactor; sa is nil
	// when the reactor cannot dial it (a scoped IPv6 address).
	sa, bind unix.Sockaddr
	urls     []httpURL
	res      *resources
}

type httpURL struct {
	URL
	req []byte
	tls *tls.Config // nil for plain HTTP
}

func newHTTPChecker(s Spec, res *resources) (*httpChecker, error) {
	c := &httpChecker{target: s.Target.String(), res: res}
	c.dialer.KeepAlive = -1 // one request per connection: no keepalive probes to set up
	c.sa, c.bind = sockaddrs(s.Target, s.BindTo)
	if s.BindTo.IsValid() {
		c.dialer.LocalAddr = &net.TCPAddr{IP: s.BindTo.AsSlice(), Zone: s.BindTo.Zone()}
	}
	var roots *x509.CertPool
	if s.Type == TypeHTTPS && s.TLSVerify && s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("new https checker: read CA file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("new https checker: no certificate in CA file %s", s.CAFile)
		}
	}
	for _, u := range s.URLs {
		hu := httpURL{URL: u, req: buildRequest(u.Path, hostHeader(u.VirtualHost, s.Target, s.Type))}
		if s.Type == TypeHTTPS {
			hu.tls = clientTLSConfig(s, u.VirtualHost, roots)
		}
		c.urls = append(c.urls, hu)
	}
	return c, nil
}

// clientTLSConfig builds the TLS config of one URL: server name from SNI,
// else the virtual host (sent as SNI), else, only to verify against, the
// target IP (Go sends no SNI for an IP).
func clientTLSConfig(s Spec, vhost string, roots *x509.CertPool) *tls.Config {
	name := s.SNI
	if name == "" {
		name = stripPort(vhost)
	}
	if name == "" && s.TLSVerify {
		name = s.Target.Addr().WithZone("").String()
	}
	return &tls.Config{
		ServerName:         name,
		InsecureSkipVerify: !s.TLSVerify, //nolint:gosec // keepalived's SSL_GET does not verify unless asked
		RootCAs:            roots,
		ClientSessionCache: tls.NewLRUClientSessionCache(1),
	}
}

func stripPort(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}

// hostHeader is the virtual host, else the target address with its port
// unless it is the scheme's default.
func hostHeader(vhost string, target netip.AddrPort, t CheckType) string {
	if vhost != "" {
		return vhost
	}
	a := target.Addr().WithZone("")
	host := a.String()
	if a.Is6() {
		host = "[" + host + "]"
	}
	if (t == TypeHTTP && target.Port() == 80) || (t == TypeHTTPS && target.Port() == 443) {
		return host
	}
	return host + ":" + strconv.Itoa(int(target.Port()))
}

func buildRequest(path, host string) []byte {
	return []byte("GET " + path + " HTTP/1.0\r\nUser-Agent: lvsd-healthcheck\r\nHost: " + host +
		"\r\nConnection: close\r\nAccept: */*\r\n\r\n")
}

func (c *httpChecker) Check(ctx context.Context) Result {
	start := time.Now()
	budget := checkBudget(ctx, start)
	var last Result
	for i := range c.urls {
		last = c.checkURL(ctx, &c.urls[i], budget)
		if !last.OK {
			break
		}
	}
	last.Duration = time.Since(start)
	return last
}

func (c *httpChecker) checkURL(ctx context.Context, u *httpURL, budget time.Duration) Result {
	resp, ph, err := fetch(ctx, &c.dialer, c.target, u.tls, u.req, u.opts(), c.res)
	return u.evaluate(resp, ph, err, budget)
}

func (u *httpURL) opts() fetchOpts {
	return fetchOpts{hash: u.Digest != "", accept: func(code int) bool { return statusOK(u.StatusCodes, code) }}
}

// evaluate turns what fetch (or the reactor) read into a Result.
func (u *httpURL) evaluate(resp response, ph phase, err error, budget time.Duration) Result {
	if err != nil {
		r := classifyNetErr(err, ph, budget)
		r.Reason = "GET " + u.Path + ": " + r.Reason
		return r
	}
	if !statusOK(u.StatusCodes, resp.Status) {
		return failResult(KindStatus, "GET %s: status %d not in %s", u.Path, resp.Status, formatRanges(u.StatusCodes))
	}
	if u.Digest != "" {
		if got := resp.MD5; got != u.Digest {
			return failResult(KindDigest, "GET %s: digest mismatch: got %s want %s", u.Path, got, u.Digest)
		}
		return okResult(fmt.Sprintf("GET %s: status %d, digest ok", u.Path, resp.Status))
	}
	return okResult(fmt.Sprintf("GET %s: status %d", u.Path, resp.Status))
}

// Header is one response header line, as received.
type Header struct {
	Name, Value string
}

// response is what fetch read.
type response struct {
	Status     int
	StatusLine string
	Headers    []Header // only with fetchOpts.headers
	MD5        string   // lowercase hex; only with fetchOpts.hash
	BodyLen    int64
}

type fetchOpts struct {
	headers bool           // keep the header lines
	hash    bool           // MD5 the body
	accept  func(int) bool // if it says no to the status, stop before the body
	limit   int64          // max body bytes read (0: no limit)
}

var errMalformed = errors.New("malformed response")

// fetch makes one HTTP/1.0 request on a new connection and reads the
// response to its end (Content-Length, chunked, or close). On error it
// also says in which phase it failed.
func fetch(ctx context.Context, d *net.Dialer, target string, tlsCfg *tls.Config, req []byte, o fetchOpts, res *resources) (response, phase, error) {
	var resp response
	conn, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return resp, phaseConnect, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return resp, phaseConnect, fmt.Errorf("set deadline: %w", err)
		}
	}
	// Cancellation (not only the deadline) must unblock reads too.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	var rw io.ReadWriter = conn
	if tlsCfg != nil {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return resp, phaseHandshake, err
		}
		rw = tc
	}
	if _, err := rw.Write(req); err != nil {
		return resp, phaseRequest, err
	}

	br := res.readers.Get().(*bufio.Reader)
	br.Reset(rw)
	defer func() { br.Reset(nil); res.readers.Put(br) }()

	resp, hd, err := parseHead(br, o.headers)
	if err != nil {
		return resp, phaseResponse, err
	}
	if o.accept != nil && !o.accept(resp.Status) {
		return resp, phaseResponse, nil
	}

	var h hash.Hash
	var w io.Writer = io.Discard
	if o.hash {
		h = md5.New()
		w = h
	}
	contentLength, chunked, serverCloses := hd.contentLength, hd.chunked, hd.serverCloses
	limit := contentLength
	if chunked {
		resp.BodyLen, err = copyChunked(w, br)
	} else {
		if o.limit > 0 && (limit < 0 || limit > o.limit) {
			limit = o.limit
		}
		resp.BodyLen, err = copyN(w, br, limit, contentLength >= 0)
	}
	if err != nil {
		return resp, phaseResponse, err
	}
	if serverCloses || contentLength < 0 {
		// Wait for the server's FIN (anything more is not body); once the
		// server has closed, close with a reset, as the reactor does: no
		// FIN/ACK exchange and no TIME_WAIT left on the server.
		if _, err := br.Peek(1); err == nil {
			_, _ = br.Discard(br.Buffered())
			_, err = br.Peek(1)
			if errors.Is(err, io.EOF) {
				_ = conn.(*net.TCPConn).SetLinger(0)
			}
		} else if errors.Is(err, io.EOF) {
			_ = conn.(*net.TCPConn).SetLinger(0)
		}
	}
	if h != nil {
		var sum [md5.Size]byte
		resp.MD5 = hex.EncodeToString(h.Sum(sum[:0]))
	}
	return resp, phaseResponse, nil
}

// head is what the response head says about the body.
type head struct {
	contentLength int64 // -1: none
	chunked       bool
	// serverCloses: HTTP/1.0 without keep-alive, or Connection: close.
	// Then the body is read to EOF even past Content-Length, so that the
	// server closes first and keeps the TIME_WAIT (as with keepalived),
	// instead of every check leaving one on the director.
	serverCloses bool
}

// parseHead reads the status line and the headers.
func parseHead(br *bufio.Reader, keepHeaders bool) (resp response, hd head, err error) {
	line, err := readLine(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("connection closed before status line: %w", errMalformed)
		}
		return resp, hd, err
	}
	resp.Status, err = parseStatusLine(line)
	if err != nil {
		return resp, hd, err
	}
	if keepHeaders {
		resp.StatusLine = string(line)
	}
	hd.contentLength = -1
	hd.serverCloses = bytes.HasPrefix(line, []byte("HTTP/1.0 "))
	for {
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("connection closed in headers: %w", errMalformed)
			}
			return resp, hd, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return resp, hd, fmt.Errorf("header line without colon %q: %w", line, errMalformed)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return resp, hd, fmt.Errorf("bad Content-Length %q: %w", value, errMalformed)
			}
			hd.contentLength = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			hd.chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			switch {
			case bytes.EqualFold(value, []byte("close")):
				hd.serverCloses = true
			case bytes.EqualFold(value, []byte("keep-alive")):
				hd.serverCloses = false
			}
		}
		if keepHeaders {
			resp.Headers = append(resp.Headers, Header{Name: string(name), Value: string(value)})
		}
	}
	return resp, hd, nil
}

// readLine reads one line without its CR LF; the slice is valid until the
// next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("line longer than %d bytes: %w", br.Size(), errMalformed)
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatusLine reads the code from "HTTP/1.1 200 OK".
func parseStatusLine(line []byte) (int, error) {
	proto, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok || !bytes.HasPrefix(proto, []byte("HTTP/")) || len(rest) < 3 {
		return 0, fmt.Errorf("bad status line %q: %w", truncate(line, 64), errMalformed)
	}
	code := 0
	for _, c := range rest[:3] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad status line %q: %w", truncate(line, 64), errMalformed)
		}
		code = code*10 + int(c-'0')
	}
	if len(rest) > 3 && rest[3] != ' ' {
		return 0, fmt.Errorf("bad status line %q: %w", truncate(line, 64), errMalformed)
	}
	return code, nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// copyN copies n bytes (n < 0: to EOF) from br to w through br's own
// buffer, without allocating. exact says n came from Content-Length, so a
// short body is an error.
func copyN(w io.Writer, br *bufio.Reader, n int64, exact bool) (int64, error) {
	var total int64
	for n < 0 || total < n {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					if n >= 0 && exact {
						return total, fmt.Errorf("body ended after %d of %d bytes: %w", total, n, io.ErrUnexpectedEOF)
					}
					return total, nil
				}
				return total, err
			}
		}
		k := br.Buffered()
		if n >= 0 && int64(k) > n-total {
			k = int(n - total)
		}
		b, _ := br.Peek(k)
		if _, err := w.Write(b); err != nil {
			return total, err
		}
		_, _ = br.Discard(k)
		total += int64(k)
	}
	return total, nil
}

// copyChunked decodes a chunked body into w.
func copyChunked(w io.Writer, br *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := readLine(br)
		if err != nil {
			return total, fmt.Errorf("chunk size: %w", err)
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return total, fmt.Errorf("bad chunk size %q: %w", line, errMalformed)
		}
		if size == 0 {
			for { // trailers
				line, err := readLine(br)
				if err != nil || len(line) == 0 {
					return total, nil
				}
			}
		}
		n, err := copyN(w, br, size, true)
		total += n
		if err != nil {
			return total, err
		}
		if line, err := readLine(br); err != nil || len(line) != 0 {
			return total, fmt.Errorf("chunk not followed by CRLF: %w", errMalformed)
		}
	}
}
