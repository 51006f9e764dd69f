package realserver

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// hostileStates are state files lbrs must refuse whole, each with what the
// refusal must say. A file may be corrupt (a crash, a disk error) or crafted:
// acted on, each of the crafted ones would remove an address or write a
// sysctl lbrs never added.
func hostileStates() []struct {
	name, state, want string
	setup             func(f *fakeSystem)
} {
	v1, err := os.ReadFile("testdata/state-v1.json")
	if err != nil {
		panic(err)
	}
	rec := func(body string) string { return `{"version": 1, ` + body + `}` }
	addr := func(link, prefix string) string {
		return rec(`"addresses": [{"link": "` + link + `", "prefix": "` + prefix + `"}]`)
	}
	sysctl := func(key, value string) string { return rec(`"sysctls": {"` + key + `": "` + value + `"}`) }
	return []struct {
		name, state, want string
		setup             func(f *fakeSystem)
	}{
		{name: "truncated", state: string(v1[:len(v1)/2]), want: "not a state file lbrs wrote: unexpected EOF"},
		{name: "empty file", state: "", want: "not a state file lbrs wrote: EOF"},
		{name: "not JSON", state: "\x00\x01garbage", want: "not a state file lbrs wrote"},
		{name: "wrong version", state: strings.Replace(string(v1), `"version": 1`, `"version": 2`, 1), want: "version 2, want 1"},
		{name: "no version", state: `{"sysctls": {"net/ipv4/conf/lo/arp_ignore": "0"}}`, want: "version 0, want 1"},
		{name: "unknown field", state: rec(`"commands": ["rm -rf /"]`), want: `unknown field "commands"`},
		{name: "data after the object", state: rec(`"links": {}`) + `{"version": 1}`, want: "data after the JSON object"},
		{name: "loopback network", state: addr("lo", "127.0.0.1/8"), want: "prefix length /8: lbrs adds VIPs as /32 only"},
		{name: "loopback host", state: addr("lo", "127.0.0.1/32"), want: "not a VIP (unspecified, loopback"},
		{name: "IPv6 loopback", state: addr("lo", "::1/128"), want: "not a VIP"},
		{name: "link-local", state: addr("lo", "fe80::1/128"), want: "not a VIP"},
		{name: "multicast", state: addr("lo", "224.0.0.18/32"), want: "not a VIP"},
		{name: "broadcast", state: addr("lo", "255.255.255.255/32"), want: "not a VIP"},
		{name: "unspecified", state: addr("lo", "0.0.0.0/32"), want: "not a VIP"},
		{name: "mapped IPv4", state: addr("lo", "::ffff:192.0.2.1/128"), want: "IPv4-mapped"},
		{name: "node address on eth0", state: addr("eth0", "192.168.56.200/24"), want: "prefix length /24"},
		{name: "node /32 address on eth0", state: addr("eth0", "10.1.1.5/32"), want: "address 10.1.1.5/32 on eth0",
			setup: func(f *fakeSystem) { f.externalAdd(Address{Link: "eth0", Prefix: pfx("10.1.1.5/32")}) }},
		{name: "node address copied on lo", state: addr("lo", "192.168.56.200/32"), want: "it is this node's own primary address on eth0",
			setup: func(f *fakeSystem) { f.externalAdd(Address{Link: "lo", Prefix: pfx("192.168.56.200/32")}) }},
		{name: "device path", state: addr("../eth0", "192.0.2.1/32"), want: `interface "../eth0": not a valid device name`},
		{name: "control character", state: addr(`lo\u0000x`, "192.0.2.1/32"), want: `interface "lo\x00x": not a valid device name`},
		{name: "foreign label", state: rec(`"addresses": [{"link": "lo", "prefix": "192.0.2.1/32", "label": "eth0:1"}]`), want: `label "eth0:1": not a label of lo`},
		{name: "duplicate", state: rec(`"addresses": [{"link": "lo", "prefix": "192.0.2.1/32"}, {"link": "lo", "prefix": "192.0.2.1/32"}]`), want: "recorded twice"},
		{name: "kernel sysctl", state: sysctl("kernel/core_pattern", "|/tmp/x"), want: `sysctl "kernel/core_pattern": not a sysctl lbrs sets`},
		{name: "ip_forward", state: sysctl("net/ipv4/ip_forward", "1"), want: "not a sysctl lbrs sets"},
		{name: "dotted name", state: sysctl("net.ipv4.conf.lo.arp_ignore", "0"), want: "not a sysctl lbrs sets"},
		{name: "traversal", state: sysctl("net/ipv4/conf/../../../kernel/x", "1"), want: "not a sysctl lbrs sets"},
		{name: "dot-dot device", state: sysctl("net/ipv4/conf/../arp_ignore", "1"), want: `device "..": not a device`},
		{name: "default device", state: sysctl("net/ipv4/conf/default/arp_ignore", "1"), want: `device "default": not a device`},
		{name: "other knob", state: sysctl("net/ipv4/conf/eth0/forwarding", "1"), want: `"forwarding": not a sysctl lbrs sets`},
		{name: "huge value", state: sysctl("net/ipv4/conf/all/arp_ignore", strings.Repeat("9", 4096)), want: `original value "99999999999999999999...": want an integer 0-8`},
		{name: "value out of range", state: sysctl("net/ipv4/conf/all/arp_announce", "3"), want: "want an integer 0-2"},
		{name: "negative value", state: sysctl("net/ipv4/conf/all/rp_filter", "-1"), want: "want an integer 0-2"},
		{name: "value with newline", state: sysctl("net/ipv4/conf/all/arp_ignore", `1\n2`), want: "want an integer 0-8"},
		{name: "lo created", state: rec(`"links": {"lo": {"was_up": true, "created": true}}`), want: "link lo: recorded as created by lbrs"},
		{name: "eth0 created", state: rec(`"links": {"eth0": {"was_up": true, "created": true}}`), want: "link eth0: recorded as created by lbrs, but it is a physical device"},
		{name: "eth0 was down", state: rec(`"links": {"eth0": {"was_up": false}}`), want: "link eth0"},
		{name: "huge file", state: rec(`"links": {}`) + strings.Repeat(" ", maxStateSize), want: "larger than 1048576 bytes"},
		{name: "many problems", state: rec(`"sysctls": {` + manySysctls(30) + `}`), want: "; and 20 more"},
	}
}

