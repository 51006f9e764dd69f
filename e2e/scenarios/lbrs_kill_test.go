//go:build testbed_guest

package scenarios

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lb/internal/netnslab"
	"github.com/lvsd/lb/realserver"
)

// TestScenarioLbrsKill9RestartRestore is the crash path on a real server:
// "lbrs run" killed with SIGKILL restores nothing but keeps its state file;
// a restarted lbrs keeps the pre-lbrs values as the originals (not its own
// ones, which it finds in place); after a second SIGKILL, the one-shot
// "lbrs restore" (the seed's "lvs-rs.sh stop") brings every original sysctl
// back and removes the VIP. Before that, a tampered state file is refused by
// both "lbrs run" (exit 78 at once) and "lbrs restore", changing nothing.
func TestScenarioLbrsKill9RestartRestore(t *testing.T) {
	n := newNarrator(t)
	commandPath(t, "lbrs")
	n.Step("One real server web1 (192.168.56.200/24) with non-default originals: lo.arp_announce=1, all.arp_ignore=2")
	lab := netnslab.NewT(t, "lbrskill")
	lan, err := lab.AddSwitch("lan")
	must(t, err)
	web, err := lab.AddHost("web1", lan, netip.MustParsePrefix("192.168.56.200/24"))
	must(t, err)
	must(t, web.Sysctl("net.ipv4.conf.lo.arp_announce", "1"))
	must(t, web.Sysctl("net.ipv4.conf.all.arp_ignore", "2"))
	keys := append(sysctlKeys("arp_ignore", "lo", "all"), sysctlKeys("arp_announce", "lo", "all")...)
	origs := readSysctls(t, web, keys)
	n.Note("originals: %s", fmtSysctls(origs, keys))
	applied := map[string]string{}
	for _, k := range keys {
		applied[k] = map[bool]string{true: "1", false: "2"}[strings.HasSuffix(k, "arp_ignore")]
	}
	nd := newLbrsNode(t, "web1", web, "dr", "")
	vip := seedVIP + "/32 lo:0"

	// recorded checks that the state file holds the pre-lbrs values.
	recorded := func(when string) {
		t.Helper()
		st, err := realserver.LoadState(nd.state)
		if err != nil || st.Empty() {
			t.Fatalf("state file %s %s: %+v, %v; want the originals recorded", nd.state, when, st, err)
		}
		for k, v := range origs {
			key := strings.ReplaceAll(k, ".", "/")
			if st.Sysctls[key] != v {
				t.Errorf("state file %s: original of %s = %q, want %q", when, k, st.Sysctls[key], v)
			}
		}
	}

	n.Step("lbrs run; then kill -9 it: nothing is restored, the state file stays")
	d := startLbrs(t, nd)
	_, took := d.waitApplied(t)
	n.Note("applied in %v; lo: %s", took.Round(time.Millisecond), strings.Join(ipv4Addrs(t, web, "lo"), ", "))
	recorded("under the first run")
	if _, err := d.stop(t, syscall.SIGKILL); err == nil {
		t.Errorf("lbrs run killed by SIGKILL exited 0")
	}
	addrs := ipv4Addrs(t, web, "lo")
	n.Note("after kill -9: lo: %s; %s", strings.Join(addrs, ", "), fmtSysctls(readSysctls(t, web, keys), keys))
	if !hasAddr(addrs, vip) {
		t.Errorf("lo after kill -9 = %q, want the VIP still there (nobody restored)", addrs)
	}
	checkSysctls(t, web, applied, "after kill -9")
	if _, err := os.Stat(nd.state); err != nil {
		t.Fatalf("state file after kill -9: %v", err)
	}

	n.Step("lbrs run again: it finds its own values in place and keeps the recorded originals")
	d = startLbrs(t, nd)
	_, took = d.waitApplied(t)
	n.Note("applied in %v", took.Round(time.Millisecond))
	recorded("after the restart")
	out, code := nd.cli(t, "restore")
	n.Note("lbrs restore while lbrs run holds the state: exit %d: %s", code, strings.TrimSpace(out))
	if code == 0 || !strings.Contains(out, "locked") {
		t.Errorf("lbrs restore beside a running lbrs run: exit %d, want a failure naming the lock:\n%s", code, out)
	}
	checkSysctls(t, web, applied, "after a refused restore")

	n.Step("kill -9 again")
	if _, err := d.stop(t, syscall.SIGKILL); err == nil {
		t.Errorf("lbrs run killed by SIGKILL exited 0")
	}
	tamperedState(t, n, nd, applied)
	n.Step("'lbrs restore -c lbrs.yaml' with the state file as lbrs wrote it: the original sysctls come back, the VIP goes")
	out, code = nd.cli(t, "restore")
	n.Block(out)
	if code != 0 {
		t.Fatalf("lbrs restore: exit %d\n%s", code, out)
	}
	addrs = ipv4Addrs(t, web, "lo")
	n.Note("lo: %s; %s", strings.Join(addrs, ", "), fmtSysctls(readSysctls(t, web, keys), keys))
	if len(addrs) != 1 || addrs[0] != "127.0.0.1/8 lo" {
		t.Errorf("lo after lbrs restore = %q, want only 127.0.0.1/8", addrs)
	}
	checkSysctls(t, web, origs, "after lbrs restore")
	if _, err := os.Stat(nd.state); !os.IsNotExist(err) {
		t.Errorf("state file after lbrs restore: %v, want it removed", err)
	}
	out, code = nd.cli(t, "status")
	if code != 1 || !strings.Contains(out, "DIFFERS") {
		t.Errorf("lbrs status after restore: exit %d, want 1 with DIFFERS:\n%s", code, out)
	}
}

