package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/lvsd/lb/"

// edge is one import: from a package (relative path) to a package of the
// module, in a test file or not.
type edge struct {
	from, to string
	test     bool
	file     string
}

// moduleImports returns every import of a module package by a Go file of
// the module.
func moduleImports(t *testing.T) []edge {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var edges []edge
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, im := range f.Imports {
			to, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(to, module) {
				edges = append(edges, edge{from: filepath.ToSlash(filepath.Dir(rel)), to: strings.TrimPrefix(to, module),
					test: strings.HasSuffix(p, "_test.go"), file: filepath.ToSlash(rel)})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return edges
}

// under reports whether pkg is dir or below it.
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// rule is one import rule: bad reports an import that breaks it; example
// is an import that does, to prove the rule can fail.
type rule struct {
	name    string
	bad     func(e edge) bool
	example edge
}

// rules are docs/ARCHITECTURE.md's "who may import whom". A package's
// external test importing the package itself is never an edge.
func rules() []rule {
	return []rule{
		{"the core director imports only director/table and director/kernel", func(e edge) bool {
			return e.from == "director" && !e.test && e.to != "director/table" && e.to != "director/kernel"
		}, edge{from: "director", to: "internal/config"}},
		{"director/table is pure: it imports nothing of the module", func(e edge) bool {
			return e.from == "director/table"
		}, edge{from: "director/table", to: "vrrp"}},
		{"the protocol packages (vrrp, healthcheck, realserver, discovery, bgp, bfd) import none of director, internal/config, internal/kaconf, e2e, nor each other", func(e edge) bool {
			for _, p := range []string{"vrrp", "healthcheck", "realserver", "discovery", "bgp", "bfd"} {
				if !under(e.from, p) {
					continue
				}
				for _, q := range []string{"director", "internal/config", "internal/kaconf", "e2e", "vrrp", "healthcheck", "realserver", "discovery", "bgp", "bfd"} {
					if under(e.to, q) && q != p {
						return true
					}
				}
			}
			return false
		}, edge{from: "vrrp/internal/vrrplab", to: "e2e/topo"}},
		{"nothing outside e2e imports e2e", func(e edge) bool {
			return under(e.to, "e2e") && !under(e.from, "e2e")
		}, edge{from: "director/daemon", to: "e2e/vm", test: true}},
		{"the YAML model (internal/config) is read by the commands, the daemon and the importer only", func(e edge) bool {
			return e.to == "internal/config" && !e.test &&
				!under(e.from, "cmd") && e.from != "director/daemon" && e.from != "internal/kaconf"
		}, edge{from: "director", to: "internal/config"}},
		{"the importer (internal/kaconf) is lbctl's alone", func(e edge) bool {
			return e.to == "internal/kaconf" && !e.test && e.from != "cmd/lbctl"
		}, edge{from: "cmd/lbd", to: "internal/kaconf"}},
		{"lbctl reads the daemon through director/control, never its internals", func(e edge) bool {
			return e.from == "cmd/lbctl" && (e.to == "director/daemon" || e.to == "director")
		}, edge{from: "cmd/lbctl", to: "director/daemon"}},
		{"the namespace lab (internal/netnslab) is test infrastructure", func(e edge) bool {
			return e.to == "internal/netnslab" && !e.test && !under(e.from, "e2e") && e.from != "vrrp/internal/vrrplab" &&
				e.from != "internal/nginxlab"
		}, edge{from: "realserver", to: "internal/netnslab"}},
	}
}

// TestImportRules checks every import of the module against the rules.
func TestImportRules(t *testing.T) {
	edges := moduleImports(t)
	if len(edges) < 50 {
		t.Fatalf("only %d module imports found: is the walk rooted at the module?", len(edges))
	}
	for _, r := range rules() {
		t.Run(r.name, func(t *testing.T) {
			var bad []string
			for _, e := range edges {
				if e.from != e.to && r.bad(e) {
					bad = append(bad, e.file+" imports "+e.to)
				}
			}
			slices.Sort(bad)
			for _, b := range slices.Compact(bad) {
				t.Error(b)
			}
		})
	}
}

// TestRulesCatchViolations proves each rule can fail: its example, an
// import it forbids, is caught.
func TestRulesCatchViolations(t *testing.T) {
	for _, r := range rules() {
		if !r.bad(r.example) {
			t.Errorf("%s: does not catch %s -> %s", r.name, r.example.from, r.example.to)
		}
	}
	if !under("vrrp/internal/vrrplab", "vrrp") || under("vrrpx", "vrrp") {
		t.Error("under is wrong")
	}
}
