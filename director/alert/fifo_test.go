package alert

import (
	"bufio"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lb/vrrp"
)

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		n    vrrp.Notice
		want string
	}{
		{vrrp.Notice{Name: "VI_1", Event: "MASTER", Priority: 100}, `INSTANCE "VI_1" MASTER 100` + "\n"},
		{vrrp.Notice{Name: "VI_1", Event: "BACKUP", Priority: 90}, `INSTANCE "VI_1" BACKUP 90` + "\n"},
		{vrrp.Notice{Group: true, Name: "G1", Event: "FAULT"}, `GROUP "G1" FAULT 0` + "\n"},
		{vrrp.Notice{Name: "web", Event: vrrp.NoticeMasterPriority, Priority: 90}, `INSTANCE "web" MASTER_PRIORITY 90` + "\n"},
		{vrrp.Notice{Name: "web", Event: vrrp.NoticeBackupPriority, Priority: 110}, `INSTANCE "web" BACKUP_PRIORITY 110` + "\n"},
		{vrrp.Notice{Name: "web", Event: vrrp.NoticeMasterRxLowerPri, Priority: 200}, `INSTANCE "web" MASTER_RX_LOWER_PRI 200` + "\n"},
		{vrrp.Notice{Name: "VI_1", Event: "STOP", Priority: 100}, `INSTANCE "VI_1" STOP 100` + "\n"},
	} {
		if got := Line(tc.n); got != tc.want {
			t.Errorf("Line(%+v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// sequence is a failover as the router reports it.
var sequence = []vrrp.Notice{
	{Name: "VI_1", Event: "BACKUP", Priority: 100},
	{Group: true, Name: "G1", Event: "BACKUP"},
	{Name: "VI_1", Event: "MASTER", Priority: 100},
	{Group: true, Name: "G1", Event: "MASTER"},
	{Name: "VI_1", Event: vrrp.NoticeMasterPriority, Priority: 90},
	{Name: "VI_1", Event: vrrp.NoticeMasterRxLowerPri, Priority: 90},
	{Name: "VI_1", Event: "STOP", Priority: 90},
	{Group: true, Name: "G1", Event: "STOP"},
}

// TestFIFOLinesInOrder: a reader of the notify FIFO gets keepalived's
// lines in the order of the notices; the priority lines only with
// PriorityChanges. The FIFO is created when missing and removed at Close.
func TestFIFOLinesInOrder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		priority bool
		want     []string
	}{
		{"with priority changes", true, []string{`INSTANCE "VI_1" BACKUP 100`, `GROUP "G1" BACKUP 0`, `INSTANCE "VI_1" MASTER 100`,
			`GROUP "G1" MASTER 0`, `INSTANCE "VI_1" MASTER_PRIORITY 90`, `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 90`,
			`INSTANCE "VI_1" STOP 90`, `GROUP "G1" STOP 0`}},
		{"without", false, []string{`INSTANCE "VI_1" BACKUP 100`, `GROUP "G1" BACKUP 0`, `INSTANCE "VI_1" MASTER 100`,
			`GROUP "G1" MASTER 0`, `INSTANCE "VI_1" MASTER_RX_LOWER_PRI 90`,
			`INSTANCE "VI_1" STOP 90`, `GROUP "G1" STOP 0`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "notify.fifo")
			n := New(Config{FIFOs: []FIFOConfig{{Path: path}}, PriorityChanges: tc.priority})
			r, err := os.Open(path) // the writer holds it read-write: this does not wait
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for _, ev := range sequence {
				n.Notice(ev, false)
			}
			got := readLines(t, r, len(tc.want))
			if !slices.Equal(got, tc.want) {
				t.Errorf("lines\n got %q\nwant %q", got, tc.want)
			}
			n.Close(time.Now().Add(time.Second))
			if c := n.Counters(); c.FIFOLines != uint64(len(tc.want)) || c.FIFODropped != 0 {
				t.Errorf("counters %+v, want %d lines, none dropped", c, len(tc.want))
			}
			if _, err := os.Lstat(path); !os.IsNotExist(err) {
				t.Errorf("the FIFO lbd created is still there: %v", err)
			}
		})
	}
}

func readLines(t *testing.T, r *os.File, n int) []string {
	t.Helper()
	if err := r.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(r)
	var got []string
	for len(got) < n && sc.Scan() {
		got = append(got, sc.Text())
	}
	if len(got) < n {
		t.Fatalf("read %d lines (%q), want %d: %v", len(got), got, n, sc.Err())
	}
	return got
}

