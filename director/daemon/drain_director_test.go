package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lb/director/control"
)

// drain-director is saved and survives a restart (the routers start
// drained); alone on its LAN the director keeps the VIP at priority 1;
// undrain restores the priority. Without VRRP it is refused.
func TestDaemonDrainDirectorPersists(t *testing.T) {
	dir := t.TempDir()
	y := vrrpOnlyYAML(dir, false)
	f := runVRRPOnly(t, dir, y, Options{})
	ctx := context.Background()
	res, err := f.d.SetDirectorDrain(ctx, control.DirectorDrainRequest{Drain: true})
	if err != nil || !res.Drained || !res.Changed || len(res.Instances) != 1 {
		t.Fatalf("drain: %+v %v", res, err)
	}
	// No peer: it keeps the VIP (MASTER) at the drain priority.
	if in := res.Instances[0]; in.State != "MASTER" || in.EffectivePriority != 1 {
		t.Errorf("alone and drained: %+v", in)
	}
	st := f.d.Status(ctx)
	if st.Director == nil || !st.Director.Drained || !strings.Contains(st.VRRP[0].Reason, "drained") {
		t.Errorf("status: director %+v, VRRP %+v", st.Director, st.VRRP)
	}
	b, err := os.ReadFile(filepath.Join(dir, overridesFileName))
	if err != nil || !strings.Contains(string(b), `"drained": true`) {
		t.Fatalf("the state file: %s %v", b, err)
	}
	// A restart on the same state directory starts the routers drained
	// (a second lbd on it, with a socket of its own).
	y2 := strings.Replace(y, "/lbd.sock", "/lbd2.sock", 1)
	g := runVRRPOnly(t, t.TempDir(), y2, Options{})
	waitFor(t, "priority 1 after the restart", func() bool {
		st := g.d.Status(ctx)
		return len(st.VRRP) == 1 && st.VRRP[0].EffectivePriority == 1 && st.Director != nil
	})
	res, err = g.d.SetDirectorDrain(ctx, control.DirectorDrainRequest{Drain: false})
	if err != nil || res.Drained || !res.Changed {
		t.Fatalf("undrain: %+v %v", res, err)
	}
	waitFor(t, "the configured priority back", func() bool {
		st := g.d.Status(ctx)
		return st.VRRP[0].EffectivePriority == 100 && st.Director == nil
	})
	b, _ = os.ReadFile(filepath.Join(dir, overridesFileName))
	if strings.Contains(string(b), "drained") {
		t.Errorf("the state file after undrain: %s", b)
	}
}

func TestDaemonDrainDirectorWithoutVRRP(t *testing.T) {
	f := start(t, false)
	if _, err := f.d.SetDirectorDrain(context.Background(), control.DirectorDrainRequest{Drain: true}); !errors.Is(err, errNoVRRP) {
		t.Errorf("drain-director without VRRP: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, overridesFileName)); err == nil {
		t.Error("a refused drain-director wrote the state file")
	}
}
