package healthcheck

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func startDNS(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc("ok.test.", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		rr, _ := dns.NewRR("ok.test. 60 IN A 192.0.2.1")
		m.Answer = append(m.Answer, rr)
		_ = w.WriteMsg(m)
	})
	mux.HandleFunc(".", func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if q.Question[0].Qtype == dns.TypeSOA && q.Question[0].Name == "." {
			rr, _ := dns.NewRR(". 60 IN SOA a. b. 1 2 3 4 5")
			m.Answer = append(m.Answer, rr)
		} else {
			m.SetRcode(q, dns.RcodeNameError)
		}
		_ = w.WriteMsg(m)
	})
	mux.HandleFunc("slow.test.", func(dns.ResponseWriter, *dns.Msg) {})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

func TestDNSChecker(t *testing.T) {
	srv := startDNS(t)
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	closed := netip.MustParseAddrPort(pc.LocalAddr().String())
	pc.Close()
	tests := []struct {
		name       string
		spec       Spec
		wantOK     bool
		wantKind   ResultKind
		timeout    time.Duration
		wantReason string
	}{
		{"default SOA .", Spec{Target: srv}, true, KindOK, okTimeout, "DNS SOA .: NOERROR, 1 answers"},
		{"A record", Spec{Target: srv, DNSType: "a", DNSName: "ok.test"}, true, KindOK, okTimeout, "DNS A ok.test.: NOERROR"},
		{"NXDOMAIN", Spec{Target: srv, DNSType: "A", DNSName: "missing.example"}, false, KindDNS, okTimeout, "rcode NXDOMAIN"},
		{"no answer", Spec{Target: srv, DNSType: "A", DNSName: "slow.test"}, false, KindTimeout, 300 * time.Millisecond, "timeout after 300ms"},
		{"port closed", Spec{Target: closed}, false, KindRefused, okTimeout, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Type = TypeDNS
			r := check(t, tt.spec, tt.timeout)
			t.Logf("%s: %s", r.Kind, r.Reason)
			if r.OK != tt.wantOK || r.Kind != tt.wantKind || !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("Check = %+v, want ok=%t kind=%s reason %q", r, tt.wantOK, tt.wantKind, tt.wantReason)
			}
		})
	}
}
