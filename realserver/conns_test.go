package realserver

import (
	"maps"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
)

const procHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

func TestParseProcNetTCP(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []Socket
		wantErr string
	}{
		{name: "empty table"},
		{
			name: "ipv4 listen and established",
			body: "   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0\n" +
				"   1: 5A38A8C0:0050 0B00000A:D431 01 00000000:00000000 02:000A7B1F 00000000    33        0 5678 2 0000000000000000 20 4 30 10 -1\n",
			want: []Socket{
				{Local: netip.MustParseAddrPort("127.0.0.1:3306"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), State: 0x0A},
				{Local: netip.MustParseAddrPort("192.168.56.90:80"), Remote: netip.MustParseAddrPort("10.0.0.11:54321"), State: 0x01},
			},
		},
		{
			name: "ipv6 and a mapped ipv4",
			body: "   0: B80D0120000000000000000090000000:0050 B80D0120000000000000000011000000:C350 01 00000000:00000000 00:00000000 00000000 0 0 1 1\n" +
				"   1: 0000000000000000FFFF00005A38A8C0:0050 0000000000000000FFFF00000B00000A:C350 01 00000000:00000000 00:00000000 00000000 0 0 1 1\n",
			want: []Socket{
				{Local: netip.MustParseAddrPort("[2001:db8::90]:80"), Remote: netip.MustParseAddrPort("[2001:db8::11]:50000"), State: 1},
				{Local: netip.MustParseAddrPort("[::ffff:192.168.56.90]:80"), Remote: netip.MustParseAddrPort("[::ffff:10.0.0.11]:50000"), State: 1},
			},
		},
		{name: "short line", body: "   0: 0100007F:0CEA\n", wantErr: "line 2"},
		{name: "bad hex", body: "   0: 0100007G:0CEA 00000000:0000 0A\n", wantErr: "local address"},
		{name: "bad length", body: "   0: 0100007F:0CEA 000000:0000 0A\n", wantErr: "remote address"},
		{name: "bad state", body: "   0: 0100007F:0CEA 00000000:0000 XYZ\n", wantErr: "state"},
		{name: "no sl", body: "   0 0100007F:0CEA 00000000:0000 0A\n", wantErr: "want sl:"},
		{name: "line too long", body: strings.Repeat("x", 600) + "\n", wantErr: "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcNetTCP(strings.NewReader(procHeader + tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("[%d] = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCountEstablished(t *testing.T) {
	vip4, vip6 := netip.MustParseAddr("192.168.56.90"), netip.MustParseAddr("2001:db8::90")
	s := func(local string, st uint8) Socket {
		return Socket{Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort("10.0.0.1:1"), State: st}
	}
	socks := []Socket{
		s("192.168.56.90:80", 1), s("192.168.56.90:80", 1), s("192.168.56.90:80", 0x0A), // listen: no
		s("192.168.56.90:80", 0x06), // TIME_WAIT: no
		s("10.0.0.2:80", 1),         // not a VIP
		s("[::ffff:192.168.56.90]:80", 1), s("[2001:db8::90]:443", 1),
	}
	tests := []struct {
		vips []netip.Addr
		want int
	}{
		{nil, 0},
		{[]netip.Addr{vip4}, 3},
		{[]netip.Addr{vip6}, 1},
		{[]netip.Addr{vip4, vip6}, 4},
	}
	for _, tt := range tests {
		if got := CountEstablished(socks, tt.vips); got != tt.want {
			t.Errorf("CountEstablished(%v) = %d, want %d", tt.vips, got, tt.want)
		}
	}
}

// The snapshot keeps every socket to a VIP but the listeners, by its
// 4-tuple with mapped addresses unmapped; Established counts state 1 only.
func TestSnapshotVIPs(t *testing.T) {
	vip4, vip6 := netip.MustParseAddr("192.168.56.90"), netip.MustParseAddr("2001:db8::90")
	s := func(local, remote string, st uint8) Socket {
		return Socket{Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), State: st}
	}
	k := func(local, remote string) ConnKey {
		return ConnKey{netip.MustParseAddrPort(local), netip.MustParseAddrPort(remote)}
	}
	socks := []Socket{
		s("192.168.56.90:80", "10.0.0.1:1", 1),
		s("192.168.56.90:80", "0.0.0.0:0", 0x0A),  // listener: no
		s("192.168.56.90:80", "10.0.0.1:2", 0x06), // TIME_WAIT: kept
		s("192.168.56.90:80", "10.0.0.1:3", 0x03), // SYN_RECV: kept
		s("10.0.0.2:80", "10.0.0.1:4", 1),         // not a VIP
		s("[::ffff:192.168.56.90]:80", "[::ffff:10.0.0.1]:5", 1),
		s("[2001:db8::90]:443", "[2001:db8::1]:6", 0x08), // CLOSE_WAIT
	}
	tests := []struct {
		name string
		vips []netip.Addr
		want VIPConns
		est  int
	}{
		{"no vips", nil, VIPConns{}, 0},
		{"ipv4", []netip.Addr{vip4}, VIPConns{
			k("192.168.56.90:80", "10.0.0.1:1"): 1, k("192.168.56.90:80", "10.0.0.1:2"): 6,
			k("192.168.56.90:80", "10.0.0.1:3"): 3, k("192.168.56.90:80", "10.0.0.1:5"): 1}, 2},
		{"ipv6", []netip.Addr{vip6}, VIPConns{k("[2001:db8::90]:443", "[2001:db8::1]:6"): 8}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SnapshotVIPs(socks, tt.vips)
			if !maps.Equal(got, tt.want) {
				t.Errorf("SnapshotVIPs = %v\nwant %v", got, tt.want)
			}
			if got.Established() != tt.est {
				t.Errorf("Established() = %d, want %d", got.Established(), tt.est)
			}
		})
	}
}

