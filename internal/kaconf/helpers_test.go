package kaconf

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lvsd/lb/internal/config"
)

// memFS serves files from memory to Convert (paths without a leading "/").
func memFS(files map[string]string) *Options {
	m := fstest.MapFS{}
	for name, text := range files {
		m[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return &Options{
		ReadFile: func(name string) ([]byte, error) { return fs.ReadFile(m, name) },
		Glob:     func(pattern string) ([]string, error) { return fs.Glob(m, pattern) },
	}
}

// convert converts text as keepalived.conf and fails the test on an error.
// Convert itself checks the YAML with config.ParseDirector.
func convert(t *testing.T, text string) *Result {
	t.Helper()
	res, err := Convert("keepalived.conf", []byte(text), nil)
	if err != nil {
		if res != nil {
			t.Logf("YAML:\n%s", res.YAML)
		}
		t.Fatalf("Convert: %v", err)
	}
	if res.Director == nil {
		t.Fatal("Convert returned no Director")
	}
	return res
}

// issueKeys lists "LINE:KEYWORD" of each unmapped issue.
func issueKeys(r *Result) []string {
	var out []string
	for _, i := range r.Unmapped {
		out = append(out, itoa(i.Pos.Line)+":"+i.Keyword)
	}
	return out
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// hasNote reports whether a note contains text.
func hasNote(r *Result, text string) bool {
	for _, n := range r.Notes {
		if strings.Contains(n.Msg, text) {
			return true
		}
	}
	return false
}

// only returns the single virtual server of d.
func only(t *testing.T, d *config.Director) *config.VirtualServer {
	t.Helper()
	if len(d.VirtualServers) != 1 {
		t.Fatalf("got %d virtual servers, want 1", len(d.VirtualServers))
	}
	return &d.VirtualServers[0]
}