// tamperedState records 127.0.0.1/8 and ip_forward in the state file as
// lbrs's own: "lbrs run" exits 78 at once and "lbrs restore" fails, both
// naming the file, and lo and the sysctls stay as they are. The file is
// then put back as lbrs wrote it.
func tamperedState(t *testing.T, n *narrator, nd *lbrsNode, applied map[string]string) {
	t.Helper()
	n.Step("A tampered state file (127.0.0.1/8 and ip_forward recorded as lbrs's): 'lbrs run' and 'lbrs restore' refuse it, nothing changes")
	good, err := os.ReadFile(nd.state)
	must(t, err)
	tampered := strings.Replace(string(good), `"addresses": [`, `"addresses": [{"link": "lo", "prefix": "127.0.0.1/8"}, `, 1)
	tampered = strings.Replace(tampered, `"sysctls": {`, `"sysctls": {"net/ipv4/ip_forward": "1", `, 1)
	must(t, os.WriteFile(nd.state, []byte(tampered), 0o600))
	before := ipv4Addrs(t, nd.ns, "lo")
	forward := readSysctls(t, nd.ns, []string{"net.ipv4.ip_forward"})
	for _, c := range []struct {
		sub  string
		code int
	}{{"run", 78}, {"restore", 1}} {
		start := time.Now()
		out, code := nd.cli(t, c.sub)
		n.Note("lbrs %s: exit %d in %v: %.160s...", c.sub, code, time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
		if code != c.code || !strings.Contains(out, "state file refused: "+nd.state+": ") ||
			!strings.Contains(out, "127.0.0.1/8") || !strings.Contains(out, "net/ipv4/ip_forward") {
			t.Errorf("lbrs %s with a tampered state file: exit %d, want %d naming the file and both records:\n%s", c.sub, code, c.code, out)
		}
	}
	if after := ipv4Addrs(t, nd.ns, "lo"); !slices.Equal(after, before) || !hasAddr(after, "127.0.0.1/8 lo") {
		t.Errorf("lo after the refusals = %q, want unchanged %q", after, before)
	}
	checkSysctls(t, nd.ns, applied, "after the refusals")
	checkSysctls(t, nd.ns, forward, "after the refusals")
	if got, _ := os.ReadFile(nd.state); string(got) != tampered {
		t.Errorf("refused state file rewritten")
	}
	must(t, os.WriteFile(nd.state, good, 0o600))
}
