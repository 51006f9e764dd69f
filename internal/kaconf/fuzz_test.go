package kaconf

import (
	"errors"
	"os"
	"testing"
)

// FuzzConvert: any input either converts into YAML that passes lbd's
// checks (Convert verifies it) or fails with Errors naming lines; it never
// panics. The fixtures are the seed corpus.
func FuzzConvert(f *testing.F) {
	for _, name := range []string{"full.conf", "aliases.conf", "seed-ssl-get.conf", "seed-master.conf", "full.d/10-web.conf", "full.d/20-other.conf",
		"samples/keepalived.conf.virtual_server_group", "samples/keepalived.conf.conditional_conf", "samples/keepalived.conf.IPv6"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tt := range preprocConfs {
		f.Add([]byte(tt.conf))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Convert("fuzz.conf", data, memFS(nil))
		var errs Errors
		switch {
		case err == nil:
			if res.Director == nil {
				t.Fatal("no Director without an error")
			}
		case errors.As(err, &errs):
		default: // including YAML that lbd's checks refuse
			t.Fatalf("unexpected error %v", err)
		}
	})
}
