//go:build netns

package daemon

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// startNotifyDirector is startNetnsDirector with extra YAML appended
// (a notify section).
func startNotifyDirector(t *testing.T, ns *netnslab.Namespace, prio int, extra func(dir string) string) *netnsDirector {
	t.Helper()
	dir := t.TempDir()
	return runNetnsDirector(t, ns, dir, netnsConfig(dir, prio, 1, "1111", backends[0].addrPort(), backends[1].addrPort())+extra(dir))
}

// fifoReader collects a notify FIFO's lines with the time each was read.
type fifoReader struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time
}

func readFIFO(t *testing.T, path string) *fifoReader {
	t.Helper()
	waitFor(t, "the notify FIFO", func() bool { _, err := os.Stat(path); return err == nil })
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fr := &fifoReader{}
	go func() {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fr.mu.Lock()
			fr.lines, fr.at = append(fr.lines, sc.Text()), append(fr.at, time.Now())
			fr.mu.Unlock()
		}
	}()
	return fr
}

// index returns the first line equal to s and when it was read, or -1.
func (fr *fifoReader) index(s string) (int, time.Time) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	i := slices.Index(fr.lines, s)
	if i < 0 {
		return -1, time.Time{}
	}
	return i, fr.at[i]
}

func (fr *fifoReader) snapshot() []string {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	return slices.Clone(fr.lines)
}

// TestNetnsDaemonNotifyAndSplitBrain: two lbd in namespaces, d1 with a
// notify FIFO and mail to a real SMTP server. d1's real transitions come
// out on the FIFO as keepalived's lines, in order, and by mail. Then d2
// stops hearing d1 (the switch stops flooding multicast to its port) and
// takes over: d1, still MASTER, writes MASTER_RX_LOWER_PRI lines and
// reports one split brain on its control socket, d2 as the peer and
// itself the winner. At stop, the STOP line and mail go out.
func TestNetnsDaemonNotifyAndSplitBrain(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root")
	}
	backends[0], backends[1] = newBackend(t), newBackend(t)
	smtp, subjects := smtpSink(t)
	lab, _, nss := netnslab.LANT(t, "lbn", 2)
	ns1, ns2 := nss[0], nss[1]
	var fifo string
	d1 := startNotifyDirector(t, ns1, 200, func(dir string) string {
		fifo = filepath.Join(dir, "notify.fifo")
		return fmt.Sprintf("notify:\n  fifo: %s\n  email:\n    to: [ops@example.com]\n    smtp_server: %q\n    alert: true\n", fifo, smtp)
	})
	fr := readFIFO(t, fifo)
	d2 := startNetnsDirector(t, ns2, 100)
	waitFor(t, "d1 MASTER, d2 BACKUP", func() bool { return d1.vrrpState(t) == "MASTER" && d2.vrrpState(t) == "BACKUP" })
	waitFor(t, "d1's MASTER line", func() bool { i, _ := fr.index(`INSTANCE "VI_1" MASTER 200`); return i >= 0 })
	_, read := fr.index(`INSTANCE "VI_1" MASTER 200`)
	became := d1.d.VRRPStats().Instances[0].LastTransition
	t.Logf("MASTER transition -> line read from the FIFO: %v", read.Sub(became))
	if got := fr.snapshot(); !slices.Equal(got[:2], []string{`INSTANCE "VI_1" BACKUP 200`, `INSTANCE "VI_1" MASTER 200`}) {
		t.Errorf("FIFO lines %q", got)
	}
	for _, want := range []string{"VI_1 - Entering BACKUP state", "VI_1 - Entering MASTER state"} {
		select {
		case s := <-subjects:
			if !strings.HasSuffix(s, want) {
				t.Errorf("mail %q, want ...%q", s, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no mail %q", want)
		}
	}

	// One-way loss: d2 no longer hears d1.
	sw, err := lab.SwitchNamespace()
	if err != nil {
		t.Fatal(err)
	}
	var port string
	for _, lk := range lab.Links() {
		if lk.NS == ns2 {
			port = lk.Port
		}
	}
	if out, err := sw.Run(context.Background(), "bridge", "link", "set", "dev", port, "mcast_flood", "off"); err != nil {
		t.Fatalf("bridge: %v %s", err, out)
	}
	waitFor(t, "d2 MASTER too", func() bool { return d2.vrrpState(t) == "MASTER" })
	waitFor(t, "d1 reports the split brain", func() bool {
		v, err := d1.vrrpInstance()
		return err == nil && v.SplitBrains > 0
	})
	v, _ := d1.vrrpInstance()
	if v.State != "MASTER" || v.SplitBrains != 1 || v.SplitBrain == nil || v.SplitBrain.Peer != netip.MustParseAddr("10.9.0.2") ||
		v.SplitBrain.PeerPriority != 100 || v.SplitBrain.Winner != "this router: priority 200 > 100" {
		t.Errorf("d1 status %+v split brain %+v", v, v.SplitBrain)
	}
	waitFor(t, "MASTER_RX_LOWER_PRI lines", func() bool { i, _ := fr.index(`INSTANCE "VI_1" MASTER_RX_LOWER_PRI 200`); return i >= 0 })
	if out, err := sw.Run(context.Background(), "bridge", "link", "set", "dev", port, "mcast_flood", "on"); err != nil {
		t.Fatalf("bridge: %v %s", err, out)
	}
	waitFor(t, "d2 BACKUP again", func() bool { return d2.vrrpState(t) == "BACKUP" })

	d1.stop(t)
	waitFor(t, "the STOP line", func() bool { i, _ := fr.index(`INSTANCE "VI_1" STOP 200`); return i >= 0 })
	select {
	case s := <-subjects:
		if !strings.HasSuffix(s, "VI_1 - Stopping") {
			t.Errorf("mail %q, want the stop", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no stop mail")
	}
	c := d1.d.NotifyCounters()
	t.Logf("d1 notifier: %+v", c)
	if c.FIFODropped != 0 || c.MailSent != 3 || c.MailFailed+c.MailDropped != 0 {
		t.Errorf("counters %+v, want nothing dropped, 3 mails", c)
	}
}