// TestFIFOLatency measures the time from Notice to the line read by a
// reader, over 1,000 notices (logged: the report's figure); it asserts
// only that every line arrives, in order.
func TestFIFOLatency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.fifo")
	n := New(Config{FIFOs: []FIFOConfig{{Path: path}}})
	defer n.Close(time.Now().Add(time.Second))
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	var lat []time.Duration
	for i := range 1000 {
		start := time.Now()
		n.Notice(vrrp.Notice{Name: "VI_1", Event: "MASTER", Priority: uint8(i % 250)}, false)
		if !sc.Scan() {
			t.Fatal(sc.Err())
		}
		lat = append(lat, time.Since(start))
		if want := Line(vrrp.Notice{Name: "VI_1", Event: "MASTER", Priority: uint8(i % 250)}); sc.Text()+"\n" != want {
			t.Fatalf("line %d %q, want %q", i, sc.Text(), want)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("notice -> line read: p50 %v p99 %v max %v (1000 notices)", lat[500], lat[990], lat[999])
}

// TestFIFONoReaderNeverBlocks: with nobody reading the FIFO, notices keep
// returning at once; the pipe fills (lines wait there for a reader, as
// with keepalived), then lines are dropped and counted, and Close ends by
// its deadline. Every notice is accounted for: written or dropped.
func TestFIFONoReaderNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.fifo")
	n := New(Config{FIFOs: []FIFOConfig{{Path: path}}})
	const total = 10000
	start := time.Now()
	var slowest time.Duration
	for i := range total {
		s := time.Now()
		n.Notice(vrrp.Notice{Name: "VI_1", Event: "MASTER", Priority: uint8(i % 250)}, false)
		slowest = max(slowest, time.Since(s))
	}
	took := time.Since(start)
	if took > 2*time.Second { // 10,000 channel sends; a blocking write would take 1s each
		t.Fatalf("%d notices took %v: Notice blocks", total, took)
	}
	closeStart := time.Now()
	n.Close(time.Now().Add(200 * time.Millisecond))
	closeTook := time.Since(closeStart)
	c := n.Counters()
	t.Logf("%d notices queued in %v (slowest %v); written %d (the pipe's room), dropped %d; close took %v",
		total, took, slowest, c.FIFOLines, c.FIFODropped, closeTook)
	if c.FIFOLines+c.FIFODropped != total || c.FIFODropped == 0 || c.FIFOLines == 0 {
		t.Fatalf("written %d + dropped %d, want %d with some of each", c.FIFOLines, c.FIFODropped, total)
	}
	if closeTook > 3*time.Second {
		t.Fatalf("close took %v past a 200ms deadline", closeTook)
	}
}

// TestFIFONotAFIFO: a path that exists and is not a FIFO is left alone,
// the lines are dropped and counted.
func TestFIFONotAFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	if err := os.WriteFile(path, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	n := New(Config{FIFOs: []FIFOConfig{{Path: path}}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	n.Notice(vrrp.Notice{Name: "VI_1", Event: "MASTER", Priority: 100}, false)
	n.Close(time.Now().Add(time.Second))
	if c := n.Counters(); c.FIFODropped != 1 || c.FIFOLines != 0 {
		t.Errorf("counters %+v, want 1 dropped", c)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep\n" {
		t.Errorf("the file was changed: %q", b)
	}
	if !strings.Contains(logs.String(), "is not a FIFO") {
		t.Errorf("no error logged: %s", logs.String())
	}
}

// TestFIFOScript: notify_fifo_script is started with the FIFO's path and
// reads the lines; Close stops it.
func TestFIFOScript(t *testing.T) {
	dir := t.TempDir()
	path, out := filepath.Join(dir, "notify.fifo"), filepath.Join(dir, "out")
	n := New(Config{FIFOs: []FIFOConfig{{Path: path, Script: []string{"/bin/sh", "-c", `exec cat "$0" >> ` + out}}}})
	n.Notice(vrrp.Notice{Name: "VI_1", Event: "MASTER", Priority: 100}, false)
	n.Notice(vrrp.Notice{Group: true, Name: "G1", Event: "MASTER"}, false)
	want := "INSTANCE \"VI_1\" MASTER 100\nGROUP \"G1\" MASTER 0\n"
	deadline := time.Now().Add(10 * time.Second)
	var got []byte
	for time.Now().Before(deadline) {
		got, _ = os.ReadFile(out)
		if string(got) == want {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	n.Close(time.Now().Add(time.Second))
	if string(got) != want {
		t.Fatalf("the script read %q, want %q", got, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("close took %v: the script was not stopped by SIGTERM", d)
	}
}
