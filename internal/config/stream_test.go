package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sameAsTree parses data both ways, a virtual server at a time when the
// cut applies (parseDirector) and as one tree, and fails unless both give
// the same configuration and the same errors. It returns whether the first
// was streamed.
func sameAsTree(t *testing.T, data []byte) bool {
	t.Helper()
	got, streamed, gotErr := parseDirector("t.yaml", data)
	want, wantErr := newReport("t.yaml").parseDirector(data)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("errors differ (streamed %v):\n  got:\n%v\n  want (tree):\n%v", streamed, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("configurations differ (streamed %v):\n  got:  %+v\n  want: %+v", streamed, got, want)
	}
	return streamed
}

const streamVS = `  - address: 192.168.56.%d
    port: 80
    real_servers:
      - address: 10.0.0.1
        checks: [{type: tcp}]
`

// vsList is n services, one of them wrong (an unknown key) when bad.
func vsList(n int, bad bool) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, streamVS, i+1)
		if bad {
			b.WriteString("    colour: blue\n")
		}
	}
	return b.String()
}

// The cut gives what the tree gives, for the shapes it is made for and for
// every shape it must leave to the tree.
func TestStreamedMatchesTree(t *testing.T) {
	two := vsList(2, false)
	tests := []struct {
		name     string
		yaml     string
		streamed bool
	}{
		{"block list", "global: {router_id: a}\nvirtual_servers:\n" + two + vi1, true},
		{"list first, sections after", "virtual_servers:\n" + two + "global:\n  router_id: a\n" + vi1, true},
		{"items at column 0", "virtual_servers:\n- address: 192.168.56.1\n  port: 80\n- address: 192.168.56.2\n  port: 81\nglobal: {router_id: a}\n", true},
		{"flow items over lines (rssbench's shape)", "virtual_servers:\n  - {address: 192.168.56.1, port: 80, real_servers: [\n    {address: 10.0.0.1, checks: [{type: tcp}]},\n    {address: 10.0.0.2},\n  ]}\n  - {address: 192.168.56.2, port: 80, real_servers: [\n    {address: 10.0.0.1},\n  ]}\n", true},
		{"comments and blank lines", "# lbd\nvirtual_servers:   # the services\n\n# first\n" + streamVS[:0] + fmt.Sprintf(streamVS, 1) + "\n# at column 0\n   # deeper\n" + fmt.Sprintf(streamVS, 2) + "# trailing\n\nglobal: {router_id: a}\n", true},
		{"item opened by a bare dash", "virtual_servers:\n  -\n    address: 192.168.56.1\n    port: 80\n  -\n    address: 192.168.56.2\n    port: 80\n", true},
		{"block scalar and a folded plain value", "virtual_servers:\n  - address: 192.168.56.1\n    port: 80\n    real_servers:\n      - address: 10.0.0.1\n        checks:\n          - type: http\n            virtualhost: >\n              www.example\n              .com\n            urls:\n              - path: /a?b=1&c=*\n  - address: 192.168.56.2\n    port: 80\n", true},
		{"errors in items and after the list", "virtual_servers:\n" + vsList(3, true) + "  - address: nowhere\n    port: 99999\nvrrp:\n  instances:\n    VI_1: {interface: eth0}\n", true},
		{"more errors than kept, the list first", "virtual_servers:\n" + vsList(150, true) + "global: {colour: red}\n", true},
		{"an item that is not a mapping", "virtual_servers:\n  - just text\n  - [1, 2]\n" + two, true},
		{"a wrong key in the list", "virtual_servers:\n  - address: 192.168.56.1\n    port: 80\n    real_server: []\n", true},
		{"empty", "", false},
		{"no list", "global: {router_id: a}\n" + vi1, false},
		{"flow list", "virtual_servers: [{address: 192.168.56.1, port: 80}]\n", false},
		{"key glued to a comment", "virtual_servers:#x\n" + two, false},
		{"anchor and alias", "virtual_servers:\n  - &vs\n    address: 192.168.56.1\n    port: 80\n  - *vs\n", false},
		{"anchor outside the list", "global: &g {router_id: a}\nvirtual_servers:\n" + two, false},
		{"quote open across items", "virtual_servers:\n  - address: \"192.168.56.1\n  - port: 80\"\n", false},
		{"flow collection open across items", "virtual_servers:\n  - {address: 192.168.56.1,\n  - port: 80}\n", false},
		{"flow mapping at the root", "{\nvirtual_servers:\n  - address: 192.168.56.1\n}\n", false},
		{"key inside a quoted value", "global:\n  router_id: \"a\nvirtual_servers:\n  - address: 192.168.56.1\n  \"\n", false},
		{"duplicate key", "virtual_servers:\n" + two + "virtual_servers:\n" + two, false},
		{"quoted duplicate first", "\"virtual_servers\": []\nvirtual_servers:\n" + two, false},
		{"quoted duplicate after", "virtual_servers:\n" + two + "\"virtual_servers\": []\n", true},
		{"line indented less than the items", "virtual_servers:\n  - address: 192.168.56.1\n    port: 80\n foo: 1\n", false},
		{"list not first under the key", "virtual_servers:\n  port: 80\n", false},
		{"tab in the indentation", "virtual_servers:\n  - address: 192.168.56.1\n\t port: 80\n", false},
		{"carriage returns", "virtual_servers:\r\n  - address: 192.168.56.1\r\n    port: 80\r\n", false},
		{"two documents", "virtual_servers:\n" + two + "---\nglobal: {}\n", false},
		{"syntax error in the skeleton", "global: {router_id: a\nvirtual_servers:\n" + two, false},
		{"syntax error in an item", "virtual_servers:\n" + two + "  - address: [\n", false},
		{"tab after the dash", "virtual_servers:\n  - address: 192.168.56.1\n  -\taddress: 192.168.56.2\n", false},
		// Decoding stops at maxErrorsFound errors, before the last item:
		// the tree would have reported its syntax error instead.
		{"syntax error past the error limit", "virtual_servers:\n" + strings.Repeat("  - {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}\n", 110) + "  - {address: [\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameAsTree(t, []byte(tt.yaml)); got != tt.streamed {
				t.Errorf("streamed = %v, want %v", got, tt.streamed)
			}
		})
	}
}

