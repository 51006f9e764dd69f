package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lvsd/lb/director/control"
	"github.com/lvsd/lb/director/table"
)

func sampleIPVS() control.IPVS {
	web := table.Service{ServiceKey: table.ServiceKey{Family: table.FamilyIPv4, Protocol: table.ProtoTCP,
		Address: netip.MustParseAddr("192.168.56.90"), Port: 80}, Scheduler: "rr", Netmask: 0xffffffff}
	web.Destinations = []table.Destination{
		{Address: netip.MustParseAddr("192.168.56.201"), Port: 80, Family: table.FamilyIPv4, Forward: table.ForwardRoute, Weight: 1},
		{Address: netip.MustParseAddr("192.168.56.200"), Port: 80, Family: table.FamilyIPv4, Forward: table.ForwardRoute, Weight: 1, ActiveConns: 3, InactConns: 12},
	}
	return control.IPVS{Info: table.Info{Version: [3]int{1, 2, 1}, ConnTableSize: 4096}, Table: table.Table{Services: []table.Service{web}},
		Timeouts: table.Timeouts{TCP: 1, TCPFin: 1, UDP: 1}}
}

const sampleList = "IP Virtual Server version 1.2.1 (size=4096)\n" +
	"Prot LocalAddress:Port Scheduler Flags\n" +
	"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n" +
	"TCP  192.168.56.90:80 rr\n" +
	"  -> 192.168.56.200:80            Route   1      3          12        \n" +
	"  -> 192.168.56.201:80            Route   1      0          0         \n"

type fakeEnv struct {
	running bool
	noIPVS  bool
	status  control.Status
	asked   string
	// reloadReq is the last reload's request; refuse makes lbd refuse
	// reloads that do not force.
	reloadReq control.ReloadRequest
	refuse    bool
}

func (f *fakeEnv) env() env {
	return env{
		status: func(_ context.Context, s string) (control.Status, error) {
			f.asked = s
			if !f.running {
				return control.Status{}, fmt.Errorf("%w (%s: connect: no such file or directory)", control.ErrNotRunning, s)
			}
			return f.status, nil
		},
		reload: func(_ context.Context, s string, req control.ReloadRequest) (control.ReloadResult, error) {
			f.asked, f.reloadReq = s, req
			if !f.running {
				return control.ReloadResult{}, control.ErrNotRunning
			}
			if f.refuse && !req.Force {
				return control.ReloadResult{ConfigFile: "/etc/lbd/lbd.yaml"},
					errors.New("lbd: removal guard: the configuration would remove 1 of the 1 IPVS services lbd manages (all of them): TCP 192.168.56.90:80")
			}
			return control.ReloadResult{ConfigFile: "/etc/lbd/lbd.yaml", Changes: []string{"virtual_servers: 1 changed"},
				Apply: &control.ApplyResult{Kind: "apply", Writes: 1, Ops: []string{"-e -t 192.168.56.90:80 -r 192.168.56.200:80 -g -w 2 (weight 1 -> 2)"}}}, nil
		},
		resync: func(_ context.Context, s string) (control.ApplyResult, error) {
			f.asked = s
			return control.ApplyResult{Kind: "resync", Writes: 0}, nil
		},
		kernel: func() (kernelView, error) {
			if f.noIPVS {
				return kernelView{}, fmt.Errorf("open IPVS: %w", os.ErrNotExist)
			}
			return kernelView{ipvs: sampleIPVS()}, nil
		},
		conns: func() ([]table.Conn, error) {
			return []table.Conn{{Protocol: "TCP", Client: netip.MustParseAddrPort("10.8.8.1:46552"), Virtual: netip.MustParseAddrPort("10.8.8.8:80"),
				Dest: netip.MustParseAddrPort("10.8.8.99:80"), State: "SYN_RECV", Expires: 56}}, nil
		},
		resolver: func() table.Resolver { return nil },
	}
}

func runCmd(f *fakeEnv, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, f.env())
	return code, out.String(), errb.String()
}

