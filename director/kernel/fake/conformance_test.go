package fake_test

import (
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/lvsd/lb/director/kernel/fake"
	"github.com/lvsd/lb/director/table"
)

// confEnv is the environment the fake pretends to have.
func confEnv() fake.Env {
	return fake.Env{Interface: "lbsync0", Local: netip.MustParseAddr("127.0.0.1")}
}

// TestConformance runs against the fake the script that
// director/kernel's TestTestbedConformance runs against the real kernel.
func TestConformance(t *testing.T) {
	k := fake.New()
	if err := fake.Conform(k, confEnv()); err != nil {
		t.Error(err)
	}
	if len(k.Table().Services) != 0 {
		t.Errorf("table left %+v", k.Table())
	}
}

// lenient accepts a duplicate service, unlike the kernel.
type lenient struct{ *fake.Kernel }

func (l lenient) CreateService(s table.Service) error {
	if err := l.Kernel.CreateService(s); err != syscall.EEXIST {
		return err
	}
	return nil
}

// TestConformanceCatchesDeviations: the script fails a kernel that answers
// otherwise, and names the step.
func TestConformanceCatchesDeviations(t *testing.T) {
	k := fake.New()
	err := fake.Conform(lenient{k}, confEnv())
	if err == nil || !strings.Contains(err.Error(), "service create twice (one call each): got <nil>, want EEXIST") {
		t.Errorf("Conform = %v", err)
	}
}
