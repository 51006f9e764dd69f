package vm

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDiscoverGuests(t *testing.T) {
	root := t.TempDir()
	const tag = "//go:build testbed_guest\n\n"
	writeFiles(t, root, map[string]string{
		"go.mod": "module example.com/m\n",
		"e2e/scenarios/b_test.go": tag + "package scenarios\nimport \"testing\"\n" +
			"func TestScenarioB(t *testing.T) {}\n",
		"e2e/scenarios/a_test.go": tag + "// Package doc.\npackage scenarios\nimport \"testing\"\n" +
			"func TestMain(m *testing.M) {}\n" +
			"func TestScenarioA(t *testing.T) {}\n" +
			"func Testlower(t *testing.T) {}\n" +
			"func helper(t *testing.T) {}\n" +
			"type x struct{}\nfunc (x) TestMethod(t *testing.T) {}\n" +
			"func BenchmarkA(b *testing.B) {}\n",
		"e2e/scenarios/doc.go": "package scenarios\n",
		// The soak needs a second tag: the normal image never runs it.
		"e2e/scenarios/soak_test.go":   "//go:build testbed_guest && testbed_soak\n\npackage scenarios\nimport \"testing\"\nfunc TestSoak(t *testing.T) {}\n",
		"director/kernel/k_test.go":    "package kernel\nimport \"testing\"\nfunc TestUnit(t *testing.T) {}\n",
		"director/kernel/z_tb_test.go": "//go:build testbed_guest && linux\n\npackage kernel\nimport \"testing\"\nfunc TestInternal(t *testing.T) {}\n",
		"director/kernel/a_tb_test.go": tag + "package kernel_test\nimport \"testing\"\nfunc TestTestbedX(t *testing.T) {}\nfunc Test(t *testing.T) {}\n",
		"director/kernel/n_test.go":    "//go:build testbed_guest || netns\n\npackage kernel_test\nimport \"testing\"\nfunc TestEither(t *testing.T) {}\n",
		"other/x_test.go":              "//go:build !testbed_guest\n\npackage other\nimport \"testing\"\nfunc TestNot(t *testing.T) {}\n",
		"other/y_test.go":              "//go:build testbed\n\npackage other\nimport \"testing\"\nfunc TestHostVM(t *testing.T) {}\n",
		"other/testdata/x_test.go":     tag + "package x\nimport \"testing\"\nfunc TestData(t *testing.T) {}\n",
		"nested/go.mod":                "module example.com/nested\n",
		"nested/x_test.go":             tag + "package nested\nimport \"testing\"\nfunc TestNested(t *testing.T) {}\n",
		".hidden/x_test.go":            tag + "package hidden\nimport \"testing\"\nfunc TestHidden(t *testing.T) {}\n",
		"broken/b_test.go":             tag + "package broken\nfunc TestBroken(t *testing.T) {\n",
	})
	got, err := DiscoverGuests(root)
	if err != nil {
		t.Fatal(err)
	}
	// The packages by path, the scenarios last.
	want := []Guest{
		{Name: "broken", Package: "./broken", BuildError: errors.New("parse error")},
		// The package's own test files run before the external ones.
		{Name: "director_kernel", Package: "./director/kernel", Tests: []string{"TestInternal", "TestTestbedX", "Test", "TestEither"}},
		{Name: "scenarios", Package: "./e2e/scenarios", Tests: []string{"TestScenarioA", "TestScenarioB"}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return (a == nil) == (b == nil) })); diff != "" {
		t.Errorf("guests (-want +got):\n%s", diff)
	}
	if len(got) == 3 && (got[0].BuildError == nil || !strings.Contains(got[0].BuildError.Error(), "b_test.go")) {
		t.Errorf("broken package's error %v does not name the file", got[0].BuildError)
	}
}

func TestGuestNamesAndBinaries(t *testing.T) {
	for rel, want := range map[string][2]string{
		"e2e/scenarios":      {"scenarios", "/usr/local/bin/scenarios.test"},
		"director/kernel":    {"director_kernel", "/usr/local/bin/director_kernel.test"},
		"realserver/kernel/": {"realserver_kernel", "/usr/local/bin/realserver_kernel.test"},
	} {
		name := guestName(rel)
		if got := [2]string{name, guestBinary(name)}; got != want {
			t.Errorf("%s: name and binary %v, want %v", rel, got, want)
		}
	}
}