func TestStatusFromDaemon(t *testing.T) {
	f := &fakeEnv{running: true, status: control.Status{IPVS: sampleIPVS(), Daemon: control.DaemonInfo{PID: 7}}}
	code, out, errs := runCmd(f, "-s", "/tmp/x.sock", "status", "-n")
	if code != 0 || out != sampleList || errs != "" {
		t.Errorf("code %d\nout:\n%s\nerr: %s", code, out, errs)
	}
	if f.asked != "/tmp/x.sock" {
		t.Errorf("asked %q", f.asked)
	}
}

func TestStatusWithoutDaemonReadsKernel(t *testing.T) {
	f := &fakeEnv{}
	code, out, errs := runCmd(f, "status", "-n")
	if code != 0 || out != sampleList {
		t.Errorf("code %d out:\n%s", code, out)
	}
	if !strings.Contains(errs, "lbd is not running") || !strings.Contains(errs, "showing the kernel table only") {
		t.Errorf("stderr %q", errs)
	}
	// --health without the daemon says so.
	code, _, errs = runCmd(f, "status", "-n", "--health")
	if code != 0 || !strings.Contains(errs, "no health or VRRP state: lbd is not running") {
		t.Errorf("health without lbd: %d %q", code, errs)
	}
	// No IPVS at all.
	f.noIPVS = true
	code, out, errs = runCmd(f, "status", "-n")
	if code != 1 || out != "" || !strings.Contains(errs, "IPVS is not available in this kernel") {
		t.Errorf("no IPVS: %d %q %q", code, out, errs)
	}
}

func TestStatusKernelOnlyDoesNotAskDaemon(t *testing.T) {
	f := &fakeEnv{running: true}
	code, out, errs := runCmd(f, "status", "-n", "--kernel")
	if code != 0 || out != sampleList || errs != "" || f.asked != "" {
		t.Errorf("%d %q %q asked %q", code, out, errs, f.asked)
	}
}

func TestStatusViews(t *testing.T) {
	f := &fakeEnv{running: true, status: control.Status{IPVS: sampleIPVS()}}
	if code, out, _ := runCmd(f, "status", "--timeout"); code != 0 || out != "Timeout (tcp tcpfin udp): 1 1 1\n" {
		t.Errorf("timeout: %d %q", code, out)
	}
	code, out, _ := runCmd(f, "status", "-n", "-c")
	want := "IPVS connection entries\npro expire state       source             virtual            destination\n" +
		"TCP 00:56  SYN_RECV    10.8.8.1:46552     10.8.8.8:80        10.8.8.99:80\n"
	if code != 0 || out != want {
		t.Errorf("conns: %d\n%q\n%q", code, out, want)
	}
	if code, out, _ := runCmd(f, "save", "-n"); code != 0 || out != "-A -t 192.168.56.90:80 -s rr\n-a -t 192.168.56.90:80 -r 192.168.56.200:80 -g -w 1\n-a -t 192.168.56.90:80 -r 192.168.56.201:80 -g -w 1\n" {
		t.Errorf("save: %d %q", code, out)
	}
	if code, _, errs := runCmd(f, "status", "-c", "--stats"); code != 2 || !strings.Contains(errs, "options conflicts") {
		t.Errorf("conflict: %d %q", code, errs)
	}
	code, out, _ = runCmd(f, "status", "--json")
	var st control.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.IPVS.Table.Services) != 1 {
		t.Errorf("json: %d %s", code, out)
	}
}

