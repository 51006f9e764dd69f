package vm

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// GuestTag is the build tag of test files that run inside the VM.
const GuestTag = "testbed_guest"

// ScenarioPackage is the package of the testbed scenarios. Its guest is
// named ScenarioGuest and its binary lives at GuestTestPath; the host
// reports its tests flat (TestTestbed/SeedDR), other packages' tests one
// level down (TestTestbed/director_kernel/TestTestbedSysctl).
const (
	ScenarioPackage = "./e2e/scenarios"
	ScenarioGuest   = "scenarios"
)

// Guest is a package whose testbed_guest tests run in the VM: its test
// binary (go test -c -tags testbed_guest) is in the image and /init runs
// the tests declared in its testbed_guest files, one package after another.
type Guest struct {
	// Name identifies the guest in results, subtest names, E2E_PKGS and
	// the image: the package directory relative to the module with "/"
	// turned into "_" ("director_kernel"); ScenarioGuest for the
	// scenario package.
	Name string
	// Package is the package pattern relative to the module root
	// ("./director/kernel").
	Package string
	// Tests are the top-level tests declared in the package's
	// testbed_guest files, in the order "go test" runs them. Other tests
	// compiled into the binary (plain unit tests) are not run in the VM.
	Tests []string
	// Binary is the test binary's path in the image; empty when the
	// package did not build.
	Binary string
	// BuildError is why the package's guest binary could not be built
	// (compiler output included); such a guest is not in the image.
	BuildError error
}

// guestName is the Name of the guest for a package directory relative to
// the module root ("director/kernel").
func guestName(rel string) string {
	rel = path.Clean(filepath.ToSlash(rel))
	if "./"+rel == ScenarioPackage {
		return ScenarioGuest
	}
	return strings.ReplaceAll(rel, "/", "_")
}

// guestBinary is where a guest's test binary lives in the image.
func guestBinary(name string) string {
	if name == ScenarioGuest {
		return GuestTestPath
	}
	return path.Join("/usr/local/bin", name+".test")
}

// DiscoverGuests finds the packages under moduleDir with _test.go files
// carrying the testbed_guest build tag, and the top-level tests those files
// declare. The packages come sorted by path, the scenario package last.
// Directories named testdata or vendor, hidden ones and nested modules are
// skipped. A file that does not parse is reported in the guest's
// BuildError (the build would fail on it anyway).
func DiscoverGuests(moduleDir string) ([]Guest, error) {
	type file struct {
		name  string
		xtest bool
		tests []string
	}
	byDir := map[string][]file{}
	parseErrs := map[string][]error{}
	err := filepath.WalkDir(moduleDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != moduleDir {
				if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), "_test.go") || !d.Type().IsRegular() {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		if !isGuestFile(src) {
			return nil
		}
		rel, err := filepath.Rel(moduleDir, filepath.Dir(p))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		pkg, tests, err := guestTests(p, src)
		if err != nil {
			parseErrs[rel] = append(parseErrs[rel], err)
		}
		byDir[rel] = append(byDir[rel], file{name: d.Name(), xtest: strings.HasSuffix(pkg, "_test"), tests: tests})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("looking for %s test files under %s: %w", GuestTag, moduleDir, err)
	}
	var guests []Guest
	names := map[string]string{}
	for rel, files := range byDir {
		// go test runs the package's own test files, then the external
		// (_test package) ones, each group by file name.
		sort.Slice(files, func(i, j int) bool {
			if files[i].xtest != files[j].xtest {
				return !files[i].xtest
			}
			return files[i].name < files[j].name
		})
		g := Guest{Name: guestName(rel), Package: "./" + rel}
		if rel == "." {
			g.Package = "."
		}
		for _, f := range files {
			g.Tests = append(g.Tests, f.tests...)
		}
		if errs := parseErrs[rel]; len(errs) > 0 {
			g.BuildError = errors.Join(errs...)
		}
		if other, dup := names[g.Name]; dup {
			return nil, fmt.Errorf("guest packages %s and %s would both be named %q", other, g.Package, g.Name)
		}
		names[g.Name] = g.Package
		guests = append(guests, g)
	}
	sortGuests(guests)
	return guests, nil
}

// sortGuests puts the packages' own tests first, by path, and the
// scenarios last: the quick tests of the kernel adapter see the kernel as
// booted and fail fast, before the scenarios' minutes.
func sortGuests(gs []Guest) {
	sort.SliceStable(gs, func(i, j int) bool {
		if (gs[i].Name == ScenarioGuest) != (gs[j].Name == ScenarioGuest) {
			return gs[j].Name == ScenarioGuest
		}
		return gs[i].Package < gs[j].Package
	})
}

// isGuestFile reports whether a Go file's build constraint holds with the
// testbed_guest tag (on linux/amd64, without cgo) and not without it.
func isGuestFile(src []byte) bool {
	var expr constraint.Expr
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "package ") {
			break
		}
		if constraint.IsGoBuild(line) {
			if e, err := constraint.Parse(line); err == nil {
				expr = e
			}
			break
		}
	}
	if expr == nil {
		return false
	}
	eval := func(guest bool) bool {
		return expr.Eval(func(tag string) bool {
			switch {
			case tag == GuestTag:
				return guest
			case tag == "linux", tag == "amd64", tag == "unix", tag == "gc", strings.HasPrefix(tag, "go1."):
				return true
			}
			return false
		})
	}
	return eval(true) && !eval(false)
}

// guestTests parses a test file and returns its package name and the
// top-level tests it declares (func TestXxx(t *testing.T), not TestMain).
func guestTests(filename string, src []byte) (string, []string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), filename, src, parser.SkipObjectResolution)
	if err != nil {
		return "", nil, fmt.Errorf("parsing %s: %w", filename, err)
	}
	var tests []string
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || fd.Type.Params == nil || len(fd.Type.Params.List) != 1 || !isTestName(fd.Name.Name) {
			continue
		}
		tests = append(tests, fd.Name.Name)
	}
	return f.Name.Name, tests, nil
}

// isTestName is go test's rule: "Test" alone or followed by a character
// that is not a lower-case letter; TestMain is not a test.
func isTestName(name string) bool {
	if !strings.HasPrefix(name, "Test") || name == "TestMain" {
		return false
	}
	if len(name) == 4 {
		return true
	}
	r, _ := utf8.DecodeRuneInString(name[4:])
	return !unicode.IsLower(r)
}

// selectGuests returns the guests whose Name or Package is in want (all
// of them when want is empty), in the guests' order, or an error naming the
// unknown ones.
func selectGuests(guests []Guest, want []string) ([]Guest, error) {
	if len(want) == 0 {
		return guests, nil
	}
	sel := map[string]bool{}
	var unknown []string
	for _, w := range want {
		found := false
		for _, g := range guests {
			if w == g.Name || normPkg(w) == normPkg(g.Package) || (g.Name != ScenarioGuest && guestName(normPkg(w)) == g.Name) {
				sel[g.Name], found = true, true
			}
		}
		if !found {
			unknown = append(unknown, w)
		}
	}
	if len(unknown) > 0 {
		var known []string
		for _, g := range guests {
			known = append(known, g.Name)
		}
		return nil, fmt.Errorf("unknown guest package(s) %s: the testbed has %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	var out []Guest
	for _, g := range guests {
		if sel[g.Name] {
			out = append(out, g)
		}
	}
	return out, nil
}

func normPkg(p string) string {
	return path.Clean(strings.TrimPrefix(filepath.ToSlash(p), "./"))
}
