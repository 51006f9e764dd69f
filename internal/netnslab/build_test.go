package netnslab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGoBuild(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		pkg     string
		env     []string
		wantBin string
		wantErr string
	}{
		{"static lbd", "github.com/lvsd/lb/cmd/lbd", []string{"CGO_ENABLED=0"}, "lbd", ""},
		{"no such package", "github.com/lvsd/lb/cmd/nosuch", nil, "", "building nosuch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin, err := GoBuild(dir, tt.pkg, tt.env...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("GoBuild(%s) = %q, %v; want error %q", tt.pkg, bin, err, tt.wantErr)
				}
				return
			}
			if err != nil || bin != filepath.Join(dir, tt.wantBin) {
				t.Fatalf("GoBuild(%s) = %q, %v; want %s", tt.pkg, bin, err, filepath.Join(dir, tt.wantBin))
			}
			if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
				t.Fatalf("%s is not an executable: %v %v", bin, st, err)
			}
		})
	}
}
