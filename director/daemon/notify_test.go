package daemon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/internal/config"
	"github.com/lvsd/lb/vrrp"
)

// smtpSink runs director/alert's SMTP server (python3) and returns its
// address and the subjects of the mails it receives.
func smtpSink(t *testing.T) (string, <-chan string) {
	t.Helper()
	cmd := exec.Command("python3", "../alert/testdata/smtpsink.py")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("the SMTP server needs python3 (.ci/deps): %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "PORT ") {
		t.Fatalf("smtpsink: %q %v", sc.Text(), sc.Err())
	}
	subjects := make(chan string, 16)
	go func() {
		for sc.Scan() {
			var m struct{ Data string }
			_ = json.Unmarshal(sc.Bytes(), &m)
			for _, l := range strings.Split(m.Data, "\r\n") {
				if s, ok := strings.CutPrefix(l, "Subject: "); ok {
					subjects <- s
				}
			}
		}
	}()
	return "127.0.0.1 " + strings.TrimPrefix(sc.Text(), "PORT "), subjects
}

func notifyConfig(dir, fifo, smtp string) string {
	return fmt.Sprintf(`global:
  router_id: lb1
  control_socket: %[1]s/lbd.sock
  state_dir: %[1]s
  metrics_address: ""
notify:
  fifo: %[2]s
  priority_changes: true
  email:
    to: [ops@example.com]
    from: lbd@lb1
    smtp_server: "%[3]s"
    connect_timeout: 5s
vrrp:
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      priority: 100
      virtual_ipaddresses: [{address: 192.0.2.100/24}]
      smtp_alert: true
    VI_2:
      interface: eth0
      virtual_router_id: 52
      priority: 100
      virtual_ipaddresses: [{address: 192.0.2.101/24}]
  sync_groups:
    G2:
      instances: [VI_2]
      smtp_alert: true
`, dir, fifo, smtp)
}

// TestDaemonNotices: the notices the routers report reach the notify FIFO
// as keepalived's lines, and mail goes for the instances and groups whose
// smtp_alert (or notify.email.alert) says so; a reload that moves the FIFO
// replaces the notifier and the counters carry on.
func TestDaemonNotices(t *testing.T) {
	dir := t.TempDir()
	smtp, subjects := smtpSink(t)
	cfgPath, fifo := filepath.Join(dir, "lbd.yaml"), filepath.Join(dir, "notify.fifo")
	if err := os.WriteFile(cfgPath, []byte(notifyConfig(dir, fifo, smtp)), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := New(cfgPath, Options{Kernel: fake.New(), LogOutput: &syncBuf{}, Notify: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	d.commit(d.loaded, nil, applyReload)
	d.setNotifier(d.loaded)
	r, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, n := range []vrrp.Notice{
		{Name: "VI_1", Event: "MASTER", Priority: 100},
		{Name: "VI_2", Event: "MASTER", Priority: 100},
		{Group: true, Name: "G2", Event: "MASTER"},
		{Name: "VI_1", Event: vrrp.NoticeMasterPriority, Priority: 90},
	} {
		d.onNotice(n)
	}
	want := []string{`INSTANCE "VI_1" MASTER 100`, `INSTANCE "VI_2" MASTER 100`, `GROUP "G2" MASTER 0`, `INSTANCE "VI_1" MASTER_PRIORITY 90`}
	if got := readN(t, r, len(want)); !slices.Equal(got, want) {
		t.Errorf("FIFO lines %q, want %q", got, want)
	}
	var got []string
	for range 2 {
		select {
		case s := <-subjects:
			got = append(got, s)
		case <-time.After(10 * time.Second):
			t.Fatalf("mails %q, want 2", got)
		}
	}
	slices.Sort(got)
	if w := []string{"[lb1] VRRP Group G2 - Entering MASTER state", "[lb1] VRRP Instance VI_1 - Entering MASTER state"}; !slices.Equal(got, w) {
		t.Errorf("mail subjects %q, want %q (VI_2 has no smtp_alert)", got, w)
	}

	// A reload moving the FIFO: the new one gets the lines.
	fifo2 := filepath.Join(dir, "notify2.fifo")
	next, err := config.ParseDirector(cfgPath, []byte(notifyConfig(dir, fifo2, smtp)))
	if err != nil {
		t.Fatal(err)
	}
	d.commit(next, nil, applyReload)
	d.setNotifier(next)
	r2, err := os.Open(fifo2)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	d.onNotice(vrrp.Notice{Name: "VI_1", Event: "BACKUP", Priority: 90})
	if got := readN(t, r2, 1); got[0] != `INSTANCE "VI_1" BACKUP 90` {
		t.Errorf("after the reload: %q", got)
	}
	<-subjects
	d.closeNotifier()
	// The replaced notifier's last exchange (its QUIT after the sink saw
	// the message) is counted by its background drain: wait for it.
	c := d.NotifyCounters()
	for end := time.Now().Add(10 * time.Second); (c.FIFOLines != 5 || c.MailSent != 3) && time.Now().Before(end); c = d.NotifyCounters() {
		time.Sleep(10 * time.Millisecond)
	}
	if c.FIFOLines != 5 || c.MailSent != 3 || c.FIFODropped+c.MailFailed+c.MailDropped != 0 {
		t.Errorf("counters %+v, want 5 lines and 3 mails", c)
	}
}

func readN(t *testing.T, r *os.File, n int) []string {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	sc := bufio.NewScanner(r)
	var out []string
	for len(out) < n && sc.Scan() {
		out = append(out, sc.Text())
	}
	if len(out) < n {
		t.Fatalf("read %q, want %d lines: %v", out, n, sc.Err())
	}
	return out
}
