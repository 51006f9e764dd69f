package kaconf

import (
	"strings"
	"testing"
)

// keepalived.conf(5), "ADVANCED CONFIGURATION": conditional lines for a
// config id and parameter substitution, read as keepalived reads them.
func TestPreprocessor(t *testing.T) {
	for _, tt := range []struct {
		name, id, in, want string
	}{
		{"@ID kept for its id", "main", "@main router_id a\n@backup router_id b\n", "router_id(a)@1"},
		{"@ID dropped for another", "backup", "@main router_id a\n@backup router_id b\n", "router_id(b)@2"},
		{"@^ID kept for the others", "main", "p {\n @^main 1.2.3.4\n @^backup 1.2.3.5\n @^backup2 1.2.3.6\n}", "p@1{1.2.3.5@3 1.2.3.6@4}"},
		{"no id: @ID dropped, @^ID kept", "", "@main a 1\n@^main b 2\n", "b(2)@2"},
		{"tab after the id", "high", "@high\tscript /x.sh\n", "script(/x.sh)@1"},
		{"@ID alone is dropped", "main", "@main\na 1\n", "a(1)@2"},
		{"parameter", "", "$P=240\npriority $P\n", "priority(240)@2"},
		{"braced parameter inside a word", "", "$B=10.2\naddr ${B}.0.1/32\n", "addr(10.2.0.1/32)@2"},
		{"unbraced parameter glued to text is left", "", "$B=10\naddr $B.1\n", "addr($B.1)@2"},
		{"undefined parameter is left", "", "notify \"/bin/echo $1 ${X}\"\n", "notify(/bin/echo $1 ${X})@1"},
		{"substituted when used, not when defined", "",
			"$A=10.2.${S}\n$S=0\nx ${A}.100/32\n$S=10\nx ${A}.100/32\n", "x(10.2.0.100/32)@3 x(10.2.10.100/32)@5"},
		{"conditional definition", "backup", "@main $PRIO=240\n@backup $PRIO=200\npriority $PRIO\n", "priority(200)@3"},
		{"parameter holding a condition", "main", "$IF_MAIN=@main\n$IF_MAIN priority 240\n", "priority(240)@2"},
		{"parameter holding another condition", "backup", "$IF_MAIN=@main\n$IF_MAIN priority 240\nx 1\n", "x(1)@3"},
		{"multi-line parameter", "low",
			"$I= \\\nvi VI_${N} { \\\n @high priority 130 \\\n @low priority 120 \\\n}\n\n$N=0\n$I\n$N=1\n$I\n",
			"vi(VI_0)@8{priority(120)@8} vi(VI_1)@10{priority(120)@10}"},
		{"nested multi-line parameters", "",
			"$RS= \\\nreal ${R} \\\n\n$VS= \\\nvs { \\\n $R=1 \\\n $RS \\\n $R=2 \\\n $RS \\\n}\n$VS\n",
			"vs@11{real(1)@11 real(2)@11}"},
		{"~SEQ", "", "~SEQ(N, 0, 2, 4) a 10.0.${N}.1\n", "a(10.0.0.1)@1 a(10.0.2.1)@1 a(10.0.4.1)@1"},
		{"~SEQ counting down, defaults", "", "~SEQ(N, 3, 1) a $N\n~SEQ(M, 2) b $M\n", "a(3)@1 a(2)@1 a(1)@1 b(1)@2 b(2)@2"},
		{"~SEQx", "", "~SEQx(X, 0x90, 0x10, 0xc0) a fe80::${X}:1\n", "a(fe80::90:1)@1 a(fe80::a0:1)@1 a(fe80::b0:1)@1 a(fe80::c0:1)@1"},
		{"two ~SEQ on a line", "", "~SEQ(A, 1, 2) ~SEQ(B, 1, 2) a ${A}.${B}\n", "a(1.1)@1 a(1.2)@1 a(2.1)@1 a(2.2)@1"},
		{"~SEQ bound by a parameter", "", "$LAST=2\n~SEQ(N, 1, $LAST) a $N\n", "a(1)@2 a(2)@2"},
		{"~SEQ of a multi-line parameter", "", "$V= \\\nv$N { \\\n p $N \\\n}\n\n~SEQ(N, 1, 2) $V\n", "v1@6{p(1)@6} v2@6{p(2)@6}"},
		{"~LST", "", "~LST(IP, 10, 20) a 192.168.${IP}.1\n", "a(192.168.10.1)@1 a(192.168.20.1)@1"},
		{"~LST of pairs", "", "~LST({IP, IP1}, {10,1},{20,4},{5}) a 192.168.${IP}.${IP1}\n", "a(192.168.10.1)@1 a(192.168.20.4)@1 a(192.168.5.)@1"},
		{"predefined", "lb1", "a ${_INSTANCE} ${_HASH}x ${_BANG}\n", "a(lb1,#x,!)@1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nodes, _, errs := parseText(t, tt.in, &Options{ConfigID: tt.id})
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if got := render(nodes); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestPreprocessorLimits(t *testing.T) {
	_, _, errs := parseText(t, "$A=x $A\ny $A\n", nil)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "k.conf:2: parameter substitution does not end") {
		t.Fatalf("errors: %v", errs)
	}
}

// The sample keepalived ships for conditional configuration converts for
// either id it names, each keeping its own lines.
func TestConditionalSample(t *testing.T) {
	for id, want := range map[string]struct {
		prio   int
		script string
	}{"high": {170, "check_high_VI_0.sh"}, "low": {85, "check_low_VI_0.sh"}} {
		res, err := ConvertFile("testdata/samples/keepalived.conf.conditional_conf", &Options{ConfigID: id})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		in := res.Director.VRRP.Instances[0]
		if in.Priority != want.prio {
			t.Errorf("%s: priority %d, want %d", id, in.Priority, want.prio)
		}
		if cmd := res.Director.VRRP.Scripts[0].Command; len(cmd) != 1 || !strings.HasSuffix(cmd[0], want.script) {
			t.Errorf("%s: script %q, want %s", id, cmd, want.script)
		}
	}
}

// preprocConfs are whole configurations using the preprocessor, read by
// keepalived too (the oracle, without -i: its config id is the host name,
// which names no line here) and converted with no config id.
var preprocConfs = []struct {
	name, conf string
	prio       int
	vip        string
}{
	{"parameters", "$IF=eth0\n$VIP=10.0.0\n$P=150\nvrrp_instance VI_1 {\n interface $IF\n virtual_router_id 51\n priority $P\n virtual_ipaddress {\n  ${VIP}.100\n }\n}\n", 150, "10.0.0.100/32"},
	{"conditional lines", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n@no-such-host priority 200\n@^no-such-host priority 120\n virtual_ipaddress {\n  10.0.0.100\n }\n}\n", 120, "10.0.0.100/32"},
	{"~SEQ and ~LST", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n~LST(P, 130) priority $P\n virtual_ipaddress {\n~SEQ(N, 100, 50, 200) 10.0.0.${N}\n }\n}\n", 130, "10.0.0.100/32 10.0.0.150/32 10.0.0.200/32"},
	{"multi-line parameter", "$INST= \\\nvrrp_instance VI_${N} { \\\n interface eth0 \\\n virtual_router_id ${N} \\\n priority 1${N}0 \\\n virtual_ipaddress { \\\n  10.0.${N}.100 \\\n } \\\n}\n\n$N=5\n$INST\n", 150, "10.0.5.100/32"},
}

func TestPreprocessedConfigurations(t *testing.T) {
	for _, tt := range preprocConfs {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, tt.conf)
			if len(res.Unmapped) > 0 {
				t.Fatalf("unmapped: %v", res.Unmapped)
			}
			in := res.Director.VRRP.Instances
			if len(in) != 1 || in[0].Priority != tt.prio {
				t.Fatalf("instances %+v", in)
			}
			var vips []string
			for _, v := range in[0].VIPs {
				vips = append(vips, v.Prefix.String())
			}
			if got := strings.Join(vips, " "); got != tt.vip {
				t.Errorf("VIPs %s, want %s", got, tt.vip)
			}
		})
	}
}

// keepalived.conf(5)'s large example: nested ~SEQ over a multi-line
// parameter, here 2 x 2 x 60 = 240 instances of 6 substitutions each.
func TestPreprocessorManyExpansions(t *testing.T) {
	conf := "$VI4= \\\nvrrp_instance vrrp4.${IF}.${NUM}.${ID} { \\\n interface eth${IF} \\\n virtual_router_id ${ID} \\\n" +
		" priority 130 \\\n virtual_ipaddress { \\\n  10.${IF}.${NUM}.${ID}/24 \\\n } \\\n}\n\n~SEQ(IF,0,1) ~SEQ(NUM,0,1) ~SEQ(ID,1,60) $VI4\n"
	nodes, _, errs := parseText(t, conf, nil)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(nodes) != 240 || render(nodes[239:]) != "vrrp_instance(vrrp4.1.1.60)@11{interface(eth1)@11 virtual_router_id(60)@11 priority(130)@11 virtual_ipaddress@11{10.1.1.60/24@11}}" {
		t.Fatalf("%d instances, the last %s", len(nodes), render(nodes[len(nodes)-1:]))
	}
}
