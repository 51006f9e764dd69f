//go:build testbed_guest

package scenarios

import (
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lbdStatusYAML is a table with every kind of service lbctl must print
// like ipvsadm: persistent with a netmask, fwmark (IPv4 and IPv6), IPv6
// with scheduler flags and NAT, UDP one-packet, TUN with ipip/gue/gre
// destinations and checksum options, thresholds.
const lbdStatusYAML = `ipvs:
  sysctls:
    ip_forward: true
virtual_servers:
  - address: 192.168.56.90
    port: 80
    scheduler: wlc
    forwarding: DR
    persistence_timeout: 60
    persistence_netmask: 255.255.255.0
    real_servers:
      - address: 192.168.56.200
        weight: 3
      - address: 192.168.56.201
        weight: 1
        upper_threshold: 100
        lower_threshold: 10
  - fwmark: 5
    scheduler: rr
    forwarding: DR
    real_servers:
      - address: 192.168.56.200
        port: 80
        weight: 1
      - address: 192.168.56.201
        port: 80
        weight: 2
  - fwmark: 6
    family: ipv6
    scheduler: wrr
    forwarding: NAT
    real_servers:
      - address: 2001:db8:1::200
        port: 8080
        weight: 5
  - address: 2001:db8:56::90
    port: 443
    scheduler: sh
    scheduler_flags: [sh-fallback, sh-port]
    forwarding: NAT
    real_servers:
      - address: 2001:db8:1::200
        port: 8443
        weight: 2
      - address: 2001:db8:1::201
        port: 8443
        weight: 1
  - address: 192.168.56.90
    port: 53
    protocol: UDP
    scheduler: rr
    one_packet: true
    forwarding: NAT
    real_servers:
      - address: 10.0.9.53
        port: 5353
  - address: 192.168.56.91
    port: 80
    scheduler: rr
    forwarding: TUN
    real_servers:
      - address: 192.168.56.200
        tunnel:
          type: gue
          port: 6080
          checksum: remcsum
      - address: 192.168.56.201
        tunnel:
          type: gre
          checksum: csum
      - address: 192.168.56.202
        weight: 0
`

// TestScenarioLbdStatusMatchesIpvsadm runs lbd with a table holding every
// kind of service (persistent, fwmark, IPv6, UDP one-packet, TUN with
// gue/gre options, thresholds) and requires "lbctl status" to print
// exactly what ipvsadm prints, byte for byte, in every list view (-ln,
// --thresholds, --tun-info, --timeout, save -n), and after client
// traffic the counter views too (--stats, --stats --exact, --rate,
// --persistent-conn) once the counters have settled.
func TestScenarioLbdStatusMatchesIpvsadm(t *testing.T) {
	n := newNarrator(t)
	l := buildLbdLab(t, n, "lbdstat", "DR")

	n.Step("lbd with six services of every kind:")
	node := newLbdNode(t, "lbd-status", l.director)
	node.writeConfig(t, "", lbdStatusYAML)
	n.Block(node.yaml)
	d := node.start(t)
	st, took := d.waitReady(t)
	n.Note("ready after %v: %d services in the kernel, %d writes", took.Round(time.Millisecond), len(st.IPVS.Table.Services), st.IPVS.Writes)
	if len(st.IPVS.Table.Services) != 6 {
		t.Errorf("lbd status shows %d services, want 6", len(st.IPVS.Table.Services))
	}

	compare := func(ipvsArgs, lbctlArgs []string) {
		t.Helper()
		want, got := sameOutput(t, node, ipvsArgs, lbctlArgs)
		name := "lbctl status " + strings.Join(lbctlArgs[1:], " ")
		if lbctlArgs[0] == "save" {
			name = "lbctl save -n"
		}
		if got != want {
			t.Errorf("%s differs from ipvsadm %s:\n%s\nipvsadm:\n%s\nlbctl:\n%s", name, strings.Join(ipvsArgs, " "),
				diffLines(want, got), want, got)
			n.Note("%-36s DIFFERS from ipvsadm %s", name, strings.Join(ipvsArgs, " "))
			return
		}
		n.Note("%-36s == ipvsadm %-26s (%d lines, %d bytes)", name, strings.Join(ipvsArgs, " "), strings.Count(want, "\n"), len(want))
	}

	n.Step("Static views: lbctl status (through lbd's control socket) against ipvsadm, byte for byte")
	table := ipvsadmList(t, l.director)
	n.Block(table)
	compare([]string{"-ln"}, []string{"status", "-n"})
	compare([]string{"-ln", "--thresholds"}, []string{"status", "-n", "--thresholds"})
	compare([]string{"-ln", "--tun-info"}, []string{"status", "-n", "--tun-info"})
	compare([]string{"-ln", "--timeout"}, []string{"status", "-n", "--timeout"})
	compare([]string{"-Sn"}, []string{"save", "-n"})
	compare([]string{"-ln"}, []string{"status", "-n", "--kernel"})
	tun := run(t, l.director, "ipvsadm", "-ln", "--tun-info")
	for _, want := range []string{"gue:6080:r+c", "gre:+c", "ipip"} {
		if !strings.Contains(tun, want) {
			t.Errorf("ipvsadm -ln --tun-info has no %q: lbd did not program the tunnel options:\n%s", want, tun)
		}
	}

	n.Step("Traffic: 12 requests from the client to the persistent service %s:80 (all pinned to one real server)", seedVIP)
	counts, seq := l.sendRequests(t, l.client, vipURL, 12)
	n.Note("%s", seq)
	if len(counts) != 1 {
		t.Errorf("answers %v: want one real server (persistent service)", counts)
	}

	// ipvsadm prints counters of 100,000,000 and more in thousands ("K")
	// unless --exact: upload that much to see both forms compared.
	const upload = 101_000_000
	n.Step("And one POST of %d bytes: counters past 10^8, which ipvsadm shortens (K) unless --exact", upload)
	up := time.Now()
	resp, err := newHTTPClient(l.client, 60*time.Second).Post(vipURL, "application/octet-stream", io.LimitReader(zeros{}, upload))
	if err != nil {
		t.Fatalf("POST to the VIP: %v", err)
	}
	resp.Body.Close()
	n.Note("uploaded in %v", time.Since(up).Round(time.Millisecond))
	const conns = 13

	// The kernel folds its counters every 2 s; the reads wait up to 30 s
	// (fifteen folds): a bound on a loss, not on speed.
	n.Step("Counters settle: ipvsadm -ln --stats read 2.2 s apart until two reads agree (and show the 13 connections)")
	var prev string
	start := time.Now()
	for {
		cur := run(t, l.director, "ipvsadm", "-ln", "--stats")
		got := serviceConns(t, cur, "TCP  "+seedVIP+":80")
		if (cur == prev && got == conns) || time.Since(start) > 30*time.Second {
			n.Note("settled after %v", time.Since(start).Round(time.Millisecond))
			n.Block(cur)
			if cur != prev || got != conns {
				t.Errorf("ipvsadm -ln --stats not settled on %d connections after 30 s (the service's destinations show %d)", conns, got)
			}
			if !regexp.MustCompile(`(?m)^TCP  ` + regexp.QuoteMeta(seedVIP) + `:80 .* \d+[KM] `).MatchString(cur) {
				t.Errorf("no shortened (K/M) counter on the service after the upload: the big-number format is not exercised")
			}
			break
		}
		prev = cur
		time.Sleep(2200 * time.Millisecond)
	}

	n.Step("Counter views after traffic: lbctl status against ipvsadm, byte for byte (ipvsadm read before and after lbctl must agree)")
	compare([]string{"-ln", "--stats"}, []string{"status", "-n", "--stats"})
	compare([]string{"-ln", "--stats", "--exact"}, []string{"status", "-n", "--stats", "--exact"})
	compare([]string{"-ln", "--rate"}, []string{"status", "-n", "--rate"})
	n.Block(run(t, l.director, "ipvsadm", "-ln", "--rate"))
	compare([]string{"-ln", "--persistent-conn"}, []string{"status", "-n", "--persistent-conn"})
	compare([]string{"-ln"}, []string{"status", "-n"})
}

// serviceConns sums the Conns column of the destinations of the service
// whose line starts with svc in "ipvsadm -ln --stats" output.
func serviceConns(t *testing.T, out, svc string) int {
	t.Helper()
	sum, in := 0, false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, svc+" "):
			in = true
		case in && strings.HasPrefix(l, "  -> "):
			f := strings.Fields(l)
			c, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatalf("Conns of %q is not a plain number", l)
			}
			sum += c
		default:
			in = false
		}
	}
	return sum
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