func manySysctls(n int) string {
	var kv []string
	for i := range n {
		kv = append(kv, `"kernel/x`+strconv.Itoa(i)+`": "1"`)
	}
	return strings.Join(kv, ", ")
}

// TestHostileStateRefused: a state file that is corrupt or holds anything
// lbrs would not have written is refused whole, by restore from the file
// alone, by apply (lbrs run, lbrs apply) and by the running agent's restore:
// an error naming the file and the problem, wrapping ErrBadState, and
// nothing changed on the node nor in the file.
func TestHostileStateRefused(t *testing.T) {
	for _, tt := range hostileStates() {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			if tt.setup != nil {
				tt.setup(f)
			}
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(tt.state), 0o600); err != nil {
				t.Fatal(err)
			}
			beforeLo, beforeEth := f.addrsOn("lo"), f.addrsOn("eth0")
			spec := drSpec("192.0.2.10")
			spec.StateFile = path
			a, _ := newAgent(t, spec, f)
			for _, step := range []struct {
				what string
				run  func() error
			}{
				{"Restore", func() error { return Restore(context.Background(), f, path, nil) }},
				{"Agent.Apply", func() error { return a.Apply(context.Background()) }},
				{"Agent.Restore", func() error { return a.Restore(context.Background()) }},
			} {
				err := step.run()
				if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s = %v; want a refusal naming %s and %q", step.what, err, path, tt.want)
				}
			}
			if w := f.takeWrites(); len(w) != 0 {
				t.Errorf("refused state file, yet the node was changed: %q", w)
			}
			if diff := cmp.Diff(beforeLo, f.addrsOn("lo")); diff != "" {
				t.Errorf("lo changed: %s", diff)
			}
			if diff := cmp.Diff(beforeEth, f.addrsOn("eth0")); diff != "" {
				t.Errorf("eth0 changed: %s", diff)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, []byte(tt.state)) {
				t.Errorf("refused state file was rewritten")
			}
		})
	}
}

