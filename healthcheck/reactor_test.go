//go:build linux

package healthcheck

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestHeadEnd(t *testing.T) {
	tests := []struct {
		in   string
		from int
		want int
	}{
		{"HTTP/1.0 200 OK\r\n\r\nbody", 0, 19},
		{"HTTP/1.0 200 OK\n\nbody", 0, 17},
		{"HTTP/1.0 200 OK\r\nA: b\r\n\r\n", 0, 25},
		{"HTTP/1.0 200 OK\r\nA: b\r\n", 0, -1},
		{"HTTP/1.0 200 OK\r\n\r", 0, -1},
		{"HTTP/1.0 200 OK\r\n\r\n", 15, 19},
	}
	for _, tt := range tests {
		if got := headEnd([]byte(tt.in), tt.from); got != tt.want {
			t.Errorf("headEnd(%q, %d) = %d, want %d", tt.in, tt.from, got, tt.want)
		}
	}
}

// TestFragmentedResponse sends the response a few bytes at a time, so that
// the head and the body arrive split across many reads.
func TestFragmentedResponse(t *testing.T) {
	body := "fragmented body\n"
	resp := fmt.Sprintf("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
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
			go func() {
				defer c.Close()
				_, _ = c.Read(make([]byte, 1024))
				for i := 0; i < len(resp); i += 3 {
					_, _ = c.Write([]byte(resp[i:min(i+3, len(resp))]))
					time.Sleep(time.Millisecond)
				}
			}()
		}
	}()
	target := netip.MustParseAddrPort(l.Addr().String())
	r := check(t, Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/a", Digest: md5hex(body)}, {Path: "/b"}}}, 2*time.Second)
	if !r.OK || r.Reason != "GET /b: status 200" {
		t.Errorf("Check = %+v", r)
	}
	r = check(t, Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/a", Digest: md5hex("other")}}}, 2*time.Second)
	if r.OK || r.Kind != KindDigest {
		t.Errorf("Check = %+v, want a digest mismatch", r)
	}
}