func TestSelectGuests(t *testing.T) {
	guests := []Guest{
		{Name: "scenarios", Package: "./e2e/scenarios"},
		{Name: "director_kernel", Package: "./director/kernel"},
		{Name: "vrrp", Package: "./vrrp"},
	}
	names := func(gs []Guest) []string {
		var n []string
		for _, g := range gs {
			n = append(n, g.Name)
		}
		return n
	}
	tests := []struct {
		want    []string
		got     []string
		wantErr string
	}{
		{want: nil, got: []string{"scenarios", "director_kernel", "vrrp"}},
		{want: []string{"vrrp", "scenarios"}, got: []string{"scenarios", "vrrp"}},
		{want: []string{"./director/kernel"}, got: []string{"director_kernel"}},
		{want: []string{"director/kernel", "e2e/scenarios"}, got: []string{"scenarios", "director_kernel"}},
		{want: []string{"kernel", "vrrp"}, wantErr: "unknown guest package(s) kernel: the testbed has scenarios, director_kernel, vrrp"},
	}
	for _, tt := range tests {
		got, err := selectGuests(guests, tt.want)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("select %v: error %v, want %q", tt.want, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("select %v: %v", tt.want, err)
			continue
		}
		if diff := cmp.Diff(tt.got, names(got)); diff != "" {
			t.Errorf("select %v (-want +got):\n%s", tt.want, diff)
		}
	}
}

// shell returns the shell the guest scripts are tested with: busybox's
// (the image's) when the host has it, else /bin/sh.
func shell(t *testing.T) []string {
	if bb, err := lookTool("busybox"); err == nil {
		return []string{bb, "sh"}
	}
	return []string{"/bin/sh"}
}

// runnerFixture lays out fake guest binaries (three packages: one passing,
// one exiting 1, one whose -test.list fails) and returns the directory and
// a function running the runner script with environment variables: the
// binaries' logged arguments then the runner's output, and its exit status.
func runnerFixture(t *testing.T) (string, func(env ...string) ([]string, int)) {
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	logf := filepath.Join(dir, "args.log")
	// Fake guest binaries: -test.list filters their test list with the
	// pattern; a run logs its arguments and prints go test -v lines.
	fake := func(tests string, rc int) string {
		return "#!/bin/sh\n" +
			"if [ \"$1\" = -test.list ]; then printf '" + tests + "' | grep -E \"$2\" || true; exit 0; fi\n" +
			"echo \"$(basename \"$0\") $*\" >> " + logf + "\n" +
			"echo \"cwd $(pwd)\"\n" +
			"echo '=== RUN   TestTestbedX'\necho '--- PASS: TestTestbedX (0.00s)'\n" +
			"exit " + string(rune('0'+rc)) + "\n"
	}
	writeFiles(t, dir, map[string]string{
		"bin/scen.test":   fake(`TestScenarioA\nTestScenarioB\nExampleA\n`, 0),
		"bin/dk.test":     fake(`TestUnit\nTestInternal\nTestTestbedX\n`, 1),
		"bin/broken.test": "#!/bin/sh\necho 'panic: init failed'\nexit 2\n",
		"etc/guests": "scenarios " + dir + "/bin/scen.test\n" +
			"director_kernel " + dir + "/bin/dk.test\n" +
			"broken " + dir + "/bin/broken.test\n",
		"etc/tests/scenarios":       "TestScenarioA\nTestScenarioB\n",
		"etc/tests/director_kernel": "TestTestbedX\nTestInternal\n",
		"etc/tests/broken":          "TestBroken\n",
		"runner":                    runnerScript,
	})
	run := func(env ...string) ([]string, int) {
		os.Remove(logf)
		sh := shell(t)
		cmd := exec.Command(sh[0], append(sh[1:], filepath.Join(dir, "runner"))...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LBTESTBED_ETC=" + etc, "TMPDIR=" + dir}, env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		rc := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			rc = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		args, _ := os.ReadFile(logf)
		t.Logf("runner output:\n%s", out.String())
		return append(strings.Split(strings.TrimSpace(string(args)), "\n"), strings.Split(strings.TrimSpace(out.String()), "\n")...), rc
	}
	return dir, run
}

func TestRunnerScript(t *testing.T) {
	dir, run := runnerFixture(t)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	timeoutRE := regexp.MustCompile(`-test\.timeout (99|100)s`)

	t.Run("pattern across packages", func(t *testing.T) {
		lines, rc := run("E2E_RUN="+b64("Scenario|Testbed"), "E2E_TIMEOUT=100")
		if rc != 1 {
			t.Errorf("runner exit %d, want 1 (two packages failed)", rc)
		}
		want := []string{
			"scen.test -test.v -test.run ^(TestScenarioA|TestScenarioB)$ -test.timeout 100s",
			"dk.test -test.v -test.run ^(TestTestbedX)$ -test.timeout 100s",
			"LBTESTBED-PKG scenarios",
			"cwd " + dir + "/lbtestbed-scenarios",
			"=== RUN   TestTestbedX",
			"--- PASS: TestTestbedX (0.00s)",
			"",
			"LBTESTBED-PKG-EXIT scenarios 0",
			"LBTESTBED-PKG director_kernel",
			"cwd " + dir + "/lbtestbed-director_kernel",
			"=== RUN   TestTestbedX",
			"--- PASS: TestTestbedX (0.00s)",
			"",
			"LBTESTBED-PKG-EXIT director_kernel 1",
			"LBTESTBED-PKG broken",
			"panic: init failed",
			"lbtestbed: " + dir + "/bin/broken.test -test.list failed",
			"LBTESTBED-PKG-EXIT broken 2",
		}
		for i := range lines {
			lines[i] = timeoutRE.ReplaceAllString(lines[i], "-test.timeout 100s")
		}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Errorf("runner (-want +got):\n%s", diff)
		}
		_, pkgs, _ := ParseConsole(lines)
		var codes []int
		for _, p := range pkgs {
			codes = append(codes, p.ExitCode)
		}
		if diff := cmp.Diff([]int{0, 1, 2}, codes); diff != "" {
			t.Errorf("package exit codes (-want +got):\n%s", diff)
		}
	})
	t.Run("one package, all its tests, subtest pattern", func(t *testing.T) {
		lines, rc := run("E2E_PKGS=director_kernel", "E2E_SUB="+b64("sub/x"), "E2E_TIMEOUT=100")
		if rc != 1 {
			t.Errorf("runner exit %d, want 1", rc)
		}
		if got := timeoutRE.ReplaceAllString(lines[0], "-test.timeout 100s"); got != "dk.test -test.v -test.run ^(TestInternal|TestTestbedX)$/sub/x -test.timeout 100s" {
			t.Errorf("director_kernel ran as %q", got)
		}
		for _, l := range lines {
			if strings.Contains(l, "scenarios") || strings.Contains(l, "broken") {
				t.Errorf("an unselected package ran: %q", l)
			}
		}
	})
	t.Run("nothing selected", func(t *testing.T) {
		lines, rc := run("E2E_RUN="+b64("NoSuchTest"), "E2E_PKGS=scenarios,director_kernel")
		if rc != 0 {
			t.Errorf("runner exit %d, want 0", rc)
		}
		want := []string{"", "LBTESTBED-PKG scenarios", "LBTESTBED-PKG-EXIT scenarios 0", "LBTESTBED-PKG director_kernel", "LBTESTBED-PKG-EXIT director_kernel 0"}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Errorf("runner (-want +got):\n%s", diff)
		}
	})
}

