package sysctl

import (
	"fmt"
	"io/fs"
	"sync"
)

// Map is an in-memory sysctl tree for the unit tests of the packages that
// use sysctls. Get and Set behave as [Proc]'s on a tree holding exactly the
// sysctls put in the map: a name in either form is the same sysctl, an
// invalid name is refused, a missing sysctl is fs.ErrNotExist and Set does
// not create it. Every successful Set is recorded. It is safe for
// concurrent use.
type Map struct {
	mu     sync.Mutex
	values map[string]string // by Path
	fail   map[string]error  // by Path: what Set returns
	sets   []string          // "name=value", dotted names
}

// NewMap returns a tree holding values (name to value). It panics on an
// invalid name: a test's own mistake.
func NewMap(values map[string]string) *Map {
	m := &Map{values: map[string]string{}, fail: map[string]error{}}
	for name, v := range values {
		m.Put(name, v)
	}
	return m
}

// Get returns the value of name.
func (m *Map) Get(name string) (string, error) {
	p, err := Path(name)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.values[p]
	if !ok {
		return "", fmt.Errorf("read sysctl %s: %w", Name(name), fs.ErrNotExist)
	}
	return v, nil
}

// Set changes the value of an existing sysctl and records the write, or
// returns the error FailSet gave for name.
func (m *Map) Set(name, value string) error {
	p, err := Path(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail[p]; err != nil {
		return err
	}
	if _, ok := m.values[p]; !ok {
		return fmt.Errorf("write sysctl %s: %w", Name(name), fs.ErrNotExist)
	}
	m.values[p] = value
	m.sets = append(m.sets, Name(name)+"="+value)
	return nil
}

// Put sets name to value behind the users' back (not recorded), creating
// it if needed, as the kernel does when a device appears or an
// administrator runs sysctl -w. It panics on an invalid name.
func (m *Map) Put(name, value string) {
	p := mustPath(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[p] = value
}

// Delete removes name from the tree, as the kernel does when its device
// goes. It panics on an invalid name.
func (m *Map) Delete(name string) {
	p := mustPath(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.values, p)
}

// FailSet makes every Set of name return err (nil: succeed again). It
// panics on an invalid name.
func (m *Map) FailSet(name string, err error) {
	p := mustPath(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		delete(m.fail, p)
		return
	}
	m.fail[p] = err
}

// TakeSets returns the writes made by Set since the last call, in order,
// each as "name=value" with the dotted name.
func (m *Map) TakeSets() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sets
	m.sets = nil
	return s
}

func mustPath(name string) string {
	p, err := Path(name)
	if err != nil {
		panic(err)
	}
	return p
}
