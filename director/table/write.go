package table

import (
	"errors"
	"fmt"
)

// Writer is what makes single IPVS writes: the kernel's six write calls
// (director.Kernel, the fake, the real kernel's handle).
type Writer interface {
	CreateService(Service) error
	UpdateService(Service) error
	RemoveService(Service) error
	CreateDestination(Service, Destination) error
	UpdateDestination(Service, Destination) error
	RemoveDestination(Service, Destination) error
}

// Apply makes the one call of w that performs o.
func (o Op) Apply(w Writer) error {
	switch o.Kind {
	case OpCreateService:
		return w.CreateService(o.Service)
	case OpUpdateService:
		return w.UpdateService(o.Service)
	case OpRemoveService:
		return w.RemoveService(o.Service)
	case OpCreateDest:
		return w.CreateDestination(o.Service, o.Dest)
	case OpUpdateDest:
		return w.UpdateDestination(o.Service, o.Dest)
	case OpRemoveDest:
		return w.RemoveDestination(o.Service, o.Dest)
	}
	return fmt.Errorf("unknown IPVS op %v: %w", o.Kind, errors.ErrUnsupported)
}
