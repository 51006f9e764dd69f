package daemon

import (
	"context"
	"errors"

	"github.com/lvsd/lb/director/control"
)

// directorDrainStatus is the director's drain for the status, nil when it
// is not drained.
func (d *Daemon) directorDrainStatus() *control.DirectorDrain {
	_, dr := d.ovr.snapshot()
	if !dr.Drained {
		return nil
	}
	return &control.DirectorDrain{Drained: true, Since: dr.Since}
}

// SetDirectorDrain implements control.Overrider.
func (d *Daemon) SetDirectorDrain(ctx context.Context, req control.DirectorDrainRequest) (control.DirectorDrain, error) {
	return control.DirectorDrain{}, errors.New("drain-director is not implemented yet")
}
