package config

import (
	"os"
	"path/filepath"
	"testing"
)

// emptyMsg is the error of a file that configures nothing.
const emptyMsg = `no virtual_servers and no vrrp instances: the file is empty or truncated? ` +
	`(set removal_guard.allow_remove_all: true if a director that manages nothing is intended)`

// allowEmpty, in a file that configures nothing, says so.
const allowEmpty = "removal_guard: {allow_remove_all: true}\n"

const oneService = `
virtual_servers:
  - address: 192.168.56.90
    port: 80
    real_servers: [{address: 10.0.0.1}]
`

func TestRemovalGuardKeys(t *testing.T) {
	tests := []struct {
		name        string
		yaml        string
		wantPercent int
		wantAll     bool
		want        []string
	}{
		{name: "default", yaml: oneService, wantPercent: DefaultRemovalMaxPercent},
		{name: "explicit 0", yaml: oneService + "removal_guard: {max_percent: 0}\n", wantPercent: 0},
		{name: "100", yaml: oneService + "removal_guard: {max_percent: 100}\n", wantPercent: 100},
		{name: "null section takes the defaults", yaml: oneService + "removal_guard:\n", wantPercent: DefaultRemovalMaxPercent},
		{name: "allow_remove_all", yaml: oneService + "removal_guard:\n  allow_remove_all: true\n", wantPercent: 50, wantAll: true},
		{
			name: "above 100",
			yaml: oneService + "removal_guard:\n  max_percent: 101\n",
			want: []string{`t.yaml:6: removal_guard.max_percent: must be between 0 and 100, got 101`},
		},
		{
			name: "negative",
			yaml: oneService + "removal_guard: {max_percent: -1}\n",
			want: []string{`t.yaml:5: removal_guard.max_percent: must be between 0 and 100, got -1`},
		},
		{
			name: "a percent sign is not an integer",
			yaml: oneService + "removal_guard: {max_percent: 50%}\n",
			want: []string{`t.yaml:5: removal_guard.max_percent: expected an integer, got "50%"`},
		},
		{
			name: "misspelt key",
			yaml: oneService + "removal_guard: {allow_empty: true}\n",
			want: []string{`t.yaml:5: removal_guard: unknown field "allow_empty"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDirector("t.yaml", src(tt.yaml))
			diffLines(t, errLines(t, err), tt.want)
			if err != nil || tt.want != nil {
				return
			}
			if g := d.RemovalGuard; g.MaxPercent != tt.wantPercent || g.AllowRemoveAll != tt.wantAll {
				t.Errorf("removal_guard = %+v, want max_percent %d allow_remove_all %v", g, tt.wantPercent, tt.wantAll)
			}
		})
	}
}

// The file lbd reads is refused when it configures nothing, unless it says
// so; a file with only services or only VRRP instances is fine, and a file
// with other errors gets those alone. (ParseDirector alone, the importer's
// check, accepts an empty configuration: TestDirectorErrors.)
func TestEmptyFileRefused(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{name: "empty", yaml: "", want: []string{"t.yaml: " + emptyMsg}},
		{name: "whitespace", yaml: "\n\n   \n", want: []string{"t.yaml: " + emptyMsg}},
		{name: "truncated after global", yaml: "global:\n  router_id: lb1\n", want: []string{"t.yaml: " + emptyMsg}},
		{name: "null lists", yaml: "virtual_servers:\nvrrp:\n", want: []string{"t.yaml: " + emptyMsg}},
		{name: "empty lists", yaml: "virtual_servers: []\nvrrp: {instances: {}}\n", want: []string{"t.yaml: " + emptyMsg}},
		{name: "said so", yaml: allowEmpty},
		{name: "said so, with an empty list", yaml: "virtual_servers: []\n" + allowEmpty},
		{name: "services only", yaml: oneService},
		{name: "vrrp only", yaml: vi1},
		{
			name: "other errors only",
			yaml: "global:\n  resync_interval: 1ms\n",
			want: []string{`t.yaml:2: global.resync_interval: must be at least 1s, got 1ms`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseDirectorFile("t.yaml", []byte(tt.yaml))
			diffLines(t, errLines(t, err), tt.want)
		})
	}
}

// ": > lbd.yaml" (the reproduction): LoadDirector refuses the
// emptied file, naming it.
func TestLoadDirectorEmptiedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lbd.yaml")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDirector(path)
	diffLines(t, errLines(t, err), []string{path + ": " + emptyMsg})
}
