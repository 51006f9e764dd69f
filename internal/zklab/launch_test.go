package zklab

import (
	"os"
	"strings"
	"testing"
)

func TestLaunchTurnsFatalIntoAnError(t *testing.T) {
	tests := []struct {
		name    string
		start   func(TB, Options) *Ensemble
		wantErr string // "" for success
	}{
		{
			name: "fatal after a cleanup and a directory",
			start: func(tb TB, _ Options) *Ensemble {
				dir := tb.TempDir()
				os.WriteFile(dir+"/x", []byte("x"), 0o644)
				tb.Cleanup(func() {})
				tb.Fatalf("zookeeper node %d: %s", 1, "no java")
				return nil
			},
			wantErr: "zookeeper node 1: no java",
		},
		{
			name:  "success",
			start: func(tb TB, _ Options) *Ensemble { tb.TempDir(); return &Ensemble{} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dirs []string
			start := func(tb TB, o Options) *Ensemble {
				tb.Cleanup(func() {}) // the order of cleanups: the directory goes last
				d := tb.TempDir()
				dirs = append(dirs, d)
				return tt.start(tb, o)
			}
			e, stop, err := launch(Options{}, start)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || e != nil || stop != nil {
					t.Fatalf("launch = %v, %v, stop set %t; want the error %q and nothing else", e, err, stop != nil, tt.wantErr)
				}
			} else {
				if err != nil || e == nil || stop == nil {
					t.Fatalf("launch = %v, %v; want an ensemble and stop", e, err)
				}
				if _, err := os.Stat(dirs[0]); err != nil {
					t.Fatalf("the ensemble's directory is gone before stop: %v", err)
				}
				stop()
			}
			for _, d := range dirs {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Errorf("directory %s left behind (%v)", d, err)
				}
			}
		})
	}
}

func TestLaunchLetsOtherPanicsThrough(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want the start's own panic", r)
		}
	}()
	launch(Options{}, func(TB, Options) *Ensemble { panic("boom") })
	t.Error("launch returned")
}
