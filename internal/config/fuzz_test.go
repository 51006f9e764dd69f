package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: any input either parses or gives Errors (never another error,
// never a panic), with at most MaxErrors lines and a count, each line
// bounded. Seeds: the examples and the testdata, hostile files included.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/*.yaml", "../../deploy/examples/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func() error{
			func() error { _, err := ParseDirector("f.yaml", data); return err },
			func() error { _, err := ParseAgent("f.yaml", data); return err },
		} {
			err := parse()
			if err == nil {
				continue
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T, want Errors: %v", err, err)
			}
			if len(es) == 0 || len(es) > MaxErrors+1 {
				t.Fatalf("%d errors", len(es))
			}
			for _, e := range es {
				if len(e.Msg) > maxMessage+32 || len(e.Path) > maxPath+32 || strings.Contains(e.Msg, "\n") && len(e.Msg) > maxMessage {
					t.Fatalf("unbounded error line: %.200q", e.Error())
				}
			}
		}
	})
}
