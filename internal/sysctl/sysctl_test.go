package sysctl

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPathAndName(t *testing.T) {
	tests := []struct {
		name, path, dotted string // path "": invalid
	}{
		{name: "net.ipv4.ip_forward", path: "net/ipv4/ip_forward", dotted: "net.ipv4.ip_forward"},
		{name: "net/ipv4/ip_forward", path: "net/ipv4/ip_forward", dotted: "net.ipv4.ip_forward"},
		{name: "net.ipv4.vs.conntrack", path: "net/ipv4/vs/conntrack", dotted: "net.ipv4.vs.conntrack"},
		// A device with a dot in its name, in both forms.
		{name: "net/ipv4/conf/eth0.100/rp_filter", path: "net/ipv4/conf/eth0.100/rp_filter", dotted: "net.ipv4.conf.eth0/100.rp_filter"},
		{name: "net.ipv4.conf.eth0/100.rp_filter", path: "net/ipv4/conf/eth0.100/rp_filter", dotted: "net.ipv4.conf.eth0/100.rp_filter"},
		{name: "net/ipv4/conf/lo/arp_ignore", path: "net/ipv4/conf/lo/arp_ignore", dotted: "net.ipv4.conf.lo.arp_ignore"},
		{name: "net/ipv6/conf/default/disable_ipv6", path: "net/ipv6/conf/default/disable_ipv6", dotted: "net.ipv6.conf.default.disable_ipv6"},
		{name: "kernel", path: "kernel", dotted: "kernel"},
		// Nothing may leave the tree or name it oddly.
		{name: ""},
		{name: "."},
		{name: "/"},
		{name: "net..ipv4"},
		{name: "net.ipv4."},
		{name: ".net.ipv4"},
		{name: "../etc/passwd"},
		{name: "/etc/passwd"},
		{name: "net/../../etc/passwd"},
		{name: "net//ipv4"},
		{name: "net/./ipv4"},
		{name: "net/ipv4/"},
		{name: "net.//.passwd"}, // "//" would be ".."
		{name: "net./.ipv4"},    // "/" would be "."
		{name: "net.ipv4\x00.x"},
	}
	for _, tt := range tests {
		got, err := Path(tt.name)
		if tt.path == "" {
			if err == nil || !strings.Contains(err.Error(), "invalid sysctl name") {
				t.Errorf("Path(%q) = %q, %v; want invalid", tt.name, got, err)
			}
			if Name(tt.name) != tt.name {
				t.Errorf("Name(%q) = %q, want it unchanged", tt.name, Name(tt.name))
			}
			continue
		}
		if err != nil || got != tt.path {
			t.Errorf("Path(%q) = %q, %v; want %q", tt.name, got, err, tt.path)
		}
		if d := Name(tt.name); d != tt.dotted {
			t.Errorf("Name(%q) = %q, want %q", tt.name, d, tt.dotted)
		}
		// The two forms name the same file.
		if p, err := Path(tt.dotted); err != nil || p != tt.path {
			t.Errorf("Path(Name(%q)) = %q, %v; want %q", tt.name, p, err, tt.path)
		}
	}
}

// tree is what Proc and Map have in common; the contract test runs on both
// so that the test double behaves as the real tree does.
type tree interface {
	Get(name string) (string, error)
	Set(name, value string) error
}