// TestStateFileRefusalBounded: a refusal lists at most maxStateErrors
// problems however many the file holds.
func TestStateFileRefusalBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(`{"version": 1, "sysctls": {`+manySysctls(5000)+`}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadState(path)
	if !errors.Is(err, ErrBadState) || len(err.Error()) > 4096 || !strings.Contains(err.Error(), "and 4990 more") {
		t.Errorf("LoadState = %d bytes of error (%.200v...), want a bounded refusal counting the rest", len(err.Error()), err)
	}
}

// TestStateFileNotRegular: a FIFO or a directory where the state file
// should be is refused at once, not waited on.
func TestStateFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.json")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, dir} {
		done := make(chan error, 1)
		go func() { _, err := LoadState(path); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), path+": not a regular file") {
				t.Errorf("LoadState(%s) = %v, want refused as not a regular file", path, err)
			}
		case <-time.After(10 * time.Second):
			// Unblock the reader so the test ends.
			if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				w.Close()
			}
			t.Fatalf("LoadState(%s) still blocked after 10 s", path)
		}
	}
}

// A VIP the configuration no longer lists is still lbrs's to remove (it
// added it, on its own device, as a host address): leaving it would have
// the node answer ARP for it once the sysctls are back. Both apply with the
// new configuration and restore remove it. Records on a device the
// configuration no longer uses are refused by the agent; restore from the
// file alone (lbrs restore -state) undoes them, on lo, dummy or tunnel
// devices only.
func TestStateAfterConfigChange(t *testing.T) {
	ctx := context.Background()
	t.Run("VIP dropped from the config", func(t *testing.T) {
		f := newFake()
		old := drSpec("192.0.2.10", "192.0.2.11")
		a, _ := newAgent(t, old, f)
		if err := a.Apply(ctx); err != nil {
			t.Fatal(err)
		}
		// kill -9, then the operator drops a VIP and starts again.
		spec := drSpec("192.0.2.10")
		spec.StateFile = a.Spec().StateFile
		b, _ := newAgent(t, spec, f)
		if err := b.Apply(ctx); err != nil {
			t.Fatal(err)
		}
		wantAddrs(t, f, "lo", "127.0.0.1/8 label lo", "192.0.2.10/32 label lo:0")
		if err := b.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		wantAddrs(t, f, "lo", "127.0.0.1/8 label lo")
	})
	t.Run("device dropped from the config", func(t *testing.T) {
		f := newFake()
		f.links["dummy0"] = &fakeLink{kind: "dummy", up: true}
		for _, k := range []string{"arp_ignore", "arp_announce"} {
			f.sysctls.Put(confKey("dummy0", k), "0")
		}
		old := drSpec("192.0.2.10")
		old.Interface = "dummy0"
		a, _ := newAgent(t, old, f)
		if err := a.Apply(ctx); err != nil {
			t.Fatal(err)
		}
		f.takeWrites()
		spec := drSpec("192.0.2.10")
		spec.StateFile = a.Spec().StateFile
		b, _ := newAgent(t, spec, f)
		err := b.Apply(ctx)
		if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), "address 192.0.2.10/32 on dummy0: the configuration puts VIPs on lo only") {
			t.Fatalf("Apply with the device changed = %v, want refusal", err)
		}
		if w := f.takeWrites(); len(w) != 0 {
			t.Errorf("refused apply wrote %q", w)
		}
		if err := Restore(ctx, f, spec.StateFile, nil); err != nil {
			t.Fatal(err)
		}
		if got := f.addrsOn("dummy0"); len(got) != 0 {
			t.Errorf("dummy0 after restore from the file: %q", got)
		}
		wantSysctls(t, f, "net/ipv4/conf/dummy0/arp_ignore", "0", allIgnore, "0")
		if err := b.Apply(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("running agent after a reload", func(t *testing.T) {
		// The state may still hold records of the former configuration's
		// device (an undo failed): the agent's own restore undoes them.
		f := newFake()
		f.links["dummy0"] = &fakeLink{kind: "dummy", up: true}
		for _, k := range []string{"arp_ignore", "arp_announce"} {
			f.sysctls.Put(confKey("dummy0", k), "0")
		}
		old := drSpec("192.0.2.10")
		old.Interface = "dummy0"
		a, _ := newAgent(t, old, f)
		if err := a.Apply(ctx); err != nil {
			t.Fatal(err)
		}
		f.sysctls.FailSet(confKey("dummy0", "arp_ignore"), errors.New("read-only file system"))
		spec := drSpec("192.0.2.10")
		spec.StateFile = a.Spec().StateFile
		if err := a.Reload(ctx, spec); err == nil {
			t.Fatal("Reload succeeded despite the failed undo")
		}
		f.sysctls.FailSet(confKey("dummy0", "arp_ignore"), nil)
		if err := a.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		wantSysctls(t, f, "net/ipv4/conf/dummy0/arp_ignore", "0", loIgnore, "0", allIgnore, "0")
		wantAddrs(t, f, "lo", "127.0.0.1/8 label lo")
	})
}

// Without a configuration, restore acts only on devices of the kinds lbrs
// uses; a tunnel it did create is deleted.
func TestRestoreFromFileDeviceKinds(t *testing.T) {
	f := newFake()
	f.links["veth1"] = &fakeLink{kind: "veth", up: true, addrs: []Address{{Link: "veth1", Prefix: pfx("192.0.2.7/32"), Label: "veth1"}}}
	path := filepath.Join(t.TempDir(), "state.json")
	state := `{"version": 1, "addresses": [{"link": "veth1", "prefix": "192.0.2.7/32"}]}`
	if err := os.WriteFile(path, []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Restore(context.Background(), f, path, nil)
	if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), "address 192.0.2.7/32 on veth1: a veth device, not one lbrs puts VIPs on") {
		t.Errorf("Restore = %v, want refusal of the veth device", err)
	}
	if got := f.addrsOn("veth1"); !slices.Equal(got, []string{"192.0.2.7/32 label veth1"}) {
		t.Errorf("veth1 after refused restore: %q", got)
	}
}
