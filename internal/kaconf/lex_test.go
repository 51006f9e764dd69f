package kaconf

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// render prints a tree compactly: key(arg,arg)@line{children}.
func render(nodes []*Node) string {
	var b strings.Builder
	for i, n := range nodes {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(n.Key)
		if len(n.Args) > 0 {
			b.WriteString("(" + strings.Join(n.Args, ",") + ")")
		}
		fmt.Fprintf(&b, "@%d", n.Pos.Line)
		if n.HasBlock {
			b.WriteString("{" + render(n.Block) + "}")
		}
	}
	return b.String()
}

func parseText(t *testing.T, text string, opts *Options) ([]*Node, *lexer, Errors) {
	t.Helper()
	lx := &lexer{opts: opts}
	lx.lexFile("k.conf", []byte(text))
	nodes, errs := buildTree(lx.items)
	return nodes, lx, append(lx.errs.list, errs.list...)
}

func TestTreeShapes(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string
	}{
		{"brace on the keyword's line", "a x {\n b 1\n}\n", "a(x)@1{b(1)@2}"},
		{"brace on the next line", "a x\n{\n b 1\n}\n", "a(x)@1{b(1)@3}"},
		{"brace after blank and comment lines", "a\n\n# c\n{\nb\n}", "a@1{b@5}"},
		{"whole block on one line", "a { b 1 c 2 }", "a@1{b(1,c,2)@1}"},
		{"nested blocks on one line", "a { b { c 1 } d }", "a@1{b@1{c(1)@1} d@1}"},
		{"closing brace after a statement", "a {\n b 1 }\nc", "a@1{b(1)@2} c@3"},
		{"several closing braces", "a {\n b {\n c {\n d }}}\ne", "a@1{b@2{c@3{d@4}}} e@5"},
		{"empty block", "a {}\nb { }", "a@1{} b@2{}"},
		{"hash comment", "a 1 # b 2\nc", "a(1)@1 c@2"},
		{"bang comment", "! whole line\na 1 ! more", "a(1)@2"},
		{"comment glued to a word", "router_id LVS#comment", "router_id(LVS)@1"},
		{"comment hides a brace", "a { # }\n}", "a@1{}"},
		{"quoted string keeps spaces and specials", `s "x # y ! z { }" w`, "s(x # y ! z { },w)@1"},
		{"quote glued to a word", `s a"b c"d`, "s(a,b c,d)@1"},
		{"escaped comment characters", `a x\#y \!z`, "a(x#y,!z)@1"},
		{"tabs and CRLF", "a\t1\r\n\tb 2\r\n", "a(1)@1 b(2)@2"},
		{"no-break spaces", "\u00a0\u00a0state\u00a0BACKUP", "state(BACKUP)@1"},
		{"byte order mark", "\xef\xbb\xbfa 1", "a(1)@1"},
		{"brace inside quotes is text", `a "{" {` + "\nb\n}", "a({)@1{b@2}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nodes, _, errs := parseText(t, tt.in, nil)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if got := render(nodes); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestStatementText(t *testing.T) {
	nodes, _, errs := parseText(t, `notify_master "/bin/n.sh master" root # c`+"\n", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got, want := nodes[0].Text, `notify_master "/bin/n.sh master" root`; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

func TestNoBreakSpaceNote(t *testing.T) {
	_, lx, _ := parseText(t, "a 1\n\u00a0b 2\n\u00a0c 3\n", nil)
	if len(lx.notes) != 1 || lx.notes[0].Pos.Line != 2 || !strings.Contains(lx.notes[0].Msg, "U+00A0") {
		t.Errorf("notes = %v, want one note for line 2 naming U+00A0", lx.notes)
	}
}

func TestStructuralErrors(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"unclosed block", "a {\n b {\n c\n }\n", []string{`k.conf:1: the block of "a" opened here is never closed (missing "}")`}},
		{"unclosed blocks", "a {\nb {", []string{
			`k.conf:2: the block of "b" opened here is never closed (missing "}")`,
			`k.conf:1: the block of "a" opened here is never closed (missing "}")`}},
		{"extra closing brace", "a {\n}\n}\n", []string{`k.conf:3: unexpected "}" (no block is open)`}},
		{"brace without keyword", "{\n a\n}", []string{`k.conf:1: unexpected "{" (no keyword before it)`}},
		{"second block for one statement", "a { } {\n}", []string{`k.conf:1: unexpected "{" (no keyword before it)`}},
		{"unterminated quote", "a {\n b \"x\n}", []string{`k.conf:2: unterminated double quote`}},
		{"preprocessor lines not supported", "$PRIO=100\n@lb1 priority 200\n~SEQ(i,5,1,3) x\nfoo $x=1\n~LST({a},{1,2}) x\nr ${_RANDOM 1 5}\n", []string{
			"k.conf:3: ~SEQ(i,5,1,3): the step never reaches the end",
			"k.conf:5: ~LST({a},{1,2}): more values than variables in \"1,2\"",
			"k.conf:6: ${_RANDOM 1 5} is not supported: its value is not known where the file is imported; replace it"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, errs := parseText(t, tt.in, nil)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestInclude(t *testing.T) {
	opts := memFS(map[string]string{
		"etc/ka/conf.d/20-b.conf": "b 2\n",
		"etc/ka/conf.d/10-a.conf": "a 1\n\ninclude ../inner.conf\n",
		"etc/ka/inner.conf":       "inner {\n x\n}\n",
		"etc/ka/block.conf":       "y 1\n",
	})
	lx := &lexer{opts: opts}
	lx.lexFile("etc/ka/keepalived.conf", []byte("top {\n include block.conf\n}\ninclude conf.d/*.conf\nlast\n"))
	nodes, errs := buildTree(lx.items)
	if all := append(lx.errs.list, errs.list...); len(all) > 0 {
		t.Fatal(all)
	}
	if got, want := render(nodes), "top@1{y(1)@1} a(1)@1 inner@1{x@2} b(2)@1 last@5"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	files := []string{nodes[0].Block[0].Pos.File, nodes[1].Pos.File, nodes[2].Pos.File, nodes[3].Pos.File, nodes[4].Pos.File}
	want := []string{"etc/ka/block.conf", "etc/ka/conf.d/10-a.conf", "etc/ka/inner.conf", "etc/ka/conf.d/20-b.conf", "etc/ka/keepalived.conf"}
	if !slices.Equal(files, want) {
		t.Errorf("files = %q, want %q", files, want)
	}
}

func TestIncludeErrors(t *testing.T) {
	opts := memFS(map[string]string{
		"d/loop.conf": "include loop.conf\n",
		"d/a.conf":    "include b.conf\n",
		"d/b.conf":    "include a.conf\n",
	})
	for _, tt := range []struct {
		name, in string
		want     string
		note     string
	}{
		{"missing file", "x\ninclude nothere.conf\n", "d/main.conf:2: include nothere.conf: no such file (d/nothere.conf)", ""},
		{"missing argument", "include\n", "d/main.conf:1: include: missing file name", ""},
		{"includes itself", "include loop.conf\n", "d/loop.conf:1: include loop.conf: d/loop.conf includes itself", ""},
		{"loop through two files", "include a.conf\n", "d/b.conf:1: include a.conf: d/a.conf includes itself", ""},
		{"glob without match is a note", "include none/*.conf\n", "", "include none/*.conf matches no file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lx := &lexer{opts: opts}
			lx.lexFile("d/main.conf", []byte(tt.in))
			var got []string
			for _, e := range lx.errs.list {
				got = append(got, e.Error())
			}
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("errors %q, want none", got)
			case tt.want != "" && !slices.Contains(got, tt.want):
				t.Errorf("errors %q, want %q", got, tt.want)
			}
			if tt.note != "" && (len(lx.notes) != 1 || lx.notes[0].Msg != tt.note) {
				t.Errorf("notes %v, want %q", lx.notes, tt.note)
			}
		})
	}
}