func TestStatusHealthSection(t *testing.T) {
	w0, w1 := uint32(0), uint32(1)
	st := control.Status{IPVS: sampleIPVS()}
	key := st.IPVS.Table.Services[0].Key()
	st.VRRP = []control.VRRPInstance{
		{Name: "VI_1", Interface: "eth1", VRID: 51, State: "MASTER", Priority: 100, EffectivePriority: 80,
			VIPs: []string{"192.168.56.90/32"}, Reason: "chk_nginx failing", AdvertsSent: 120, AdvertsReceived: 2,
			Drops: map[string]uint64{"ttl": 1, "auth": 3, "vrid": 0}},
		{Name: "VI_2", Interface: "eth1", VRID: 52, State: "BACKUP", Priority: 90, EffectivePriority: 90, AdvertsReceived: 7,
			VIPs: []string{"192.168.56.91/32"}},
	}
	st.VRRP[1].SplitBrains, st.VRRP[1].SplitBrain = 2, &control.SplitBrain{Peer: netip.MustParseAddr("10.0.0.9"), PeerPriority: 50,
		At: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), Winner: "this router: priority 90 > 50"}
	st.RealServers = []control.RealServer{
		{Service: key, Address: netip.MustParseAddr("192.168.56.200"), Port: 80, Up: true, ConfiguredWeight: 1, DesiredWeight: &w1, KernelWeight: &w1},
		{Service: key, Address: netip.MustParseAddr("192.168.56.201"), Port: 80, ConfiguredWeight: 1, DesiredWeight: &w0, KernelWeight: &w1,
			Reason: "inhibited: health down: HTTP 503"},
	}
	st.Services = []control.ServiceQuorum{{Service: key, LiveWeight: 1, Quorum: 1, QuorumUp: true}}
	f := &fakeEnv{running: true, status: st}
	code, out, _ := runCmd(f, "status", "-n", "--health")
	if code != 0 || !strings.HasPrefix(out, sampleList) {
		t.Fatalf("the table must come first, unchanged:\n%s", out)
	}
	extra := out[len(sampleList):]
	for _, want := range []string{
		"VRRP instances", "VI_1", "MASTER", "80 (configured 100)", "chk_nginx failing",
		// A backup does not hold its VIPs: the column says so.
		"not held: 192.168.56.91/32",
		// Only non-zero drop reasons, sorted; "none" when there are none.
		"\n  VI_1: adverts sent=120 received=2; drops: auth=3 ttl=1\n",
		"\n  VI_2: adverts sent=0 received=7; drops: none; SPLIT BRAIN: 2 episode(s), last at 2026-12-07T12:00:00Z: " +
			"master 10.0.0.9 (priority 50) does not hear this one; winner: this router: priority 90 > 50\n",
		"Real servers (weights: configured / desired / kernel)",
		"192.168.56.201:80", "down", "inhibited: health down: HTTP 503; kernel differs from desired (resync pending)",
		"Quorum", "TCP 192.168.56.90:80",
	} {
		if !strings.Contains(extra, want) {
			t.Errorf("health section lacks %q:\n%s", want, extra)
		}
	}
	// The counter lines do not break the table's columns: both instance
	// rows put their State column at the same offset.
	var cols []int
	for _, line := range strings.Split(extra, "\n") {
		if strings.HasPrefix(line, "  VI_") && !strings.Contains(line, ": adverts") {
			i := strings.Index(line, "MASTER")
			if i < 0 {
				i = strings.Index(line, "BACKUP")
			}
			cols = append(cols, i)
		}
	}
	if len(cols) != 2 || cols[0] < 0 || cols[0] != cols[1] {
		t.Errorf("instance rows misaligned (State at %v):\n%s", cols, extra)
	}
}

func TestReloadResync(t *testing.T) {
	f := &fakeEnv{running: true}
	code, out, _ := runCmd(f, "reload")
	if code != 0 || !strings.Contains(out, "reloaded /etc/lbd/lbd.yaml") || !strings.Contains(out, "ipvsadm -e -t 192.168.56.90:80") {
		t.Errorf("reload: %d %q", code, out)
	}
	if code, out, _ := runCmd(f, "resync", "--json"); code != 0 || !strings.Contains(out, `"kind": "resync"`) {
		t.Errorf("resync: %d %q", code, out)
	}
	f.running = false
	code, _, errs := runCmd(f, "reload")
	if code != 1 || !strings.Contains(errs, "lbd is not running") {
		t.Errorf("reload without lbd: %d %q", code, errs)
	}
	if code, _, _ := runCmd(f, "frobnicate"); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
	if !errors.Is(fmt.Errorf("x: %w", control.ErrNotRunning), control.ErrNotRunning) {
		t.Fatal("sentinel")
	}
}

