package healthcheck

import (
	"bufio"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// smtpServer starts director/alert/testdata/smtpsink.py (the SMTP server the
// alert mailer's tests use too), a real SMTP server process, in mode; it returns the server's address and a channel of the HELO names
// it receives.
func smtpServer(t *testing.T, mode string) (netip.AddrPort, <-chan string) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatalf("the SMTP check's tests need python3 (a real SMTP server process): %v", err)
	}
	cmd := exec.Command("python3", "../director/alert/testdata/smtpsink.py", mode)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "PORT ") {
		t.Fatalf("smtpsink.py: %q %v", sc.Text(), sc.Err())
	}
	ap := netip.MustParseAddrPort("127.0.0.1:" + strings.TrimPrefix(sc.Text(), "PORT "))
	helos := make(chan string, 16)
	go func() {
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "HELO "); ok {
				helos <- name
			}
		}
	}()
	return ap, helos
}

func TestSMTPChecker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := netip.MustParseAddrPort(l.Addr().String())
	l.Close()

	tests := []struct {
		name       string
		mode       string // smtpsink.py's mode; "" for the closed port
		helo       string
		timeout    time.Duration
		wantOK     bool
		wantKind   ResultKind
		wantReason string
		wantHelo   string
	}{
		{"220 250 221", "ok", "", okTimeout, true, KindOK, "HELO 250", DefaultHeloName},
		{"helo_name", "ok", "lb1.example.org", okTimeout, true, KindOK, "HELO 250", "lb1.example.org"},
		{"multi-line replies", "multiline", "", okTimeout, true, KindOK, "HELO 250", DefaultHeloName},
		{"554 greeting", "greet554", "", okTimeout, false, KindStatus, `greeting: reply "554 no service", want 220`, ""},
		{"550 to HELO", "helo550", "", okTimeout, false, KindStatus, `HELO: reply "550 go away", want 250`, DefaultHeloName},
		{"silent server", "silent", "", 500 * time.Millisecond, false, KindTimeout, "greeting: timeout after 500ms", ""},
		{"closed port", "", "", okTimeout, false, KindRefused, "connection refused", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, helos := closed, (<-chan string)(nil)
			if tt.mode != "" {
				target, helos = smtpServer(t, tt.mode)
			}
			r := check(t, Spec{Type: TypeSMTP, Target: target, HeloName: tt.helo}, tt.timeout)
			t.Logf("%s: %s", r.Kind, r.Reason)
			if r.OK != tt.wantOK || r.Kind != tt.wantKind || !strings.Contains(r.Reason, tt.wantReason) {
				t.Errorf("Check = %+v, want ok=%t kind=%s reason %q", r, tt.wantOK, tt.wantKind, tt.wantReason)
			}
			if tt.wantHelo == "" {
				return
			}
			select {
			case got := <-helos:
				if got != tt.wantHelo {
					t.Errorf("server got HELO %q, want %q", got, tt.wantHelo)
				}
			case <-time.After(okTimeout):
				t.Errorf("server got no HELO, want %q", tt.wantHelo)
			}
		})
	}
}

func TestReadSMTPReply(t *testing.T) {
	tests := []struct {
		in       string
		wantCode int
		wantErr  bool
	}{
		{"220 ready\r\n", 220, false},
		{"220\r\n", 220, false},
		{"220-a\r\n220-b\r\n250 c\r\n", 250, false},
		{"22O oops\r\n", -1, false},
		{"2200 long\r\n", -1, false},
		{"220-never ends\r\n", 0, true},
		{"", 0, true},
		{strings.Repeat("250-x\r\n", maxSMTPReply+1), 0, true},
	}
	for _, tt := range tests {
		code, _, err := readSMTPReply(bufio.NewReader(strings.NewReader(tt.in)))
		if code != tt.wantCode || (err != nil) != tt.wantErr {
			t.Errorf("readSMTPReply(%q) = %d, %v; want %d, error %t", tt.in, code, err, tt.wantCode, tt.wantErr)
		}
	}
}