// Arrivals counts what is new between two snapshots: an unseen 4-tuple in
// any state (a short connection caught already closing), or a 4-tuple
// seen closing that opens again; a connection only changing state, or
// going, is none.
func TestArrivals(t *testing.T) {
	k := func(port uint16) ConnKey {
		return ConnKey{netip.MustParseAddrPort("192.168.56.90:80"), netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port)}
	}
	tests := []struct {
		name      string
		prev, cur VIPConns
		want      int
	}{
		{"both empty", VIPConns{}, VIPConns{}, 0},
		{"nothing before", nil, VIPConns{k(1): 1, k(2): 3}, 2},
		{"unchanged", VIPConns{k(1): 1}, VIPConns{k(1): 1}, 0},
		{"gone", VIPConns{k(1): 1, k(2): 1}, VIPConns{k(1): 1}, 0},
		{"established to closing", VIPConns{k(1): 1}, VIPConns{k(1): 8}, 0},
		{"syn_recv to established", VIPConns{k(1): 3}, VIPConns{k(1): 1}, 0},
		{"new established", VIPConns{k(1): 1}, VIPConns{k(1): 1, k(2): 1}, 1},
		{"new syn_recv", VIPConns{}, VIPConns{k(2): 3}, 1},
		{"new already in time_wait", VIPConns{k(1): 1}, VIPConns{k(9): 6}, 1},
		{"time_wait reused", VIPConns{k(1): 6}, VIPConns{k(1): 3}, 1},
		{"close_wait reused", VIPConns{k(1): 8}, VIPConns{k(1): 1}, 1},
		{"several", VIPConns{k(1): 1, k(2): 6}, VIPConns{k(2): 1, k(3): 1, k(4): 6}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Arrivals(tt.prev, tt.cur); got != tt.want {
				t.Errorf("Arrivals(%v, %v) = %d, want %d", tt.prev, tt.cur, got, tt.want)
			}
		})
	}
}

// The parser reads this kernel's table: a loopback connection made here is
// found, established, with the listener's port (read only; no root).
func TestProcNetTCPLive(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	socks, err := ParseProcNetTCP(f)
	if err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddrPort(s.LocalAddr().String())
	found := false
	for _, so := range socks {
		if so.Local == want && so.Remote == netip.MustParseAddrPort(c.LocalAddr().String()) && so.State == tcpEstablished {
			found = true
		}
	}
	if !found {
		t.Errorf("the accepted connection %v <- %v is not in /proc/net/tcp (%d sockets)", s.LocalAddr(), c.LocalAddr(), len(socks))
	}
	snap, err := VIPConnsNow([]netip.Addr{netip.MustParseAddr("127.0.0.1")})
	if st, ok := snap[ConnKey{want, netip.MustParseAddrPort(c.LocalAddr().String())}]; err != nil || !ok || st != tcpEstablished {
		t.Errorf("VIPConnsNow(127.0.0.1) has the accepted connection in state %d (found %v), %v; want established", st, ok, err)
	}
	if n, err := EstablishedToVIPs([]netip.Addr{netip.MustParseAddr("127.0.0.1")}); err != nil || n < 2 {
		t.Errorf("EstablishedToVIPs(127.0.0.1) = %d, %v; want at least the 2 ends", n, err)
	}
}