func TestStatusHealthChecksSection(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 30, 20, 0, time.UTC)
	st := control.Status{IPVS: sampleIPVS()}
	key := st.IPVS.Table.Services[0].Key()
	w1 := uint32(1)
	st.RealServers = []control.RealServer{
		{Service: key, Address: netip.MustParseAddr("192.168.56.200"), Port: 80, Up: true, ConfiguredWeight: 1, DesiredWeight: &w1, KernelWeight: &w1},
	}
	st.Checks = []control.CheckStatus{
		{Service: key, Address: netip.MustParseAddr("192.168.56.200"), Port: 80, Check: "http#0 GET /health.html", Up: true,
			Result: "ok", Reason: "GET /health.html: status 200", Duration: 1234 * time.Microsecond, LastCheck: now.Add(-1500 * time.Millisecond)},
		{Service: key, Address: netip.MustParseAddr("192.168.56.201"), Port: 80, Check: "tcp#1 at 10.0.0.9:8080",
			Result: "refused", Reason: "connect: connection\trefused\n(port closed)", Duration: 2 * time.Second, LastCheck: now.Add(-95 * time.Second)},
		{Service: key, Address: netip.MustParseAddr("2001:db8::1"), Port: 80, Check: "dns#2 SOA .", Up: true},
	}
	f := &fakeEnv{running: true, status: st}
	e := f.env()
	e.now = func() time.Time { return now }
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"status", "-n", "--health"}, &out, &errb, e); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), sampleList) {
		t.Fatalf("the table must come first, unchanged:\n%s", out.String())
	}
	extra := out.String()[len(sampleList):]
	rs, ck := strings.Index(extra, "Real servers"), strings.Index(extra, "\nChecks\n")
	if rs < 0 || ck < rs {
		t.Fatalf("no Checks section after Real servers:\n%s", extra)
	}
	lines := strings.Split(extra[ck+1:], "\n")
	// Header and three rows, then the end (no quorum in this status).
	if len(lines) < 5 {
		t.Fatalf("checks section:\n%s", extra[ck:])
	}
	header, rows := lines[1], lines[2:5]
	for i, want := range [][]string{
		{"TCP 192.168.56.90:80", "192.168.56.200:80", "http#0 GET /health.html", "up", "ok", "1.234ms", "1.5s ago", "GET /health.html: status 200"},
		{"TCP 192.168.56.90:80", "192.168.56.201:80", "tcp#1 at 10.0.0.9:8080", "down", "refused", "2s", "1m35s ago",
			"connect: connection refused (port closed)"},
		{"TCP 192.168.56.90:80", "[2001:db8::1]:80", "dns#2 SOA .", "up", "-", "-", "never", ""},
	} {
		// Each cell starts at its header's column.
		cols := []string{"Service", "RemoteAddress:Port", "Check", "State", "Last result", "Took", "Last at", "Reason"}
		for j, cell := range want {
			col := utf8.RuneCountInString(header[:strings.Index(header, cols[j])])
			r := []rune(rows[i])
			if cell == "" {
				if len(r) > col {
					t.Errorf("row %d: %q after the last column", i, string(r[col:]))
				}
				continue
			}
			if len(r) < col+len([]rune(cell)) || string(r[col:col+len([]rune(cell))]) != cell {
				t.Errorf("row %d: column %s does not start with %q:\n%s\n%s", i, cols[j], cell, header, rows[i])
			}
		}
	}
}

