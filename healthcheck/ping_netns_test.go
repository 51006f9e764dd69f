//go:build netns

package healthcheck

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// TestNetnsPingChecker pings a real server in a namespace lab (needs
// root): through a raw ICMP socket while the namespace's
// net.ipv4.ping_group_range forbids ping sockets (the kernel's default,
// "1 0"), through a ping socket once it allows them, and a missing host
// and a cut link fail by timeout.
func TestNetnsPingChecker(t *testing.T) {
	lab := netnslab.NewT(t, "ping")
	lan, err := lab.AddSwitch("lan")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := lab.AddHost("lb", lan, netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("fd00::1/64"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.AddHost("rs", lan, netip.MustParsePrefix("10.0.0.2/24"), netip.MustParsePrefix("fd00::2/64")); err != nil {
		t.Fatal(err)
	}
	rsLink := lab.Links()[len(lab.Links())-1]
	const forbid, allow = "1\t0", "0\t2147483647"

	tests := []struct {
		name       string
		target     string
		pingGroup  string
		cut        bool
		timeout    time.Duration
		wantOK     bool
		wantReason string
	}{
		{"raw socket when ping sockets are forbidden", "10.0.0.2", forbid, false, okTimeout, true, "echo reply (raw ICMP socket)"},
		{"ping socket when allowed", "10.0.0.2", allow, false, okTimeout, true, "echo reply (ping socket)"},
		{"IPv6, ping socket", "fd00::2", allow, false, okTimeout, true, "echo reply (ping socket)"},
		{"IPv6, raw socket", "fd00::2", forbid, false, okTimeout, true, "echo reply (raw ICMP socket)"},
		{"no such host", "10.0.0.3", allow, false, time.Second, false, "no echo reply within 1s"},
		{"cut link", "10.0.0.2", forbid, true, time.Second, false, "no echo reply within 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := lb.Sysctl("net.ipv4.ping_group_range", tt.pingGroup); err != nil {
				t.Fatal(err)
			}
			if tt.cut {
				if err := rsLink.Cut(); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = rsLink.Restore() }()
			}
			c, err := NewChecker(Spec{Type: TypePing, Target: netip.AddrPortFrom(netip.MustParseAddr(tt.target), 0)})
			if err != nil {
				t.Fatal(err)
			}
			var r Result
			// The first IPv6 pings may meet duplicate address detection:
			// passing cases get a few attempts, as a delay_loop would.
			for range 5 {
				_ = lb.Do(func() error {
					ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
					defer cancel()
					r = c.Check(ctx)
					return nil
				})
				if r.OK || !tt.wantOK {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			t.Logf("%s: %s (%v)", r.Kind, r.Reason, r.Duration)
			if r.OK != tt.wantOK || !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("Check = %+v, want ok=%t reason %q", r, tt.wantOK, tt.wantReason)
			}
		})
	}
}