func TestPlanAndOutcomes(t *testing.T) {
	img := &Image{Guests: []Guest{
		{Name: "scenarios", Package: "./e2e/scenarios", Tests: []string{"TestScenarioA", "TestScenarioB", "TestScenarioC"}},
		{Name: "director_kernel", Package: "./director/kernel", Tests: []string{"TestTestbedX", "TestTestbedY"}},
		{Name: "vrrp", Package: "./vrrp", Tests: []string{"TestTestbedV"}, BuildError: errors.New("vrrp.go:1: syntax error")},
		{Name: "healthcheck", Package: "./healthcheck", Tests: []string{"TestTestbedH"}},
	}}
	plan, err := Plan(img, RunOptions{Run: "A|B|X|V|H/sub"})
	if err != nil {
		t.Fatal(err)
	}
	sel := map[string][]string{}
	for _, pg := range plan {
		sel[pg.Name] = pg.Selected
	}
	wantSel := map[string][]string{
		"scenarios":       {"TestScenarioA", "TestScenarioB"},
		"director_kernel": {"TestTestbedX"},
		"vrrp":            {"TestTestbedV"},
		"healthcheck":     {"TestTestbedH"},
	}
	if diff := cmp.Diff(wantSel, sel); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if n := PlannedTests(plan); n != 5 {
		t.Errorf("PlannedTests = %d, want 5", n)
	}
	tests, pkgs, exit := ParseConsole(strings.Split(
		"LBTESTBED-PKG scenarios\n"+
			"=== RUN   TestScenarioA\n--- PASS: TestScenarioA (1.00s)\n"+
			"=== RUN   TestScenarioB\n    b.go:1: boom\n--- FAIL: TestScenarioB (2.00s)\n"+
			"LBTESTBED-PKG-EXIT scenarios 1\n"+
			"LBTESTBED-PKG director_kernel\n"+
			"=== RUN   TestTestbedX\n--- PASS: TestTestbedX (0.50s)\n"+
			"panic: leaked goroutine\n"+
			"LBTESTBED-PKG-EXIT director_kernel 2\n"+
			"LBTESTBED-EXIT 1", "\n"))
	res := &Result{Tests: tests, Packages: pkgs, ExitCode: exit}
	type o struct {
		Label  string
		Status Status
		Detail string
	}
	var got []o
	for _, oc := range Outcomes(plan, res) {
		got = append(got, o{oc.Label(), oc.Status, oc.Detail})
	}
	want := []o{
		{"A", StatusPass, ""},
		{"B", StatusFail, "TestScenarioB failed in the VM after 2s"},
		{"director_kernel/TestTestbedX", StatusPass, ""},
		{"director_kernel", StatusFail, "the test binary of director_kernel exited with 2 though none of its tests failed (its output outside tests is in the log)"},
		{"vrrp", StatusFail, "the guest test binary of ./vrrp did not build, so none of its tests ran (TestTestbedV): vrrp.go:1: syntax error"},
		{"healthcheck/TestTestbedH", StatusNotRun, "TestTestbedH never started: the VM never ran package healthcheck"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}

	// A filter that leaves a broken package nothing to run does not fail
	// on it; unknown packages are refused.
	plan, err = Plan(img, RunOptions{Run: "^TestScenarioC$", Packages: []string{"scenarios", "vrrp"}})
	if err != nil {
		t.Fatal(err)
	}
	if out := Outcomes(plan, &Result{}); len(out) != 1 || out[0].Label() != "C" || out[0].Status != StatusNotRun {
		t.Errorf("outcomes of a filtered plan: %+v", out)
	}
	if _, err := Plan(img, RunOptions{Packages: []string{"nope"}}); err == nil {
		t.Error("unknown package accepted")
	}
	if _, err := Plan(img, RunOptions{Run: "("}); err == nil {
		t.Error("bad pattern accepted")
	}
}

// A guest test that skips, itself or a subtest, fails on the host.
func TestOutcomesFailSkips(t *testing.T) {
	plan := []PlannedGuest{
		{Guest: Guest{Name: "scenarios"}, Selected: []string{"TestScenarioA", "TestScenarioC"}},
		{Guest: Guest{Name: "director_kernel"}, Selected: []string{"TestTestbedS"}},
	}
	tests, pkgs, exit := ParseConsole(strings.Split(
		"LBTESTBED-PKG scenarios\n"+
			"=== RUN   TestScenarioA\n--- PASS: TestScenarioA (1.00s)\n"+
			"=== RUN   TestScenarioC\n    c.go:1: no tunnel module\n--- SKIP: TestScenarioC (0.00s)\n"+
			"LBTESTBED-PKG-EXIT scenarios 0\n"+
			"LBTESTBED-PKG director_kernel\n"+
			"=== RUN   TestTestbedS\n=== RUN   TestTestbedS/tun\n    --- SKIP: TestTestbedS/tun (0.00s)\n--- PASS: TestTestbedS (0.50s)\n"+
			"LBTESTBED-PKG-EXIT director_kernel 0\n"+
			"LBTESTBED-EXIT 0", "\n"))
	res := &Result{Tests: tests, Packages: pkgs, ExitCode: exit}
	type o struct {
		Label  string
		Status Status
		Failed bool
		Detail string
	}
	var got []o
	for _, oc := range Outcomes(plan, res) {
		got = append(got, o{oc.Label(), oc.Status, oc.Failed(), oc.Detail})
	}
	want := []o{
		{"A", StatusPass, false, ""},
		{"C", StatusSkip, true, "TestScenarioC skipped itself in the VM (its output says why): a guest test may not skip, the VM must provide what it needs"},
		{"director_kernel/TestTestbedS", StatusSkip, true, "TestTestbedS passed in the VM but skipped TestTestbedS/tun (its output says why): a guest test may not skip, the VM must provide what it needs"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
}

func TestBenchCommandAndParser(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"good": "#!/bin/sh\necho \"good: $*\"\necho 'ratio 0.2'\n",
		"bad":  "#!/bin/sh\necho \"bad: $*\"\nexit 3\n",
	})
	benches := []Bench{
		{Name: "good", Args: []string{"-runs", "3", "it's"}},
		{Name: "bad"},
	}
	sel, err := SelectBenches(benches, []string{"good", "bad"})
	if err != nil || len(sel) != 2 {
		t.Fatalf("SelectBenches: %v %v", sel, err)
	}
	if _, err := SelectBenches(benches, []string{"good", "nope"}); err == nil {
		t.Error("unknown bench accepted")
	}
	if only, _ := SelectBenches(benches, []string{"bad"}); len(only) != 1 || only[0].Name != "bad" {
		t.Errorf("SelectBenches(bad) = %v", only)
	}
	sh := shell(t)
	cmd := exec.Command(sh[0], append(sh[1:], "-c", BenchCommand(benches, []string{"-v"}))...)
	cmd.Env = []string{"PATH=" + dir + ":" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("bench command: %v, want exit status 1\n%s", err, out)
	}
	p := NewBenchParser()
	t0 := time.Now()
	var own []string
	for i, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if p.Feed(l, t0.Add(time.Duration(i)*time.Second)) {
			own = append(own, l)
		}
	}
	want := []BenchResult{
		{Name: "good", ExitCode: 0, Output: []string{"good: -runs 3 it's -v", "ratio 0.2"}, Duration: 4 * time.Second},
		{Name: "bad", ExitCode: 3, Output: []string{"bad: -v"}, Duration: 3 * time.Second},
	}
	if diff := cmp.Diff(want, p.Results()); diff != "" {
		t.Errorf("bench results (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"good: -runs 3 it's -v", "ratio 0.2", "", "bad: -v", ""}, own, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("lines reported as bench output (-want +got):\n%s", diff)
	}
	if !IsKernelLine("[    3.141592] reboot: Power down") || IsKernelLine("ratio [1.0] x") {
		t.Error("IsKernelLine")
	}
}

func TestNarrowToHostRun(t *testing.T) {
	img := &Image{Guests: []Guest{
		{Name: "scenarios", Package: "./e2e/scenarios", Tests: []string{"TestScenarioSeedDR", "TestScenarioSeedDRWithoutVIPOnLo", "TestScenarioLbrsTUN"}},
		{Name: "director_kernel", Package: "./director/kernel", Tests: []string{"TestTestbedSysctl", "TestTestbedSaveRestore"}},
	}}
	tests := []struct {
		hostRun string
		opts    RunOptions
		want    RunOptions
		wantErr bool
	}{
		{hostRun: "TestTestbed", want: RunOptions{}},
		{hostRun: "", want: RunOptions{}},
		{hostRun: "TestTestbed/", want: RunOptions{}},
		{hostRun: "TestTestbed/SeedDR$", want: RunOptions{Run: "^(TestScenarioSeedDR)$", Packages: []string{"scenarios"}}},
		{hostRun: "TestTestbed/SeedDR", want: RunOptions{Run: "^(TestScenarioSeedDR|TestScenarioSeedDRWithoutVIPOnLo)$", Packages: []string{"scenarios"}}},
		{hostRun: "TestTestbed/director_kernel", want: RunOptions{Run: "^(TestTestbedSysctl|TestTestbedSaveRestore)$", Packages: []string{"director_kernel"}}},
		{hostRun: "TestTestbed/director_kernel/Sysctl", want: RunOptions{Run: "^(TestTestbedSysctl)$", Packages: []string{"director_kernel"}}},
		{hostRun: "TestTestbed/^(LbrsTUN|director_kernel)$/Save", want: RunOptions{Run: "^(TestScenarioLbrsTUN|TestTestbedSaveRestore)$", Packages: []string{"scenarios", "director_kernel"}}},
		{hostRun: "TestTestbed/SeedDR$", opts: RunOptions{Run: "Seed/step", Packages: []string{"scenarios"}}, want: RunOptions{Run: "^(TestScenarioSeedDR)$/step", Packages: []string{"scenarios"}}},
		{hostRun: "TestTestbed/Nothing", wantErr: true},
		{hostRun: "TestTestbed/(", wantErr: true},
	}
	many := &Image{Guests: []Guest{{Name: "scenarios", Package: "./e2e/scenarios"}}}
	for i := range 60 {
		many.Guests[0].Tests = append(many.Guests[0].Tests, fmt.Sprintf("TestScenarioNumber%02dWithALongName", i))
	}
	if got, err := NarrowToHostRun(many, RunOptions{}, "TestTestbed/Number[0-4]"); err != nil || got.Run != "" || got.Packages != nil {
		t.Errorf("a pattern too long for the kernel command line: got %+v, %v; want the options unchanged", got, err)
	}
	for _, tt := range tests {
		got, err := NarrowToHostRun(img, tt.opts, tt.hostRun)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: error %v, want error %t", tt.hostRun, err, tt.wantErr)
			continue
		}
		if err == nil && !cmp.Equal(tt.want, got, cmpopts.IgnoreFields(RunOptions{}, "OnLine")) {
			t.Errorf("%q: got %+v, want %+v", tt.hostRun, got, tt.want)
		}
	}
}
