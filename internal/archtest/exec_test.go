package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runsConfiguredCommands are the packages that start the commands a
// configuration names (scripts, notify commands): they must do it through
// internal/runas, which applies script_user and enable_script_security,
// never with os/exec directly.
var runsConfiguredCommands = []string{"vrrp", "healthcheck", "director/alert", "director/daemon", "director"}

// TestConfiguredCommandsGoThroughRunas: no non-test file of those packages
// calls os/exec's Command or CommandContext (its types, such as ExitError,
// are fine).
func TestConfiguredCommandsGoThroughRunas(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, pkg := range runsConfiguredCommands {
		files, err := filepath.Glob(filepath.Join(root, pkg, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("package %s: no Go files (%v)", pkg, err)
		}
		for _, p := range files {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(fset, p, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(root, p)
			for _, call := range execCalls(f) {
				t.Errorf("%s:%d calls os/exec's %s: start configured commands with internal/runas (script_user, enable_script_security)",
					rel, fset.Position(call.Pos()).Line, call.Sel.Name)
			}
		}
	}
}

// execCalls returns the uses of os/exec's Command and CommandContext in f.
func execCalls(f *ast.File) []*ast.SelectorExpr {
	name := ""
	for _, im := range f.Imports {
		if path, _ := strconv.Unquote(im.Path.Value); path == "os/exec" {
			name = "exec"
			if im.Name != nil {
				name = im.Name.Name
			}
		}
	}
	if name == "" {
		return nil
	}
	var out []*ast.SelectorExpr
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == name && (sel.Sel.Name == "Command" || sel.Sel.Name == "CommandContext") {
				out = append(out, sel)
			}
		}
		return true
	})
	return out
}

// TestExecCallsCaught proves the check can fail.
func TestExecCallsCaught(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want int
	}{
		{"package p\nimport \"os/exec\"\nvar c = exec.Command(\"x\")", 1},
		{"package p\nimport x \"os/exec\"\nvar c = x.CommandContext(nil, \"x\")", 1},
		{"package p\nimport \"os/exec\"\nvar e *exec.ExitError", 0},
	} {
		f, err := parser.ParseFile(token.NewFileSet(), "p.go", tc.src, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(execCalls(f)); got != tc.want {
			t.Errorf("%q: %d calls found, want %d", tc.src, got, tc.want)
		}
	}
}