// newProc returns a Proc on a temporary tree holding values.
func newProc(t *testing.T, values map[string]string) Proc {
	t.Helper()
	root := t.TempDir()
	for name, v := range values {
		p := filepath.Join(root, mustPath(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Proc{Root: root}
}

func TestContract(t *testing.T) {
	values := map[string]string{
		"net.ipv4.ip_forward":              "0",
		"net.ipv4.vs.conn_reuse_mode":      "1024",
		"net/ipv4/conf/eth0.100/rp_filter": "1",
	}
	trees := map[string]func(t *testing.T) tree{
		"Proc": func(t *testing.T) tree { return newProc(t, values) },
		"Map":  func(t *testing.T) tree { return NewMap(values) },
	}
	steps := []struct {
		desc    string
		set     bool
		name    string
		value   string // to set, or wanted from get
		wantErr string // "": success; "notexist": fs.ErrNotExist
	}{
		{desc: "get dotted", name: "net.ipv4.ip_forward", value: "0"},
		{desc: "get slashed", name: "net/ipv4/ip_forward", value: "0"},
		{desc: "set", set: true, name: "net.ipv4.ip_forward", value: "1"},
		{desc: "read back in the other form", name: "net/ipv4/ip_forward", value: "1"},
		{desc: "a shorter value replaces a longer one", set: true, name: "net.ipv4.vs.conn_reuse_mode", value: "0"},
		{desc: "read back", name: "net.ipv4.vs.conn_reuse_mode", value: "0"},
		{desc: "device with a dot, dotted form", name: "net.ipv4.conf.eth0/100.rp_filter", value: "1"},
		{desc: "set it", set: true, name: "net.ipv4.conf.eth0/100.rp_filter", value: "2"},
		{desc: "device with a dot, slashed form", name: "net/ipv4/conf/eth0.100/rp_filter", value: "2"},
		{desc: "missing", name: "net.ipv4.vs.nope", wantErr: "notexist"},
		{desc: "set of a missing sysctl does not create it", set: true, name: "net.ipv4.vs.nope", value: "1", wantErr: "notexist"},
		{desc: "still missing", name: "net.ipv4.vs.nope", wantErr: "notexist"},
		{desc: "invalid name", name: "../etc/passwd", wantErr: "invalid sysctl name"},
		{desc: "invalid name on set", set: true, name: "net/../ipv4/ip_forward", value: "0", wantErr: "invalid sysctl name"},
	}
	for tn, newTree := range trees {
		t.Run(tn, func(t *testing.T) {
			tr := newTree(t)
			for _, s := range steps {
				var got string
				var err error
				if s.set {
					err = tr.Set(s.name, s.value)
				} else {
					got, err = tr.Get(s.name)
				}
				switch {
				case s.wantErr == "notexist":
					if !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s: %v, want fs.ErrNotExist", s.desc, err)
					} else if !strings.Contains(err.Error(), "sysctl "+Name(s.name)) {
						t.Errorf("%s: %q does not name the sysctl", s.desc, err)
					}
				case s.wantErr != "":
					if err == nil || !strings.Contains(err.Error(), s.wantErr) {
						t.Errorf("%s: %v, want %q", s.desc, err, s.wantErr)
					}
				case err != nil:
					t.Errorf("%s: %v", s.desc, err)
				case !s.set && got != s.value:
					t.Errorf("%s: got %q, want %q", s.desc, got, s.value)
				}
			}
		})
	}
}

func TestProcFiles(t *testing.T) {
	p := newProc(t, map[string]string{"net.ipv4.vs.conntrack": "0"})
	if err := p.Set("net.ipv4.vs.conntrack", "1"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(p.Root, "net/ipv4/vs/conntrack")); string(b) != "1\n" {
		t.Errorf("file holds %q, want the value and a newline", b)
	}
	// A directory is not a sysctl.
	if _, err := p.Get("net.ipv4.vs"); err == nil {
		t.Error("read of a directory succeeded")
	}
	// Nothing outside the tree is read, whatever the name (joined
	// without the check, the first two names would reach the file).
	outside := filepath.Join(filepath.Dir(p.Root), "secret")
	if filepath.Join(p.Root, "net/../../secret") != outside {
		t.Fatal("the test's names do not lead to the file outside")
	}
	if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"net/../../secret", "net.//.//.secret", "/" + outside} {
		if v, err := p.Get(name); err == nil || v != "" {
			t.Errorf("Get(%q) = %q: read outside the tree", name, v)
		}
	}
	if got, err := (Proc{}).path("net.ipv4.ip_forward"); err != nil || got != "/proc/sys/net/ipv4/ip_forward" {
		t.Errorf("default root: %q, %v", got, err)
	}
}

func TestMapRecordsAndFails(t *testing.T) {
	m := NewMap(map[string]string{"net/ipv4/conf/lo/arp_ignore": "0", "net.ipv4.conf.all.arp_ignore": "0"})
	if err := m.Set("net/ipv4/conf/lo/arp_ignore", "1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Set("net.ipv4.conf.all.arp_ignore", "1"); err != nil {
		t.Fatal(err)
	}
	if got, want := m.TakeSets(), []string{"net.ipv4.conf.lo.arp_ignore=1", "net.ipv4.conf.all.arp_ignore=1"}; !slices.Equal(got, want) {
		t.Errorf("sets %q, want %q", got, want)
	}
	if got := m.TakeSets(); len(got) != 0 {
		t.Errorf("sets after take: %q", got)
	}
	// Behind the back: not recorded.
	m.Put("net.ipv4.conf.tunl0.arp_ignore", "0")
	if v, err := m.Get("net/ipv4/conf/tunl0/arp_ignore"); err != nil || v != "0" {
		t.Errorf("after Put: %q, %v", v, err)
	}
	m.Delete("net/ipv4/conf/tunl0/arp_ignore")
	if _, err := m.Get("net.ipv4.conf.tunl0.arp_ignore"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Delete: %v", err)
	}
	boom := errors.New("boom")
	m.FailSet("net.ipv4.conf.lo.arp_ignore", boom)
	if err := m.Set("net/ipv4/conf/lo/arp_ignore", "2"); !errors.Is(err, boom) {
		t.Errorf("failing Set: %v", err)
	}
	if v, _ := m.Get("net.ipv4.conf.lo.arp_ignore"); v != "1" {
		t.Errorf("a failed Set changed the value to %q", v)
	}
	m.FailSet("net.ipv4.conf.lo.arp_ignore", nil)
	if err := m.Set("net.ipv4.conf.lo.arp_ignore", "2"); err != nil {
		t.Errorf("Set after FailSet(nil): %v", err)
	}
	if got := m.TakeSets(); !slices.Equal(got, []string{"net.ipv4.conf.lo.arp_ignore=2"}) {
		t.Errorf("sets %q: want only the successful one", got)
	}
}
