package zklab

import (
	"errors"
	"fmt"
	"os"
)

// Launch starts an ensemble outside a test (a command such as
// e2e/cmd/testbed, which serves it to the VM's ZooKeeper scenarios): it
// returns the running ensemble and stop, which kills the nodes and removes
// their directories; or the reason the ensemble could not start (nothing
// is left running then). The ensemble's own methods that fail their TB
// (StartNode, WaitServing) must not be called on it. A command that should
// exit on the first failure may give Start a TB of its own instead
// (zkbench does).
func Launch(o Options) (e *Ensemble, stop func(), err error) {
	return launch(o, Start)
}

// launch is Launch over start (Start; the tests' double).
func launch(o Options, start func(TB, Options) *Ensemble) (e *Ensemble, stop func(), err error) {
	h := &hostTB{}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		f, ok := r.(hostFatal)
		if !ok {
			panic(r)
		}
		h.cleanup()
		e, stop, err = nil, nil, errors.New(string(f))
	}()
	e = start(h, o)
	return e, h.cleanup, nil
}

// hostTB is Launch's TB: Fatalf panics with hostFatal, which Launch
// recovers; cleanups run in reverse when stop is called.
type hostTB struct {
	cleanups []func()
}

type hostFatal string

func (h *hostTB) Helper()                           {}
func (h *hostTB) Fatalf(format string, args ...any) { panic(hostFatal(fmt.Sprintf(format, args...))) }
func (h *hostTB) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "zklab: "+format+"\n", args...)
}
func (h *hostTB) Cleanup(f func()) { h.cleanups = append(h.cleanups, f) }

func (h *hostTB) TempDir() string {
	d, err := os.MkdirTemp("", "zklab-")
	if err != nil {
		h.Fatalf("zklab: temporary directory: %v", err)
	}
	h.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func (h *hostTB) cleanup() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
	h.cleanups = nil
}
