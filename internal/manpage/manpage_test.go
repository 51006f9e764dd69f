package manpage

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func reference(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConfigPagesListEveryKey: lbd.yaml(5) and lbrs.yaml(5) show, as a
// tagged paragraph, every key the configuration reference lists in the
// file's section: the pages cannot drift from docs/config.md.
func TestConfigPagesListEveryKey(t *testing.T) {
	md := reference(t)
	for _, name := range []string{"lbd.yaml", "lbrs.yaml"} {
		t.Run(name, func(t *testing.T) {
			page, err := ConfigPage(Page{Name: name, Section: "5", Date: "2026-12-07", Source: "lb test"}, "s", md, "")
			if err != nil {
				t.Fatal(err)
			}
			own, _ := Section(md, "## "+name)
			keys := TableKeys(own)
			if len(keys) < 10 {
				t.Fatalf("only %d keys in the reference's %s section: %q", len(keys), name, keys)
			}
			for _, k := range keys {
				if want := ".TP\n" + inline("`"+k+"`") + "\n"; !strings.Contains(page, want) {
					t.Errorf("%s(5) lacks the key %q (looked for %q)", name, k, want)
				}
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	tests := []struct{ name, md, want string }{
		{"heading and paragraph", "### global\n\nSome `key` text\nand **more**.\n",
			".SS global\n.PP\nSome \\fBkey\\fR text\nand \\fBmore\\fR.\n"},
		{"table", "| Key | Type | Default |\n|---|---|---|\n| `a` | `x` \\| `y` | — |\n",
			".TP\n\\fBa\\fR\nType: \\fBx\\fR | \\fBy\\fR\n"},
		{"code block keeps its lines", "```\n.dot first\nback\\slash -x\n```\n",
			".PP\n.RS\n.nf\n\\&.dot first\nback\\eslash \\-x\n.fi\n.RE\n"},
		{"list and link", "- see [the README](../README.md)\n", ".IP \\(bu 2\nsee the README\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Markdown(tt.md); got != tt.want {
				t.Errorf("Markdown(%q) =\n%q\nwant\n%q", tt.md, got, tt.want)
			}
		})
	}
}

func TestFlagsOf(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("c", "/etc/x.yaml", "configuration `file`")
	fs.Bool("json", false, "print JSON")
	fs.Duration("timeout", 0, "how long")
	got := FlagsOf(fs)
	want := []Flag{{Name: "c", Arg: "FILE", Usage: "configuration file", Default: "/etc/x.yaml"},
		{Name: "json", Usage: "print JSON"}, {Name: "timeout", Arg: "DURATION", Usage: "how long", Default: "0s"}}
	if len(got) != len(want) {
		t.Fatalf("FlagsOf = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("flag %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestPagesRender renders every page with man(1) (man-db and groff, from
// .ci/deps) and fails on any warning groff gives.
func TestPagesRender(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Fatalf("man(1) is needed (.ci/deps: man-db groff-base): %v", err)
	}
	md := reference(t)
	dir := t.TempDir()
	prog := Program{Name: "lbctl", Summary: "control lbd", Usage: "usage: lbctl [-s SOCKET] COMMAND\n.odd line\n",
		Globals: []Flag{{Name: "s", Arg: "SOCKET", Usage: "control socket", Default: "/run/lbd/lbd.sock"}},
		Commands: []Command{{Name: "status", Aliases: []string{"list", "ls"}, Summary: "print the table",
			Flags: []Flag{{Name: "n", Usage: "numeric"}, {Name: "json", Usage: "JSON"}}}}}
	pages := map[string]string{"lbctl.8": CommandPage(Page{Name: "lbctl", Section: "8", Date: "2026-12-07", Source: "lb t"}, prog, "")}
	for _, name := range []string{"lbd.yaml", "lbrs.yaml"} {
		p, err := ConfigPage(Page{Name: name, Section: "5", Date: "2026-12-07", Source: "lb t"}, "s", md, "")
		if err != nil {
			t.Fatal(err)
		}
		pages[name+".5"] = p
	}
	for name, text := range pages {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("man", "--warnings", "-l", path)
		cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "MANWIDTH=100", "MAN_KEEP_STDERR=1", "MANPAGER=cat", "PAGER=cat")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("man -l %s: %v\n%s", name, err, stderr.String())
		}
		if name == "lbctl.8" && !strings.Contains(string(out), "Also called list, ls.") {
			t.Errorf("man -l lbctl.8 does not show the alias:\n%s", out)
		}
		if strings.Contains(string(out), `\f`) {
			t.Errorf("man -l %s shows a raw font escape:\n%s", name, out)
		}
		if !strings.Contains(string(out), "NAME") {
			t.Errorf("man -l %s shows no NAME:\n%.400s", name, out)
		}
	}
}
