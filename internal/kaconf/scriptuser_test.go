package kaconf

import (
	"strings"
	"testing"

	"github.com/lvsd/lb/internal/runas"
)

func TestUserWords(t *testing.T) {
	for _, tc := range []struct {
		words []string
		want  runas.Who
		ok    bool
	}{
		{[]string{"nobody"}, runas.Who{User: "nobody"}, true},
		{[]string{"nobody", "daemon"}, runas.Who{User: "nobody", Group: "daemon"}, true},
		{[]string{"nobody:daemon"}, runas.Who{User: "nobody", Group: "daemon"}, true},
		{[]string{"nobody", ":", "daemon"}, runas.Who{User: "nobody", Group: "daemon"}, true},
		{[]string{"nobody", ":daemon"}, runas.Who{User: "nobody", Group: "daemon"}, true},
		{[]string{"nobody", "daemon", "extra"}, runas.Who{}, false},
		{[]string{":daemon"}, runas.Who{}, false},
	} {
		got, ok := userWords(tc.words)
		if got != tc.want || ok != tc.ok {
			t.Errorf("userWords(%q) = %+v, %t; want %+v, %t", tc.words, got, ok, tc.want, tc.ok)
		}
	}
}

// TestScriptUsersImported: script_user, enable_script_security, a
// vrrp_script's and a MISC_CHECK's user and the user after a block's notify
// commands come through to lbd.yaml (which lbd check accepts), and an
// unknown user is an error naming the line.
func TestScriptUsersImported(t *testing.T) {
	res := convert(t, "global_defs {\n script_user nobody daemon\n enable_script_security\n}\n"+
		"vrrp_script chk {\n script /bin/true\n user nobody\n}\n"+
		instance(" notify_master \"/bin/n.sh master\" nobody:daemon\n notify_backup /bin/b.sh nobody daemon\n track_script {\n  chk\n }")+
		service("10.0.0.100 80", "protocol TCP\nreal_server 10.0.0.1 80 {\n MISC_CHECK {\n  misc_path /bin/true\n  user nobody\n }\n}"))
	d := res.Director
	if g := d.Global; g.ScriptUser != "nobody" || g.ScriptGroup != "daemon" || !g.EnableScriptSecurity {
		t.Errorf("global %+v", g)
	}
	if s := d.VRRP.Scripts[0]; s.User != "nobody" || s.Group != "" {
		t.Errorf("vrrp_script user %q group %q", s.User, s.Group)
	}
	if n := d.VRRP.Instances[0].Notify; n.User != "nobody" || n.Group != "daemon" {
		t.Errorf("notify %+v", n)
	}
	if c := d.VirtualServers[0].RealServers[0].Checks[0]; c.User != "nobody" {
		t.Errorf("MISC_CHECK %+v", c)
	}
	if len(res.Unmapped) != 0 {
		t.Errorf("unmapped: %v", res.Unmapped)
	}
	for _, want := range []string{"script_user: nobody", "script_group: daemon", "enable_script_security: true", "user: nobody", "group: daemon"} {
		if !strings.Contains(string(res.YAML), want) {
			t.Errorf("lbd.yaml lacks %q:\n%s", want, res.YAML)
		}
	}

	for _, tc := range []struct{ conf, want string }{
		{"global_defs {\n script_user no-such-user-lbd\n}\n", `keepalived.conf:2: script_user: script user "no-such-user-lbd"`},
		{instance(" notify_master /bin/n.sh nobody no-such-group-lbd"), `keepalived.conf:7: notify_master: script group "no-such-group-lbd"`},
		{"vrrp_script chk {\n script /bin/true\n user a b c\n}\n", `keepalived.conf:3: user: want a user name and an optional group name, got "a b c"`},
	} {
		_, err := Convert("keepalived.conf", []byte(tc.conf), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Convert(%q) = %v, want an error with %q", tc.conf, err, tc.want)
		}
	}
}