// The files lbd is run with in practice are streamed: the examples (with
// services), the
// benchmarks' 1,000 x 10 in block and in flow style, and what
// import-keepalived writes (internal/kaconf tests its own output).
func TestStreamedRealFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "lbd-*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("examples: %v, %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// A file without services (VRRP only) has nothing to stream.
		if !sameAsTree(t, data) && strings.Contains(string(data), "\nvirtual_servers:") {
			t.Errorf("%s: not streamed", f)
		}
	}
	for _, flow := range []bool{false, true} {
		data := largeDirector(1000, 10, flow)
		if !sameAsTree(t, data) {
			t.Errorf("1,000 x 10 (flow %v): not streamed", flow)
		}
	}
}

// largeDirector is services x reals with an HTTP check each, in block
// style (as import-keepalived writes) or in rssbench's flow style.
func largeDirector(services, reals int, flow bool) []byte {
	var b strings.Builder
	b.WriteString("global:\n  router_id: big\nvirtual_servers:\n")
	for i := range services {
		if flow {
			fmt.Fprintf(&b, "  - {address: 10.200.%d.%d, port: 80, scheduler: rr, forwarding: NAT, delay_loop: 1s, real_servers: [\n", i/250, 1+i%250)
			for j := range reals {
				fmt.Fprintf(&b, "    {address: 10.%d.%d.%d, checks: [{type: http, connect_ip: 127.0.0.1, urls: [{path: /, digest: d36f8f9425c4a8000ad9c4a97185aca5}]}]},\n", 1+i/250, i%250, 1+j)
			}
			b.WriteString("  ]}\n")
			continue
		}
		fmt.Fprintf(&b, "  - address: 10.200.%d.%d\n    port: 80\n    scheduler: wrr\n    delay_loop: 6\n    real_servers:\n", i/250, 1+i%250)
		for j := range reals {
			fmt.Fprintf(&b, "      - address: 10.%d.%d.%d\n        weight: %d\n        checks:\n          - type: http\n            urls: [{path: /health, digest: d36f8f9425c4a8000ad9c4a97185aca5}]\n", 1+i/250, i%250, 1+j, j+1)
		}
	}
	return []byte(b.String())
}

// FuzzStreamed: the cut never changes what a file means or the errors it
// gives.
func FuzzStreamed(f *testing.F) {
	for _, glob := range []string{"testdata/*.yaml", "../../deploy/examples/lbd-*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("virtual_servers:\n" + vsList(2, true) + vi1))
	f.Add([]byte("virtual_servers:\n- {address: 192.168.56.1, port: 80, real_servers: [\n  {address: 10.0.0.1},\n]}\n- address: 192.168.56.2\n  port: 80\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsTree(t, data)
	})
}
