//go:build testbed_guest

package scenarios

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Download: the long download a drain must let finish.
const (
	dlChunks = 40                     // chunks of the download
	dlChunk  = 1024                   // bytes each
	dlEvery  = 250 * time.Millisecond // one chunk each: a 10 s download
	// dlTCPFin is ipvs.timeouts.tcpfin: with DR the director sees the
	// client's side only and keeps a closed connection in FIN_WAIT for
	// this long (inactive), the time drain --wait then waits.
	dlTCPFin = 5 * time.Second
	// dlSlowStart is slow_start: 4 steps, 25/50/75/100 of weight 100.
	dlSlowStart = 12 * time.Second
)

// download answers the server's name on the first line, then dlChunks
// chunks of dlChunk bytes, one every dlEvery (?chunks=N to change it).
func (w *lbdWeb) download(rw http.ResponseWriter, r *http.Request) {
	n := dlChunks
	if v, err := strconv.Atoi(r.URL.Query().Get("chunks")); err == nil {
		n = v
	}
	fmt.Fprintln(rw, w.name)
	chunk := bytes.Repeat([]byte("x"), dlChunk)
	for i := 0; i < n; i++ {
		rw.Write(chunk)
		rw.(http.Flusher).Flush()
		time.Sleep(dlEvery)
	}
}

// TestScenarioLbdDrain: a client holds a long download through the VIP;
// "lbctl drain --wait --remove" on the real server holding it sets its
// weight to 0 at once: every new connection goes to the other server, the
// download completes, --wait returns once the kernel counts no connection
// of the server (after the FIN_WAIT timeout), and --remove takes it out
// of the table. "lbctl undrain" brings it back with slow_start: its weight
// steps 25, 50, 75, 100 in ipvsadm -ln.
func TestScenarioLbdDrain(t *testing.T) {
	n := newNarrator(t)
	l := buildLbdLab(t, n, "lbddrn", "DR")
	node := newLbdNode(t, "lbd-drain", l.director)
	svc := "TCP " + seedVIP + ":80"
	ipvs := fmt.Sprintf("ipvs:\n  timeouts:\n    tcpfin: %v\n  sysctls:\n    ip_forward: true\n", dlTCPFin)
	node.writeConfig(t, "", ipvs+lbdServiceYAML(l, "rr", [2]int{100, 100}, fmt.Sprintf("slow_start: %v", dlSlowStart), ""))
	n.Step("lbd: TCP %s:80 rr, web1/web2 DR weight 100, slow_start %v, tcpfin %v", seedVIP, dlSlowStart, dlTCPFin)
	n.Block(node.yaml)
	d := node.start(t)
	d.waitReady(t)

	n.Step("A client starts a %d KiB download through the VIP (%v long)", dlChunks*dlChunk/1024, time.Duration(dlChunks)*dlEvery)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	conn, err := l.dial(ctx, l.client, seedVIP+":80")
	must(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "GET /download HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", seedVIP)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	must(t, err)
	body := bufio.NewReader(resp.Body)
	first, err := body.ReadString('\n')
	must(t, err)
	holder := strings.TrimSpace(first)
	other := "web1"
	if holder == "web1" {
		other = "web2"
	}
	rs := l.web(holder).addr
	n.Note("%s holds the download", holder)
	done := make(chan error, 1)
	go func() {
		got, err := io.Copy(io.Discard, body)
		if err == nil && got != dlChunks*dlChunk {
			err = fmt.Errorf("downloaded %d bytes, want %d", got, dlChunks*dlChunk)
		}
		resp.Body.Close()
		conn.Close() // the client's FIN: the director's entry goes to FIN_WAIT
		done <- err
	}()

	n.Step("lbctl drain %s %s --wait --remove", svc, rs)
	var out, errOut bytes.Buffer
	cmd := node.ns.Command(ctx, commandPath(t, "lbctl"), "-s", node.socket, "drain", svc, rs, "--wait", "--remove", "--timeout", "50s")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	started := time.Now()
	must(t, cmd.Start())
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	if _, _, ok := waitIPVS(t, l.director, settle, func(s map[string]*ipvsService) bool {
		r, ok := s[svc].dest(rs + ":80")
		return ok && r.weight == 0
	}); !ok {
		t.Fatalf("%s not at weight 0:\n%s", holder, ipvsadmList(t, l.director))
	}
	n.Note("weight 0 in ipvsadm -ln after %v", time.Since(started).Round(time.Millisecond))
	counts, seq := l.sendRequests(t, l.client, vipURL, 10)
	if counts[holder] != 0 || counts[other] != 10 {
		t.Errorf("new connections while %s drains: %s (want all on %s)", holder, seq, other)
	}
	n.Note("10 new connections: %s", seq)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the download: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the download did not finish")
	}
	n.Note("the download completed (%d bytes) %v after the drain", dlChunks*dlChunk, time.Since(started).Round(time.Millisecond))
	finished := time.Now()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("lbctl drain --wait --remove: %v\n%s%s", err, out.String(), errOut.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("lbctl drain --wait did not return:\n%s", out.String())
	}
	n.Note("lbctl returned %v after the download ended (tcpfin %v):", time.Since(finished).Round(time.Millisecond), dlTCPFin)
	n.Block(out.String())
	for _, want := range []string{"now drain", "drained: no connection left", "now maintenance"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lbctl output lacks %q:\n%s", want, out.String())
		}
	}
	if s := parseIPVS(t, ipvsadmList(t, l.director)); func() bool { _, ok := s[svc].dest(rs + ":80"); return ok }() {
		t.Errorf("--remove left %s in the table:\n%s", holder, ipvsadmList(t, l.director))
	}
	st, _, _ := node.lbctl(t, "status", "-n", "--health")
	if !strings.Contains(st, "maintenance") {
		t.Errorf("lbctl status --health does not show the maintenance:\n%s", st)
	}

	n.Step("lbctl undrain %s %s: slow start over %v", svc, rs, dlSlowStart)
	if o, e, code := node.lbctl(t, "undrain", svc, rs); code != 0 {
		t.Fatalf("undrain: %d %s%s", code, o, e)
	}
	var weights []int
	_, took, ok := waitIPVS(t, l.director, 3*dlSlowStart, func(s map[string]*ipvsService) bool {
		r, ok := s[svc].dest(rs + ":80")
		if ok && (len(weights) == 0 || weights[len(weights)-1] != r.weight) {
			weights = append(weights, r.weight)
		}
		return ok && r.weight == 100
	})
	n.Note("weights seen in ipvsadm -ln: %v in %v", weights, took.Round(time.Millisecond))
	if !ok || !slices.Equal(weights, []int{25, 50, 75, 100}) {
		t.Errorf("slow start: weights %v (want 25 50 75 100), full weight reached: %v", weights, ok)
	}
}
