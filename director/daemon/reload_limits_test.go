package daemon

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/lvsd/lb/director/control"
)

// TestDaemonReloadHostileFile: a reload of a 479-byte file whose aliases
// expand into errors is refused with a bounded error, in lbctl's answer and
// in the log, and changes nothing (issue 12, defect 2: before, 116 MB were
// logged and a 41.8 MB error sent to lbctl).
func TestDaemonReloadHostileFile(t *testing.T) {
	f := start(t, false)
	waitFor(t, "table programmed", func() bool {
		return eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1})
	})
	bomb, err := os.ReadFile("../../internal/config/testdata/alias-bomb-errors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.cfg, bomb, 0o600); err != nil {
		t.Fatal(err)
	}
	logged := len(f.logs.String())
	f.k.ResetCounters()
	_, err = control.NewClient(f.sock).Reload(context.Background(), control.ReloadRequest{})
	if err == nil {
		t.Fatal("hostile file reloaded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "more errors not shown") {
		t.Errorf("error does not count the errors not shown:\n%.2000s", msg)
	}
	if lines := strings.Count(msg, "\n") + 1; lines > 110 || len(msg) > 64<<10 {
		t.Errorf("error of %d lines, %d bytes sent to lbctl", lines, len(msg))
	}
	if n := len(f.logs.String()) - logged; n > 128<<10 {
		t.Errorf("%d bytes logged for one refused reload", n)
	}
	t.Logf("error to lbctl: %d lines, %d bytes; logged: %d bytes", strings.Count(msg, "\n")+1, len(msg), len(f.logs.String())-logged)
	if f.k.Writes() != 0 {
		t.Errorf("refused reload wrote %d times", f.k.Writes())
	}
	if !eqDests(f.dests(), map[string]uint32{"198.51.100.1": 3, "198.51.100.2": 1}) {
		t.Errorf("table changed: %v", f.dests())
	}
}
