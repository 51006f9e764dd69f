package config

import "testing"

// TestScriptUserKeys: global script_user, script_group and
// enable_script_security, and a script check's user and group, decode and
// are checked against the user database (keepalived refuses a script whose
// user does not exist), each error on its file:line.
func TestScriptUserKeys(t *testing.T) {
	for _, tt := range []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "valid",
			yaml: `
global:
  script_user: nobody
  script_group: root
  enable_script_security: true
virtual_servers:
  - address: 192.168.56.90
    port: 80
    real_servers:
      - address: 10.0.0.1
        checks: [{type: script, command: [/bin/true], user: nobody, group: "0"}]
`,
		},
		{
			name: "unknown users and groups, a group alone, a user on a tcp check",
			yaml: `
global:
  script_user: no-such-user-lbd
  enable_script_security: true
virtual_servers:
  - address: 192.168.56.90
    port: 80
    real_servers:
      - address: 10.0.0.1
        checks:
          - {type: script, command: [/bin/true], user: nobody, group: no-such-group-lbd}
          - {type: script, command: [/bin/true], group: root}
          - {type: tcp, user: nobody}
`,
			want: []string{
				`t.yaml:2: global.script_user: script user "no-such-user-lbd": user: unknown user no-such-user-lbd`,
				`t.yaml:10: virtual_servers[0].real_servers[0].checks[0].group: script group "no-such-group-lbd": group: unknown group no-such-group-lbd`,
				`t.yaml:11: virtual_servers[0].real_servers[0].checks[1].group: needs a user (user)`,
				`t.yaml:12: virtual_servers[0].real_servers[0].checks[2].user: not valid for a tcp check`,
			},
		},
		{
			name: "vrrp script and notify users",
			yaml: `
vrrp:
  scripts:
    chk: {command: [/bin/true], user: no-such-user-lbd}
    chk2: {command: [/bin/true], group: root}
  instances:
    VI_1:
      interface: eth0
      virtual_router_id: 51
      virtual_ipaddresses: [{address: 192.168.56.90}]
      notify: {master: [/bin/true], user: nobody, group: no-such-group-lbd}
`,
			want: []string{
				`t.yaml:3: vrrp.scripts[chk].user: script user "no-such-user-lbd": user: unknown user no-such-user-lbd`,
				`t.yaml:4: vrrp.scripts[chk2].group: needs a user`,
				`t.yaml:10: vrrp.instances[VI_1].notify.group: script group "no-such-group-lbd": group: unknown group no-such-group-lbd`,
			},
		},
		{
			name: "a global group needs a user",
			yaml: "global:\n  script_group: root\n",
			want: []string{`t.yaml:2: global.script_group: needs a user (script_user)`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDirector("t.yaml", src(tt.yaml))
			diffLines(t, errLines(t, err), tt.want)
			if err != nil {
				return
			}
			g, c := d.Global, d.VirtualServers[0].RealServers[0].Checks[0]
			if g.ScriptUser != "nobody" || g.ScriptGroup != "root" || !g.EnableScriptSecurity || c.User != "nobody" || c.Group != "0" {
				t.Fatalf("decoded global %+v, check user %q group %q", g, c.User, c.Group)
			}
		})
	}
}
