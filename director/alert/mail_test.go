package alert

import (
	"bufio"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/vrrp"
)

// sink is testdata/smtpsink.py, a real SMTP server process.
type sink struct {
	addr string
	msgs chan sinkMsg
}

type sinkMsg struct {
	HELO string   `json:"helo"`
	From string   `json:"from"`
	To   []string `json:"to"`
	Data string   `json:"data"`
}

// startSink runs the SMTP server; it needs python3 (.ci/deps installs it).
func startSink(t *testing.T) *sink {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("the SMTP server of this test needs python3 (.ci/deps installs it): %v", err)
	}
	cmd := exec.Command(py, "testdata/smtpsink.py")
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
		t.Fatalf("smtpsink did not start: %q %v", sc.Text(), sc.Err())
	}
	s := &sink{addr: "127.0.0.1:" + strings.TrimPrefix(sc.Text(), "PORT "), msgs: make(chan sinkMsg, 16)}
	go func() {
		for sc.Scan() {
			var m sinkMsg
			if err := json.Unmarshal(sc.Bytes(), &m); err == nil {
				s.msgs <- m
			}
		}
	}()
	return s
}

func (s *sink) next(t *testing.T) sinkMsg {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no mail reached the SMTP server")
		return sinkMsg{}
	}
}

func (s *sink) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case m := <-s.msgs:
		t.Fatalf("unexpected mail %+v", m)
	case <-time.After(wait):
	}
}

// header returns a header's value in a message's data.
func header(data, name string) string {
	head, _, _ := strings.Cut(data, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && k == name {
			return v
		}
	}
	return ""
}

func body(data string) string {
	_, b, _ := strings.Cut(data, "\r\n\r\n")
	return strings.TrimRight(b, "\r\n")
}

// TestMailToRealSMTPServer: transitions of instances and groups told to
// mail reach a real SMTP server with keepalived's subject and body, the
// configured envelope and headers; a state already mailed is not mailed
// again, priority and other events are not mailed, nor those of an
// instance not told to.
func TestMailToRealSMTPServer(t *testing.T) {
	s := startSink(t)
	to := []string{"ops@example.com", "oncall@example.com"}
	n := New(Config{RouterID: "LVS_DEVEL", Mail: MailConfig{To: to, From: "lbd@lb1.example.com", Server: s.addr,
		Timeout: 5 * time.Second, HELO: "lb1.example.com"}})
	defer n.Close(time.Now().Add(5 * time.Second))

	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	start := time.Now()
	n.Notice(vrrp.Notice{Name: "VI_1", Event: "MASTER", Priority: 200, At: at}, true)
	m := s.next(t)
	t.Logf("notice -> mail at the server: %v", time.Since(start))
	if m.HELO != "lb1.example.com" || m.From != "lbd@lb1.example.com" || strings.Join(m.To, ",") != strings.Join(to, ",") {
		t.Errorf("envelope %+v", m)
	}
	for name, want := range map[string]string{
		"From": "lbd@lb1.example.com", "To": "ops@example.com, oncall@example.com",
		"Subject": "[LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state", "Date": at.Format(time.RFC1123Z),
	} {
		if got := header(m.Data, name); got != want {
			t.Errorf("header %s %q, want %q", name, got, want)
		}
	}
	if got := body(m.Data); got != "=> VRRP Instance is now owning VRRP VIPs <=" {
		t.Errorf("body %q", got)
	}

	n.Notice(vrrp.Notice{Name: "VI_1", Event: "MASTER", Priority: 200}, true)                  // already mailed
	n.Notice(vrrp.Notice{Name: "VI_1", Event: vrrp.NoticeMasterPriority, Priority: 190}, true) // not a state
	n.Notice(vrrp.Notice{Name: "VI_2", Event: "MASTER", Priority: 100}, false)                 // smtp_alert off
	n.Notice(vrrp.Notice{Group: true, Name: "G1", Event: "FAULT"}, true)
	m = s.next(t)
	if got := header(m.Data, "Subject"); got != "[LVS_DEVEL] VRRP Group G1 - Entering FAULT state" {
		t.Errorf("subject %q", got)
	}
	if got := body(m.Data); got != "=> All VRRP group instances are now in FAULT state <=" {
		t.Errorf("body %q", got)
	}
	n.Notice(vrrp.Notice{Name: "VI_1", Event: "BACKUP", Priority: 190}, true)
	m = s.next(t)
	if got := header(m.Data, "Subject"); got != "[LVS_DEVEL] VRRP Instance VI_1 - Entering BACKUP state" ||
		body(m.Data) != "=> VRRP Instance is no longer owning VRRP VIPs <=" {
		t.Errorf("subject %q body %q", got, body(m.Data))
	}
	s.none(t, 200*time.Millisecond)
	if c := n.Counters(); c.MailSent != 3 || c.MailFailed != 0 || c.MailDropped != 0 {
		t.Errorf("counters %+v, want 3 sent", c)
	}
}

// TestMailNeverBlocks: an SMTP server that accepts and never answers
// holds the sender; notices still return at once, the queue's overflow
// is dropped and counted, the stuck exchanges fail by the timeout, and
// Close ends by its deadline.
func TestMailNeverBlocks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: no greeting ever
		}
	}()
	n := New(Config{RouterID: "r", Mail: MailConfig{To: []string{"a@b"}, From: "lbd@r", Server: ln.Addr().String(), Timeout: 300 * time.Millisecond}})
	const total = 200
	start := time.Now()
	for i := range total {
		n.Notice(vrrp.Notice{Name: "VI_" + string(rune('A'+i%26)) + string(rune('a'+i/26)), Event: "MASTER", Priority: 100}, true)
	}
	took := time.Since(start)
	if took > time.Second {
		t.Fatalf("%d notices took %v: Notice blocks on the mail server", total, took)
	}
	time.Sleep(700 * time.Millisecond) // two exchanges time out
	closeStart := time.Now()
	n.Close(time.Now().Add(100 * time.Millisecond))
	closeTook := time.Since(closeStart)
	c := n.Counters()
	t.Logf("%d notices queued in %v; failed %d (timeout 300ms), dropped %d (queue %d + stop), close took %v",
		total, took, c.MailFailed, c.MailDropped, mailQueue, closeTook)
	if c.MailSent != 0 || c.MailFailed < 2 || c.MailFailed+c.MailDropped != total {
		t.Errorf("counters %+v: want none sent, at least 2 failed, every mail failed or dropped", c)
	}
	if closeTook > 2*time.Second {
		t.Errorf("close took %v past a 100ms deadline", closeTook)
	}
}

// TestMailRefused: no server listening: the failure is counted.
func TestMailRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	n := New(Config{Mail: MailConfig{To: []string{"a@b"}, From: "lbd@r", Server: addr, Timeout: time.Second}})
	n.Notice(vrrp.Notice{Name: "VI_1", Event: "MASTER"}, true)
	n.Close(time.Now().Add(5 * time.Second))
	if c := n.Counters(); c.MailFailed != 1 || c.MailSent != 0 {
		t.Errorf("counters %+v, want 1 failed", c)
	}
}
