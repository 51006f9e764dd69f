package realserver

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testdata/state-v1.json is a state file as lbrs wrote it before the sysctl
// code moved to internal/sysctl (keys are paths below /proc/sys, one with a
// dotted device name). The new lbrs must read it, write it back byte for
// byte, and restore from it.
func TestStateFileV1(t *testing.T) {
	want, err := os.ReadFile("testdata/state-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sysctls["net/ipv4/conf/eth0.100/rp_filter"] != "2" || len(st.Sysctls) != 6 || len(st.Addresses) != 4 || !st.Links["tunl0"].Created {
		t.Fatalf("loaded %+v", st)
	}
	again := filepath.Join(t.TempDir(), "again.json")
	if err := SaveState(again, st); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(again); !bytes.Equal(got, want) {
		t.Errorf("written back differently:\n%s\nwant:\n%s", got, want)
	}

	// The node as that lbrs left it: VIPs on lo and on the tunnel it
	// created, its sysctl values in place.
	f := newFake()
	f.mu.Lock()
	f.addLinkLocked("tunl0")
	f.links["tunl0"].up = true
	f.mu.Unlock()
	for _, a := range []Address{
		{Link: "lo", Prefix: pfx("192.168.56.90/32"), Label: "lo:0"},
		{Link: "lo", Prefix: pfx("192.168.56.91/32"), Label: "lo:1"},
		{Link: "lo", Prefix: pfx("2001:db8::90/128")},
		{Link: "tunl0", Prefix: pfx("192.168.56.92/32")},
	} {
		f.externalAdd(a)
	}
	for k, v := range map[string]string{loIgnore: "1", allIgnore: "1", loAnnounce: "2", allAnnounce: "2",
		"net/ipv4/conf/tunl0/rp_filter": "0", "net/ipv4/conf/eth0.100/rp_filter": "0"} {
		f.externalSysctl(k, v)
	}

	if err := Restore(context.Background(), f, path, nil); err != nil {
		t.Fatal(err)
	}
	wantSysctls(t, f, loIgnore, "0", allIgnore, "0", loAnnounce, "0", allAnnounce, "1", "net/ipv4/conf/eth0.100/rp_filter", "2")
	// The address that was there before lbrs stays; the created tunnel goes.
	wantAddrs(t, f, "lo", "127.0.0.1/8 label lo", "192.168.56.91/32 label lo:1")
	if _, err := f.Link("tunl0"); !errors.Is(err, ErrLinkNotFound) {
		t.Errorf("tunl0 after restore: %v, want deleted", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file after a complete restore: %v, want removed", err)
	}
	if diff := cmp.Diff([]string{"192.168.56.200/24 label eth0"}, f.addrsOn("eth0")); diff != "" {
		t.Errorf("eth0 touched: %s", diff)
	}
}
