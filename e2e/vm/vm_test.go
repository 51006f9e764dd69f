package vm

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// cpioRecord is one record read back from a newc archive.
type cpioRecord struct {
	name  string
	mode  uint32
	rdev  [2]uint32
	data  string
	nlink uint32
}

// readNewc is an independent newc reader for the tests.
func readNewc(t *testing.T, b []byte) []cpioRecord {
	t.Helper()
	var out []cpioRecord
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
		if err != nil {
			t.Fatalf("bad header field %d at %d: %v", i, off, err)
		}
		return uint32(v)
	}
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc magic at offset %d", off)
		}
		mode, nlink, size := field(1), field(4), int(field(6))
		rmaj, rmin, namesize := field(9), field(10), int(field(11))
		name := string(b[off+110 : off+110+namesize-1])
		if b[off+110+namesize-1] != 0 {
			t.Fatalf("name %q not NUL-terminated", name)
		}
		dataOff := align(off + 110 + namesize)
		data := string(b[dataOff : dataOff+size])
		off = align(dataOff + size)
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out = append(out, cpioRecord{name: name, mode: mode, rdev: [2]uint32{rmaj, rmin}, data: data, nlink: nlink})
	}
}

func TestCPIOWritesWhatTheKernelReads(t *testing.T) {
	src := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(src, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	tr := newTree()
	tr.addData("/init", []byte("#!/bin/sh\n"), 0o755)
	tr.addFile("/usr/local/bin/prog", src, 0o755)
	tr.addSymlink("/bin/sh", "/bin/busybox")
	tr.addCharDev("/dev/console", 5, 1, 0o600)
	tr.addDir("/tmp", 0o1777)
	tr.addData("/a-b", []byte("x"), 0o644) // sorts between /a and /a/...
	tr.addData("/a/c", []byte("yz"), 0o644)
	tr.addSymlink("/bin/ip", "/bin/busybox")
	tr.addData("/bin/ip", []byte("real ip"), 0o755) // a later layer replaces an applet link

	var buf bytes.Buffer
	if err := tr.writeCPIO(&buf); err != nil {
		t.Fatal(err)
	}
	recs := readNewc(t, buf.Bytes())
	got := map[string]cpioRecord{}
	var order []string
	for _, r := range recs {
		got[r.name] = r
		order = append(order, r.name)
	}
	want := map[string]struct {
		mode uint32
		data string
	}{
		"a":                  {0o040755, ""},
		"a/c":                {0o100644, "yz"},
		"a-b":                {0o100644, "x"},
		"bin":                {0o040755, ""},
		"bin/ip":             {0o100755, "real ip"},
		"bin/sh":             {0o120777, "/bin/busybox"},
		"dev":                {0o040755, ""},
		"dev/console":        {0o020600, ""},
		"init":               {0o100755, "#!/bin/sh\n"},
		"tmp":                {0o041777, ""},
		"usr":                {0o040755, ""},
		"usr/local":          {0o040755, ""},
		"usr/local/bin":      {0o040755, ""},
		"usr/local/bin/prog": {0o100755, "#!binary"},
	}
	if len(got) != len(want) {
		t.Errorf("archive holds %v, want %d entries", order, len(want))
	}
	for name, w := range want {
		r, ok := got[name]
		if !ok {
			t.Errorf("%s missing from the archive", name)
			continue
		}
		if r.mode != w.mode || r.data != w.data {
			t.Errorf("%s: mode %o data %q, want mode %o data %q", name, r.mode, r.data, w.mode, w.data)
		}
	}
	if got["dev/console"].rdev != [2]uint32{5, 1} {
		t.Errorf("dev/console rdev = %v, want 5,1", got["dev/console"].rdev)
	}
	// Parents before children, always.
	seen := map[string]bool{}
	for _, name := range order {
		if d := filepath.Dir(name); d != "." && !seen[d] {
			t.Errorf("%s comes before its directory %s", name, d)
		}
		seen[name] = true
	}
}

func TestTreeHashFollowsContent(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	write := func(s string) {
		if err := os.WriteFile(src, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := func() string {
		tr := newTree()
		tr.addFile("/f", src, 0o644)
		tr.addData("/g", []byte("g"), 0o644)
		h, err := tr.hash()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	write("one")
	h1, h1again := build(), build()
	write("two")
	h2 := build()
	if h1 != h1again {
		t.Error("hash of an unchanged tree changed")
	}
	if h1 == h2 {
		t.Error("hash did not change with a file's content")
	}
}

func TestParseShowDepends(t *testing.T) {
	out := []byte(`insmod /lib/modules/6.1.0-56-amd64/kernel/net/llc/llc.ko 
insmod /lib/modules/6.1.0-56-amd64/kernel/net/802/stp.ko 
builtin af_packet
insmod /lib/modules/6.1.0-56-amd64/kernel/drivers/net/dummy.ko numdummies=0 
`)
	got, err := parseShowDepends(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []insmodStep{
		{Path: "/lib/modules/6.1.0-56-amd64/kernel/net/llc/llc.ko"},
		{Path: "/lib/modules/6.1.0-56-amd64/kernel/net/802/stp.ko"},
		{Path: "/lib/modules/6.1.0-56-amd64/kernel/drivers/net/dummy.ko", Params: "numdummies=0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if _, err := parseShowDepends([]byte("modprobe: FATAL: Module x not found\n")); err == nil {
		t.Error("an error line was accepted")
	}
}

func TestLddLibs(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    []string
		wantErr bool
	}{
		{
			name: "dynamic",
			out: "\tlinux-vdso.so.1 (0x00007fd2e8a2b000)\n" +
				"\tlibpopt.so.0 => /lib/x86_64-linux-gnu/libpopt.so.0 (0x00007fd2e89f7000)\n" +
				"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fd2e87eb000)\n" +
				"\t/lib64/ld-linux-x86-64.so.2 (0x00007fd2e8a2d000)\n",
			want: []string{"/lib/x86_64-linux-gnu/libpopt.so.0", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"},
		},
		{name: "static", out: "\tnot a dynamic executable\n"},
		{name: "static pie", out: "\tstatically linked\n"},
		{name: "missing lib", out: "\tlibfoo.so.1 => not found\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lddLibs([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %t", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("libs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFindKernelPicksNewestWithModules(t *testing.T) {
	boot, mods := t.TempDir(), t.TempDir()
	for _, v := range []string{"6.1.0-9-amd64", "6.1.0-56-amd64", "6.2.0-1-amd64"} {
		if err := os.WriteFile(filepath.Join(boot, "vmlinuz-"+v), []byte("k"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// 6.2.0-1 has no modules: not bootable for the testbed.
	for _, v := range []string{"6.1.0-9-amd64", "6.1.0-56-amd64"} {
		if err := os.MkdirAll(filepath.Join(mods, v), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mods, v, "modules.dep"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k, err := findKernelIn(boot, mods)
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != "6.1.0-56-amd64" || k.Image != filepath.Join(boot, "vmlinuz-6.1.0-56-amd64") || k.ModulesDir != filepath.Join(mods, "6.1.0-56-amd64") {
		t.Errorf("found %+v, want 6.1.0-56-amd64", k)
	}
	_, err = findKernelIn(t.TempDir(), mods)
	if err == nil || !strings.Contains(err.Error(), "linux-image-amd64") || !strings.Contains(err.Error(), "apt-get install --no-install-recommends") {
		t.Errorf("no kernel: error %v, want one naming linux-image-amd64 and the apt command", err)
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"6.1.0-9-amd64", "6.1.0-56-amd64", true},
		{"6.1.0-56-amd64", "6.1.0-9-amd64", false},
		{"5.10.0-30-amd64", "6.1.0-1-amd64", true},
		{"6.1.0-56-amd64", "6.1.0-56-amd64", false},
	}
	for _, tt := range tests {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%q, %q) = %t, want %t", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMissingErrorNamesPackagesOnce(t *testing.T) {
	err := &MissingError{Items: []Missing{
		{What: "the program ip", Package: "iproute2"},
		{What: "the program ss", Package: "iproute2"},
		{What: "the program qemu-system-x86_64", Package: "qemu-system-x86"},
	}}
	msg := err.Error()
	if !strings.Contains(msg, "apt-get install --no-install-recommends iproute2 qemu-system-x86") {
		t.Errorf("message lacks the apt command with each package once:\n%s", msg)
	}
	for _, w := range []string{"the program ip", "the program ss", "qemu-system-x86_64"} {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q:\n%s", w, msg)
		}
	}
}

func TestKernelCmdline(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name string
		opts RunOptions
		want string
	}{
		{
			name: "all tests",
			opts: RunOptions{Mode: ModeTest},
			want: "console=ttyS0 quiet panic=-1 E2E_MODE=test E2E_TIMEOUT=90",
		},
		{
			name: "pattern with subtests, packages, caller env",
			opts: RunOptions{Mode: ModeTest, Run: "^TestScenario(A|B)$/sub/x", Packages: []string{"scenarios", "director_kernel"}, Env: map[string]string{"E2E_DEMO": "1"}},
			want: "console=ttyS0 quiet panic=-1 E2E_DEMO=1 E2E_MODE=test E2E_PKGS=scenarios,director_kernel E2E_RUN=" + b64("^TestScenario(A|B)$") + " E2E_SUB=" + b64("sub/x") + " E2E_TIMEOUT=90",
		},
		{
			name: "command",
			opts: RunOptions{Mode: ModeCommand, Command: "ipvsbench -runs 3; echo 'done'"},
			want: "console=ttyS0 quiet panic=-1 E2E_CMD=" + b64("ipvsbench -runs 3; echo 'done'") + " E2E_MODE=cmd",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars, err := guestVars(tt.opts, 90*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			got, err := kernelCmdline(vars, tt.opts.Env)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("cmdline\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	vars, _ := guestVars(RunOptions{Mode: ModeTest}, time.Minute)
	for _, env := range []map[string]string{
		{"FOO": "1"},
		{"E2E_X": "has space"},
		{"E2E_X": `quote"`},
		{"E2E_MODE": "shell"},
		{"E2E_PKGS": "x"},
		{"E2E_X": strings.Repeat("a", 2100)},
	} {
		if _, err := kernelCmdline(vars, env); err == nil {
			t.Errorf("env %v accepted", env)
		}
	}
	if _, err := guestVars(RunOptions{Mode: ModeCommand}, time.Minute); err == nil {
		t.Error("ModeCommand without a command accepted")
	}
}

func TestSplitTestPattern(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"^TestScenarioSeedDR$", []string{"^TestScenarioSeedDR$"}},
		{"SeedDR/sub", []string{"SeedDR", "sub"}},
		{"A[/]B/c", []string{"A[/]B", "c"}},
		{"(A/B)/c", []string{"(A/B)", "c"}},
		{`A\/B`, []string{`A\/B`}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, splitTestPattern(tt.in)); diff != "" {
			t.Errorf("splitTestPattern(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// consoleSummary is the part of a TestResult TestParseConsole compares.
type consoleSummary struct {
	Package string
	Name    string
	Status  Status
	Elapsed time.Duration
	Output  []string
	Skipped []string
}

type pkgSummary struct {
	Name     string
	ExitCode int
	Output   []string
}

type parseConsoleCase struct {
	name     string
	console  string
	want     []consoleSummary
	wantPkgs []pkgSummary
	wantExit int
}

// parseConsoleCases are consoles and what ParseConsole makes of them.
func parseConsoleCases() []parseConsoleCase {
	type summary = consoleSummary
	return append([]parseConsoleCase{
		{
			name: "pass, fail with subtests, skip",
			console: "\x1bc\x1b[?7lSeaBIOS (version 1.16.2)\r\n" +
				"LBTESTBED-BOOT kernel 6.1.0\r\n" +
				"LBTESTBED-START\r\n" +
				"LBTESTBED-PKG scenarios\r\n" +
				"=== RUN   TestScenarioA\r\n" +
				"==>  1. step one\r\n" +
				"--- PASS: TestScenarioA (2.50s)\r\n" +
				"=== RUN   TestScenarioB\r\n" +
				"=== RUN   TestScenarioB/sub\r\n" +
				"    b_test.go:10: boom\r\n" +
				"[   12.345678] some kernel warning\r\n" +
				"    --- FAIL: TestScenarioB/sub (0.10s)\r\n" +
				"--- FAIL: TestScenarioB (0.20s)\r\n" +
				"=== RUN   TestScenarioC\r\n" +
				"    c_test.go:5: no tunnel module\r\n" +
				"--- SKIP: TestScenarioC (0.00s)\r\n" +
				"FAIL\r\n" +
				"\r\n" +
				"LBTESTBED-PKG-EXIT scenarios 1\r\n" +
				"LBTESTBED-EXIT 1\r\n" +
				"[   13.0] reboot: Power down\r\n",
			want: []summary{
				{Package: "scenarios", Name: "TestScenarioA", Status: StatusPass, Elapsed: 2500 * time.Millisecond, Output: []string{"==>  1. step one"}},
				{Package: "scenarios", Name: "TestScenarioB", Status: StatusFail, Elapsed: 200 * time.Millisecond, Output: []string{
					"=== RUN   TestScenarioB/sub", "    b_test.go:10: boom", "[   12.345678] some kernel warning", "    --- FAIL: TestScenarioB/sub (0.10s)"}},
				{Package: "scenarios", Name: "TestScenarioC", Status: StatusSkip, Output: []string{"    c_test.go:5: no tunnel module"}},
			},
			wantPkgs: []pkgSummary{{Name: "scenarios", ExitCode: 1, Output: []string{"FAIL"}}},
			wantExit: 1,
		},
		{
			name: "two packages with the same test name, a package failing outside its tests",
			console: "LBTESTBED-START\n" +
				"LBTESTBED-PKG scenarios\n" +
				"=== RUN   TestX\n" +
				"--- PASS: TestX (0.01s)\n" +
				"PASS\n" +
				"LBTESTBED-PKG-EXIT scenarios 0\n" +
				"LBTESTBED-PKG director_kernel\n" +
				"=== RUN   TestX\n" +
				"    x_test.go:1: in kernel\n" +
				"--- PASS: TestX (0.02s)\n" +
				"PASS\n" +
				"panic: in TestMain after m.Run\n" +
				"LBTESTBED-PKG-EXIT director_kernel 2\n" +
				"LBTESTBED-EXIT 1\n",
			want: []summary{
				{Package: "scenarios", Name: "TestX", Status: StatusPass, Elapsed: 10 * time.Millisecond},
				{Package: "director_kernel", Name: "TestX", Status: StatusPass, Elapsed: 20 * time.Millisecond, Output: []string{"    x_test.go:1: in kernel"}},
			},
			wantPkgs: []pkgSummary{
				{Name: "scenarios", ExitCode: 0, Output: []string{"PASS"}},
				{Name: "director_kernel", ExitCode: 2, Output: []string{"PASS", "panic: in TestMain after m.Run"}},
			},
			wantExit: 1,
		},
	}, parseConsoleFailureCases()...)
}

// parseConsoleFailureCases are consoles of failing, hung and interleaved
// runs.
func parseConsoleFailureCases() []parseConsoleCase {
	type summary = consoleSummary
	return []parseConsoleCase{
		{
			name: "panic after the fail line goes to the failed test",
			console: "LBTESTBED-PKG scenarios\n" +
				"=== RUN   TestScenarioP\n" +
				"--- FAIL: TestScenarioP (0.01s)\n" +
				"panic: oops [recovered]\n" +
				"goroutine 7 [running]:\n" +
				"FAIL\n" +
				"LBTESTBED-PKG-EXIT scenarios 2\n" +
				"LBTESTBED-EXIT 2\n",
			want: []summary{
				{Package: "scenarios", Name: "TestScenarioP", Status: StatusFail, Elapsed: 10 * time.Millisecond, Output: []string{"panic: oops [recovered]", "goroutine 7 [running]:"}},
			},
			wantPkgs: []pkgSummary{{Name: "scenarios", ExitCode: 2, Output: []string{"FAIL"}}},
			wantExit: 2,
		},
		{
			name: "hung test: no result, no exit",
			console: "LBTESTBED-PKG director_kernel\n" +
				"=== RUN   TestH\n" +
				"==>  1. waiting forever\n" +
				"panic: test timed out after 30s\n",
			want: []summary{
				{Package: "director_kernel", Name: "TestH", Status: StatusNoResult, Output: []string{"==>  1. waiting forever", "panic: test timed out after 30s"}},
			},
			wantPkgs: []pkgSummary{{Name: "director_kernel", ExitCode: -1}},
			wantExit: -1,
		},
		{
			name: "parallel subtests interleave within their test; no package marker means scenarios",
			console: "=== RUN   TestScenarioQ\n" +
				"=== RUN   TestScenarioQ/x\n" +
				"=== PAUSE TestScenarioQ/x\n" +
				"=== CONT  TestScenarioQ/x\n" +
				"    --- PASS: TestScenarioQ/x (0.00s)\n" +
				"--- PASS: TestScenarioQ (0.00s)\n" +
				"PASS\n" +
				"LBTESTBED-EXIT 0\n",
			want: []summary{
				{Package: "scenarios", Name: "TestScenarioQ", Status: StatusPass, Output: []string{
					"=== RUN   TestScenarioQ/x", "=== PAUSE TestScenarioQ/x", "=== CONT  TestScenarioQ/x", "    --- PASS: TestScenarioQ/x (0.00s)"}},
			},
			wantExit: 0,
		},
		{
			name: "a passing test with a skipped subtest",
			console: "LBTESTBED-PKG director_kernel\n" +
				"=== RUN   TestS\n" +
				"=== RUN   TestS/tun\n" +
				"    s_test.go:3: no ipip module\n" +
				"    --- SKIP: TestS/tun (0.00s)\n" +
				"=== RUN   TestS/dr\n" +
				"    --- PASS: TestS/dr (0.00s)\n" +
				"--- PASS: TestS (0.01s)\n" +
				"LBTESTBED-PKG-EXIT director_kernel 0\n" +
				"LBTESTBED-EXIT 0\n",
			want: []summary{
				{Package: "director_kernel", Name: "TestS", Status: StatusPass, Elapsed: 10 * time.Millisecond, Skipped: []string{"TestS/tun"}, Output: []string{
					"=== RUN   TestS/tun", "    s_test.go:3: no ipip module", "    --- SKIP: TestS/tun (0.00s)", "=== RUN   TestS/dr", "    --- PASS: TestS/dr (0.00s)"}},
			},
			wantPkgs: []pkgSummary{{Name: "director_kernel", ExitCode: 0}},
			wantExit: 0,
		},
	}
}

func TestParseConsole(t *testing.T) {
	for _, tt := range parseConsoleCases() {
		t.Run(tt.name, func(t *testing.T) {
			res, pkgs, exit := ParseConsole(strings.Split(strings.TrimSuffix(tt.console, "\n"), "\n"))
			var got []consoleSummary
			for _, r := range res {
				got = append(got, consoleSummary{r.Package, r.Name, r.Status, r.Elapsed, r.Output, r.SkippedSubtests})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tests (-want +got):\n%s", diff)
			}
			var gotPkgs []pkgSummary
			for _, p := range pkgs {
				gotPkgs = append(gotPkgs, pkgSummary{p.Name, p.ExitCode, p.Output})
			}
			if diff := cmp.Diff(tt.wantPkgs, gotPkgs); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if exit != tt.wantExit {
				t.Errorf("exit = %d, want %d", exit, tt.wantExit)
			}
		})
	}
}

func TestCleanLine(t *testing.T) {
	for in, want := range map[string]string{
		"\x1bc\x1b[?7l\x1b[2JLBTESTBED-BOOT x\r": "LBTESTBED-BOOT x",
		"plain\r\n":                              "plain",
		"\x1b[0mSeaBIOS":                         "SeaBIOS",
	} {
		if got := cleanLine(in); got != want {
			t.Errorf("cleanLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInitScriptRunsTheRunner(t *testing.T) {
	// The host relies on these markers and paths.
	for _, want := range []string{markerBoot, markerStart, markerExit + " $rc", RunnerPath, "E2E_CMD", "sh -c \"$cmd\"", "insmod", "poweroff -f", "mount -t tmpfs -o mode=0755 tmpfs /run", "mkdir -p /run/netns"} {
		if !strings.Contains(initScript, want) {
			t.Errorf("init script lacks %q", want)
		}
	}
	for _, sc := range []string{initScript, runnerScript} {
		if !strings.HasPrefix(sc, "#!/bin/sh\n") {
			t.Error("a script does not start with #!/bin/sh")
		}
	}
}

func TestOptionsFromEnv(t *testing.T) {
	t.Setenv("E2E_RUN", "SeedDR")
	t.Setenv("E2E_TIMEOUT", "3m")
	t.Setenv("E2E_SMP", "2")
	t.Setenv("E2E_MEM", "512")
	t.Setenv("E2E_CMDS", "./cmd/lbd, ./cmd/lbctl")
	t.Setenv("E2E_GZIP", "6")
	t.Setenv("E2E_PKGS", "scenarios, ./director/kernel")
	b, r, err := OptionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if r.Run != "SeedDR" || r.Timeout != 3*time.Minute || r.CPUs != 2 || r.MemoryMB != 512 || !cmp.Equal(r.Packages, []string{"scenarios", "./director/kernel"}) {
		t.Errorf("run options %+v", r)
	}
	if diff := cmp.Diff([]string{"./cmd/lbd", "./cmd/lbctl"}, b.Commands); diff != "" || b.GzipLevel != 6 {
		t.Errorf("build options %+v", b)
	}
	t.Setenv("E2E_CMDS", "none")
	if b, _, _ := OptionsFromEnv(); b.Commands == nil || len(b.Commands) != 0 {
		t.Errorf("E2E_CMDS=none: commands %#v, want empty non-nil", b.Commands)
	}
	for k, v := range map[string]string{"E2E_TIMEOUT": "soon", "E2E_SMP": "0", "E2E_GZIP": "10"} {
		t.Run(k, func(t *testing.T) {
			t.Setenv(k, v)
			if _, _, err := OptionsFromEnv(); err == nil {
				t.Errorf("%s=%s accepted", k, v)
			}
		})
	}
}
