package healthcheck

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"time"
)

// GenHashOptions tune GenHash, like keepalived --genhash's flags.
type GenHashOptions struct {
	// VirtualHost is the Host header (and TLS server name); default: the
	// URL's host.
	VirtualHost string
	// ConnectIP connects there instead of resolving the URL's host.
	ConnectIP netip.Addr
	// BindTo is the source address.
	BindTo netip.Addr
	// TLSVerify verifies the server certificate (https); CAFile adds roots.
	TLSVerify bool
	CAFile    string
	// Timeout bounds the whole fetch; default 5s.
	Timeout time.Duration
}

// GenHashResult is what GenHash read.
type GenHashResult struct {
	// Status is the HTTP status code; StatusLine the whole first line.
	Status     int
	StatusLine string
	// Headers in the order received.
	Headers []Header
	// MD5 is the lowercase hex MD5 of the body, the value for a url's digest.
	MD5 string
	// BodyLen is the body's length in bytes.
	BodyLen int64
}

// GenHash fetches rawURL (http or https) the way the HTTP checker does and
// returns the status, the headers and the MD5 of the body: the digest to
// configure, as `keepalived --genhash` prints it.
func GenHash(ctx context.Context, rawURL string, opts GenHashOptions) (GenHashResult, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return GenHashResult{}, fmt.Errorf("genhash: parse url: %w", err)
	}
	t := TypeHTTP
	defPort := 80
	switch u.Scheme {
	case "http":
	case "https":
		t, defPort = TypeHTTPS, 443
	default:
		return GenHashResult{}, fmt.Errorf("genhash: url %q: scheme must be http or https", rawURL)
	}
	if u.Hostname() == "" {
		return GenHashResult{}, fmt.Errorf("genhash: url %q has no host", rawURL)
	}
	port := defPort
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return GenHashResult{}, fmt.Errorf("genhash: url %q: bad port", rawURL)
		}
	}
	host := u.Hostname()
	if opts.ConnectIP.IsValid() {
		host = opts.ConnectIP.String()
	}
	target := net.JoinHostPort(host, strconv.Itoa(port))
	path := u.RequestURI()
	vhost := opts.VirtualHost
	if vhost == "" {
		vhost = u.Host
	}

	d := net.Dialer{KeepAlive: -1}
	if opts.BindTo.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: opts.BindTo.AsSlice(), Zone: opts.BindTo.Zone()}
	}
	spec := Spec{Type: t, TLSVerify: opts.TLSVerify, CAFile: opts.CAFile}
	var roots *x509.CertPool
	if t == TypeHTTPS && opts.TLSVerify && opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return GenHashResult{}, fmt.Errorf("genhash: read CA file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return GenHashResult{}, fmt.Errorf("genhash: no certificate in CA file %s", opts.CAFile)
		}
	}
	tlsCfg := clientTLSConfig(spec, vhost, roots)
	if t != TypeHTTPS {
		tlsCfg = nil
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, ph, err := fetch(ctx, &d, target, tlsCfg, buildRequest(path, vhost), fetchOpts{headers: true, hash: true}, newResources())
	if err != nil {
		r := classifyNetErr(err, ph, timeout)
		return GenHashResult{}, fmt.Errorf("genhash %s: %s: %w", rawURL, r.Reason, err)
	}
	return GenHashResult{
		Status:     resp.Status,
		StatusLine: resp.StatusLine,
		Headers:    resp.Headers,
		MD5:        resp.MD5,
		BodyLen:    resp.BodyLen,
	}, nil
}
