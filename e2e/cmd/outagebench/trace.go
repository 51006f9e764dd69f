package main

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
)

// traceFilter is what -trace captures: VRRP, ARP, ICMP and the TCP
// handshake's SYN, SYN-ACK and RST segments.
const traceFilter = "vrrp or arp or icmp or (tcp and (tcp[tcpflags] & (tcp-syn|tcp-rst) != 0))"

// tracer is tcpdump on eth0 of each namespace of interest, for -trace:
// where the time between the fault and the first answer goes, hop by hop.
type tracer struct {
	names []string
	cmds  []*exec.Cmd
	outs  []*netnslab.LogBuffer
	errs  []*netnslab.LogBuffer // tcpdump's stderr: shown when it captured nothing
}

func startTracer(nss map[string]*netnslab.Namespace, order []string) (*tracer, error) {
	tr := &tracer{}
	for _, name := range order {
		cmd := nss[name].Command(context.Background(), "tcpdump", "-Z", "root", "-i", "eth0", "-n", "-tt", "-e", "-l", "-Q", "inout", traceFilter)
		out, errOut := &netnslab.LogBuffer{}, &netnslab.LogBuffer{}
		cmd.Stdout, cmd.Stderr = out, errOut
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			tr.stop()
			return nil, fmt.Errorf("tcpdump in %s: %w", name, err)
		}
		tr.names, tr.cmds, tr.outs, tr.errs = append(tr.names, name), append(tr.cmds, cmd), append(tr.outs, out), append(tr.errs, errOut)
	}
	time.Sleep(300 * time.Millisecond) // tcpdump attaches its filter
	return tr, nil
}

func (tr *tracer) stop() {
	for _, c := range tr.cmds {
		_ = c.Process.Signal(syscall.SIGINT)
		_ = c.Wait()
	}
	tr.cmds = nil // stopped: a second stop does nothing
}

// print writes every captured frame from from to to, merged by time, each
// with its time from at and the namespace that saw it.
func (tr *tracer) print(at, from, to time.Time) {
	type line struct {
		t    time.Time
		text string
	}
	var lines []line
	for i, out := range tr.outs {
		if out.String() == "" {
			fmt.Printf("    --- tcpdump in %s captured nothing: %s\n", tr.names[i], strings.TrimSpace(tr.errs[i].String()))
		}
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			ts, rest, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(ts, 64)
			if err != nil {
				continue
			}
			t := time.Unix(0, int64(f*1e9))
			if t.Before(from) || t.After(to) {
				continue
			}
			lines = append(lines, line{t, fmt.Sprintf("%+8.4f %-7s %s", t.Sub(at).Seconds(), tr.names[i], rest)})
		}
	}
	for i := 1; i < len(lines); i++ { // insertion sort: the lines come nearly sorted
		for j := i; j > 0 && lines[j].t.Before(lines[j-1].t); j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
	fmt.Printf("    --- trace (s from the fault; namespace; tcpdump -e; %d frames in the window):\n", len(lines))
	for _, l := range lines {
		fmt.Println("    " + l.text)
	}
}

// printSlow prints the requests started in the second after the fault
// and answered: when each was sent, connected and answered.
func printSlow(rs []probeResult, at time.Time) {
	fmt.Println("    --- requests sent in the second after the fault (s from the fault): sent / connected / ended ok")
	for _, r := range rs {
		if r.start.Before(at) || r.start.After(at.Add(time.Second)) {
			continue
		}
		dialed := "-"
		if !r.dialed.IsZero() {
			dialed = fmt.Sprintf("%+.4f", r.dialed.Sub(at).Seconds())
		}
		fmt.Printf("    %+.4f / %s / %+.4f %v\n", r.start.Sub(at).Seconds(), dialed, r.end.Sub(at).Seconds(), r.ok)
	}
}
