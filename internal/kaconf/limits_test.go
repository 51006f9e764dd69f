package kaconf

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestHostileInput: what exhausted memory or stopped the import without a
// position before (issue 12, defect 6) gets a bounded error naming the
// file and, where there is one, the line.
func TestHostileInput(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.conf")
	if err := os.WriteFile(big, []byte(strings.Repeat("# comment\n", 500_000)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		conf string
		want string
	}{
		{"include /dev/zero", "include /dev/zero\n", "k.conf:1: include /dev/zero: read /dev/zero: not a regular file (a character device)"},
		{"include a FIFO", "include " + fifo + "\n", "not a regular file (a FIFO)"},
		{"include a directory", "include " + dir + "\n", "not a regular file (a directory)"},
		{"include a 5 MB file", "include " + big + "\n", "larger than 4 MiB"},
		{"invalid UTF-8", "global_defs {\n  router_id \xff\xfe\n}\n", "k.conf:2: invalid UTF-8 (byte 0xff at column 13)"},
		{"invalid UTF-8 after a backslash (FuzzConvert)", "virtual_server fwmark 1{real_server 0.0.0.0{MISC_CHECK{misc_path \\\xf3}}}",
			"k.conf:1: invalid UTF-8 (byte 0xf3"},
		{"an escape making bytes that are not UTF-8", "virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 {\n  MISC_CHECK {\n   misc_path \"/bin/x \\xf3\"\n  }\n }\n}\n",
			"k.conf:4: misc_path: argument 1 (\"\\xf3\") is not UTF-8 text"},
		{"200,000 stray braces", strings.Repeat("}", 200_000), "199900 more errors not shown"},
		{"a million statements", strings.Repeat("x\n", 1_000_000), "more than 500000 statements"},
		{"600,000 braces on one line", strings.Repeat("a{}", 200_000), "more than 500000 statements"},
		{"2 million nested blocks", strings.Repeat("a{", 2_000_000), "k.conf:1: blocks nested more than 32 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Convert("k.conf", []byte(tt.conf), nil)
			if err == nil {
				t.Fatal("converted without an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error lacks %q:\n%.2000s", tt.want, msg)
			}
			if lines := strings.Count(msg, "\n") + 1; lines > MaxErrors+1 {
				t.Errorf("%d error lines, want at most %d", lines, MaxErrors+1)
			}
		})
	}
}

// TestConvertFileRegularOnly: the top file is read with the same limits.
func TestConvertFileRegularOnly(t *testing.T) {
	for _, p := range []string{"/dev/zero", t.TempDir()} {
		_, err := ConvertFile(p, nil)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: error %v, want not a regular file", p, err)
		}
	}
}