// lbctl reload asks without force unless --force; a refusal exits 1 with
// lbd's message on stderr and "not reloaded" on stdout.
func TestReloadForce(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		refuse    bool
		wantCode  int
		wantForce bool
		wantOut   string
		wantErr   string
	}{
		{name: "plain", args: []string{"reload"}, wantOut: "reloaded /etc/lbd/lbd.yaml"},
		{name: "refused", args: []string{"reload"}, refuse: true, wantCode: 1,
			wantOut: "not reloaded /etc/lbd/lbd.yaml", wantErr: "lbctl: reload: lbd: removal guard: the configuration would remove 1 of the 1 IPVS services"},
		{name: "forced", args: []string{"reload", "--force"}, refuse: true, wantForce: true, wantOut: "reloaded /etc/lbd/lbd.yaml"},
		{name: "forced, json", args: []string{"reload", "--force", "--json"}, refuse: true, wantForce: true, wantOut: `"config_file": "/etc/lbd/lbd.yaml"`},
		{name: "a stray argument", args: []string{"reload", "force"}, wantCode: 2, wantErr: `unexpected argument "force"`},
		{name: "resync has no --force", args: []string{"resync", "--force"}, wantCode: 2, wantErr: "flag provided but not defined: -force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeEnv{running: true, refuse: tt.refuse}
			code, out, errs := runCmd(f, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, out, errs, tt.wantCode, tt.wantOut, tt.wantErr)
			}
			if f.reloadReq.Force != tt.wantForce {
				t.Errorf("force sent: %v, want %v", f.reloadReq.Force, tt.wantForce)
			}
			if tt.refuse && !tt.wantForce && strings.Contains(out, "reloaded /etc") && !strings.Contains(out, "not reloaded") {
				t.Errorf("a refused reload printed as reloaded: %q", out)
			}
		})
	}
}

// When lbd runs VRRP only, status says plainly there is no IPVS table
// (not an empty ipvsadm header) and shows the VRRP instances; --health
// still shows everything lbd knows; the other table views print nothing
// and say why on stderr.
func TestStatusVRRPOnly(t *testing.T) {
	st := control.Status{IPVS: control.IPVS{VRRPOnly: true}, VRRP: []control.VRRPInstance{
		{Name: "VI_1", Interface: "eth1", VRID: 51, State: "MASTER", Priority: 100, EffectivePriority: 100,
			VIPs: []string{"192.168.56.90/32"}},
	}}
	f := &fakeEnv{running: true, status: st}
	for _, tc := range []struct {
		args           []string
		stdout, notOut []string
		stderr         string
		emptyStdout    bool
	}{
		{args: []string{"status", "-n"}, stdout: []string{noTable, "VRRP instances", "VI_1", "MASTER", "192.168.56.90/32"},
			notOut: []string{"IP Virtual Server", "Prot LocalAddress"}},
		{args: []string{"status"}, stdout: []string{noTable, "VI_1"}, notOut: []string{"IP Virtual Server"}},
		{args: []string{"status", "-n", "--health"}, stdout: []string{noTable, "VRRP instances", "VI_1"},
			notOut: []string{"IP Virtual Server", "Real servers"}},
		{args: []string{"save", "-n"}, stderr: noTable, emptyStdout: true},
		{args: []string{"status", "--timeout"}, stderr: noTable, emptyStdout: true},
		{args: []string{"status", "--daemon"}, stderr: noTable, emptyStdout: true},
	} {
		code, out, errs := runCmd(f, tc.args...)
		if code != 0 {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errs)
		}
		for _, w := range tc.stdout {
			if !strings.Contains(out, w) {
				t.Errorf("%v: stdout lacks %q:\n%s", tc.args, w, out)
			}
		}
		for _, w := range tc.notOut {
			if strings.Contains(out, w) {
				t.Errorf("%v: stdout has %q:\n%s", tc.args, w, out)
			}
		}
		if tc.emptyStdout && out != "" {
			t.Errorf("%v: stdout %q, want nothing", tc.args, out)
		}
		if !strings.Contains(errs, tc.stderr) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, errs, tc.stderr)
		}
	}
	// --json carries the mode.
	code, out, _ := runCmd(f, "status", "--json")
	var got control.Status
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || !got.IPVS.VRRPOnly || !strings.Contains(out, `"vrrp_only": true`) {
		t.Errorf("json: %d %s", code, out)
	}
}
