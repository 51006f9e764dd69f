package healthcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// ResultKind classifies a check result, for logs and metrics.
type ResultKind string

// Result kinds.
const (
	KindOK         ResultKind = "ok"
	KindStatus     ResultKind = "status"      // HTTP status not accepted
	KindDigest     ResultKind = "digest"      // body MD5 differs from the digest
	KindTimeout    ResultKind = "timeout"     // connect, response or script timed out
	KindRefused    ResultKind = "refused"     // connection refused (RST or ICMP port unreachable)
	KindTLS        ResultKind = "tls"         // handshake or certificate failure
	KindScriptExit ResultKind = "script-exit" // script exited non-zero (1, or 2-255 when not dynamic)
	KindDNS        ResultKind = "dns"         // DNS answer with a non-zero rcode, or malformed
	KindError      ResultKind = "error"       // anything else (reset, unreachable, bad response...)
)

// Result is the outcome of one check.
type Result struct {
	OK   bool
	Kind ResultKind
	// Reason is a precise human-readable explanation, e.g.
	// "status 500 not in 200-299" or "connection refused".
	Reason string
	// Weight is set by a dynamic script exiting 2-255 (weight = code-2).
	Weight *int
	// Duration is how long the check took.
	Duration time.Duration
}

func okResult(reason string) Result {
	return Result{OK: true, Kind: KindOK, Reason: reason}
}

func failResult(kind ResultKind, format string, args ...any) Result {
	return Result{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// phase says what a network check was doing when it failed.
type phase string

const (
	phaseConnect   phase = "connect"
	phaseHandshake phase = "TLS handshake"
	phaseRequest   phase = "sending request"
	phaseResponse  phase = "reading response"
)

// classifyNetErr turns a network error into a result kind and reason.
// timeout is the configured budget, quoted in timeout reasons.
func classifyNetErr(err error, ph phase, timeout time.Duration) Result {
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var alert tls.AlertError
	var recHdr tls.RecordHeaderError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		if ph == phaseConnect {
			return failResult(KindTimeout, "connect timeout after %v", timeout)
		}
		return failResult(KindTimeout, "timeout after %v %s", timeout, ph)
	case errors.Is(err, context.Canceled):
		return failResult(KindError, "%s: check cancelled", ph)
	case errors.Is(err, syscall.ECONNREFUSED):
		return failResult(KindRefused, "connection refused")
	case errors.Is(err, syscall.ECONNRESET):
		return failResult(KindError, "connection reset by peer while %s", ph)
	case errors.Is(err, syscall.EHOSTUNREACH):
		return failResult(KindError, "no route to host")
	case errors.Is(err, syscall.ENETUNREACH):
		return failResult(KindError, "network unreachable")
	case errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr):
		return failResult(KindTLS, "TLS certificate: %v", unwrapOp(err))
	case errors.As(err, &alert) || errors.As(err, &recHdr) || ph == phaseHandshake:
		return failResult(KindTLS, "TLS handshake: %v", unwrapOp(err))
	}
	return failResult(KindError, "%s: %v", ph, unwrapOp(err))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unwrapOp drops net.OpError's "dial tcp a->b:" prefix, which the reason
// already implies.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
