package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuncLines is the longest a function of non-test code may be. A
// function that must be longer is a flat table or a sequence that reads
// top to bottom; say so here, by name, if one ever has to be.
const maxFuncLines = 100

// TestFunctionSizes measures every function of non-test code (go/ast, the
// lines from func to the closing brace) and fails on one over
// maxFuncLines. Its log gives the count and the mean.
func TestFunctionSizes(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var n, lines int
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			size := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
			n, lines = n+1, lines+size
			if size > maxFuncLines {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("%s: %s is %d lines (at most %d): split it into steps that read top to bottom", rel, fd.Name.Name, size, maxFuncLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 500 {
		t.Fatalf("only %d functions found: is the walk rooted at the module?", n)
	}
	t.Logf("%d functions in non-test code, mean %.1f lines", n, float64(lines)/float64(n))
}
