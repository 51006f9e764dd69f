package healthcheck

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseStatusRanges(t *testing.T) {
	tests := []struct {
		in      string
		want    []StatusRange
		wantErr string
	}{
		{"200", []StatusRange{{200, 200}}, ""},
		{"200-299 400-499 503", []StatusRange{{200, 299}, {400, 499}, {503, 503}}, ""},
		{"200,301", []StatusRange{{200, 200}, {301, 301}}, ""},
		{"", nil, "empty"},
		{"299-200", nil, "upside down"},
		{"abc", nil, "not a number"},
		{"99", nil, "out of 100-999"},
		{"200-", nil, "not a number"},
	}
	for _, tt := range tests {
		got, err := ParseStatusRanges(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseStatusRanges(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseStatusRanges(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestKey(t *testing.T) {
	target := netip.MustParseAddrPort("10.0.0.1:80")
	tm := timing(1, false, 0, 0)
	base := Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/", Digest: "ABCDEF0123456789abcdef0123456789"}}}
	same := []struct {
		name string
		a, b Spec
	}{
		{"default status and case of digest",
			base,
			Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/", Digest: "abcdef0123456789abcdef0123456789", StatusCodes: []StatusRange{{200, 299}}}}}},
		{"no url means GET /", Spec{Type: TypeHTTP, Target: target}, Spec{Type: TypeHTTP, Target: target, URLs: []URL{{}}}},
		{"spec virtualhost is the url's default",
			Spec{Type: TypeHTTP, Target: target, VirtualHost: "a", URLs: []URL{{Path: "/x"}}},
			Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/x", VirtualHost: "a"}}}},
		{"dns defaults", Spec{Type: TypeDNS, Target: target}, Spec{Type: TypeDNS, Target: target, DNSType: "soa", DNSName: "."}},
		{"fields of other types ignored", Spec{Type: TypeTCP, Target: target}, Spec{Type: TypeTCP, Target: target, Command: []string{"x"}, SNI: "y", Payload: []byte{1}, HeloName: "h"}},
		{"smtp default helo", Spec{Type: TypeSMTP, Target: target}, Spec{Type: TypeSMTP, Target: target, HeloName: DefaultHeloName}},
		{"udp default reply length", Spec{Type: TypeUDP, Target: target, RequireReply: true}, Spec{Type: TypeUDP, Target: target, RequireReply: true, MaxReply: 255}},
		{"udp reply ignored unless required", Spec{Type: TypeUDP, Target: target}, Spec{Type: TypeUDP, Target: target, Reply: []byte{1}}},
	}
	for _, tt := range same {
		if ka, kb := Key(tt.a, tm), Key(tt.b, tm); ka != kb {
			t.Errorf("%s: keys differ:\n%s\n%s", tt.name, ka, kb)
		}
	}
	different := []struct {
		name   string
		b      Spec
		timing Timing
	}{
		{"port", Spec{Type: TypeHTTP, Target: netip.MustParseAddrPort("10.0.0.1:81"), URLs: base.URLs}, tm},
		{"address", Spec{Type: TypeHTTP, Target: netip.MustParseAddrPort("10.0.0.2:80"), URLs: base.URLs}, tm},
		{"type", Spec{Type: TypeHTTPS, Target: target, URLs: base.URLs}, tm},
		{"path", Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/x", Digest: base.URLs[0].Digest}}}, tm},
		{"status", Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/", Digest: base.URLs[0].Digest, StatusCodes: []StatusRange{{200, 200}}}}}, tm},
		{"bindto", Spec{Type: TypeHTTP, Target: target, URLs: base.URLs, BindTo: netip.MustParseAddr("10.0.0.9")}, tm},
		{"delay_loop", base, Timing{DelayLoop: 5 * time.Second, ConnectTimeout: time.Second, Retry: 1, DelayBeforeRetry: dbr}},
		{"alpha", base, timing(1, true, 0, 0)},
	}
	for _, tt := range different {
		if Key(base, tm) == Key(tt.b, tt.timing) {
			t.Errorf("%s: keys should differ: %s", tt.name, Key(base, tm))
		}
	}
	pairs := []struct {
		name string
		a, b Spec
	}{
		{"udp payload", Spec{Type: TypeUDP, Target: target}, Spec{Type: TypeUDP, Target: target, Payload: []byte{1}}},
		{"udp reply", Spec{Type: TypeUDP, Target: target, RequireReply: true}, Spec{Type: TypeUDP, Target: target, RequireReply: true, Reply: []byte{1}}},
		{"udp require_reply", Spec{Type: TypeUDP, Target: target}, Spec{Type: TypeUDP, Target: target, RequireReply: true}},
		{"smtp helo", Spec{Type: TypeSMTP, Target: target}, Spec{Type: TypeSMTP, Target: target, HeloName: "x"}},
	}
	for _, tt := range pairs {
		if Key(tt.a, tm) == Key(tt.b, tm) {
			t.Errorf("%s: keys should differ: %s", tt.name, Key(tt.a, tm))
		}
	}
}

func TestSpecValidate(t *testing.T) {
	target := netip.MustParseAddrPort("10.0.0.1:80")
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"http ok", Spec{Type: TypeHTTP, Target: target}, ""},
		{"no port", Spec{Type: TypeTCP, Target: netip.AddrPortFrom(target.Addr(), 0)}, "needs an address and a port"},
		{"bad digest", Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Digest: "xyz"}}}, "not 32 hex digits"},
		{"relative path", Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "x"}}}, "must start with /"},
		{"header injection", Spec{Type: TypeHTTP, Target: target, URLs: []URL{{Path: "/\r\nX: y"}}}, "line break"},
		{"empty script", Spec{Type: TypeScript}, "empty command"},
		{"script ok", Spec{Type: TypeScript, Command: []string{"/bin/true"}}, ""},
		{"dns type", Spec{Type: TypeDNS, Target: target, DNSType: "BOGUS"}, "unknown query type"},
		{"unknown type", Spec{Type: "bogus", Target: target}, "unknown check type"},
		{"ping needs no port", Spec{Type: TypePing, Target: netip.AddrPortFrom(target.Addr(), 0)}, ""},
		{"ping needs an address", Spec{Type: TypePing}, "needs an address"},
		{"udp needs a port", Spec{Type: TypeUDP, Target: netip.AddrPortFrom(target.Addr(), 0)}, "needs an address and a port"},
		{"udp lengths upside down", Spec{Type: TypeUDP, Target: target, RequireReply: true, MinReply: 9, MaxReply: 3}, "min <= max"},
		{"udp mask length", Spec{Type: TypeUDP, Target: target, RequireReply: true, Reply: []byte{1, 2}, ReplyMask: []byte{0}}, "differ in length"},
		{"smtp ok", Spec{Type: TypeSMTP, Target: target}, ""},
		{"smtp helo with a space", Spec{Type: TypeSMTP, Target: target, HeloName: "a b"}, "must be one word"},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestTimingValidateAndDefaults(t *testing.T) {
	if err := (Timing{}).Validate(); err == nil {
		t.Error("zero Timing should not validate")
	}
	d := DefaultTiming()
	if err := d.Validate(); err != nil {
		t.Errorf("DefaultTiming(): %v", err)
	}
	want := Timing{DelayLoop: time.Minute, ConnectTimeout: 5 * time.Second, Retry: 1, DelayBeforeRetry: 3 * time.Second}
	if d != want || d.fall() != 2 || d.rise() != 1 {
		t.Errorf("defaults = %v, want %v (fall 2, rise 1)", d, want)
	}
}
