package healthcheck

import (
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fullListener returns the address of a listening socket whose accept
// queue is full, so further SYNs are dropped and connects time out.
func fullListener(t *testing.T) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	ap := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*syscall.SockaddrInet4).Port))
	for i := 0; i < 3; i++ {
		if c, err := net.DialTimeout("tcp", ap.String(), 100*time.Millisecond); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return ap
}

func TestTCPChecker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := netip.MustParseAddrPort(l.Addr().String())
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := netip.MustParseAddrPort(l2.Addr().String())
	l2.Close()

	tests := []struct {
		name       string
		spec       Spec
		wantOK     bool
		wantKind   ResultKind
		timeout    time.Duration
		wantReason string
	}{
		{"open", Spec{Target: open}, true, KindOK, okTimeout, "connected"},
		{"bindto", Spec{Target: open, BindTo: netip.MustParseAddr("127.0.0.1")}, true, KindOK, okTimeout, "connected"},
		{"refused", Spec{Target: closed}, false, KindRefused, okTimeout, "connection refused"},
		{"timeout", Spec{Target: fullListener(t)}, false, KindTimeout, 300 * time.Millisecond, "connect timeout after 300ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Type = TypeTCP
			r := check(t, tt.spec, tt.timeout)
			t.Logf("%s: %s", r.Kind, r.Reason)
			if r.OK != tt.wantOK || r.Kind != tt.wantKind || !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("Check = %+v, want ok=%t kind=%s reason %q", r, tt.wantOK, tt.wantKind, tt.wantReason)
			}
		})
	}
}
