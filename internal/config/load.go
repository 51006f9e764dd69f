package config

import (
	"fmt"
	"reflect"

	"github.com/lvsd/lb/internal/boundedfile"
)

// LoadDirector reads and validates lbd.yaml; a file that configures
// nothing is refused too (see parseDirectorFile). Invalid contents give an
// Errors value (every problem, one per line, "FILE:LINE: PATH: message",
// FILE being path as given); a file that cannot be read, is not a regular
// file or is larger than MaxDirectorFileSize gives a wrapped
// *os.PathError.
func LoadDirector(path string) (*Director, error) {
	data, err := boundedfile.Read(path, MaxDirectorFileSize)
	if err != nil {
		return nil, fmt.Errorf("reading director config: %w", err)
	}
	return parseDirectorFile(path, data)
}

// ParseDirector decodes and validates lbd.yaml contents; name is used as
// FILE in errors.
func ParseDirector(name string, data []byte) (*Director, error) {
	d, _, err := parseDirector(name, data)
	return d, err
}

// parseDirector is ParseDirector; streamed reports whether the file was
// decoded a virtual server at a time (stream.go), never holding the YAML
// tree of the whole file, rather than as one tree. Both give the same
// result and errors; the tree is the fallback for whatever the cut is not
// sure of.
func parseDirector(name string, data []byte) (d *Director, streamed bool, err error) {
	if separators(data) <= maxSeparators {
		if s, ok := splitList(data); ok {
			r := newReport(name)
			r.stream = s
			d, err := r.parseDirector(s.skeleton)
			if s.complete() {
				return d, true, err
			}
		}
	}
	d, err = newReport(name).parseDirector(data)
	return d, false, err
}

func (r *report) parseDirector(data []byte) (*Director, error) {
	d := &Director{}
	if !r.decodeFile(data, d) {
		return nil, r.result()
	}
	r.directorDefaults(d)
	r.bgpDefaults(d)
	r.guardDefaults(d)
	r.validateDirector(d)
	r.validateGuard(d)
	if err := r.result(); err != nil {
		return nil, err
	}
	d.Warnings = r.bgpWarnings(d)
	return d, nil
}

// LoadAgent reads and validates lbrs.yaml, like LoadDirector (at most
// MaxAgentFileSize).
func LoadAgent(path string) (*Agent, error) {
	data, err := boundedfile.Read(path, MaxAgentFileSize)
	if err != nil {
		return nil, fmt.Errorf("reading agent config: %w", err)
	}
	return ParseAgent(path, data)
}

// ParseAgent decodes and validates lbrs.yaml contents; name is used as FILE
// in errors.
func ParseAgent(name string, data []byte) (*Agent, error) {
	r := newReport(name)
	a := &Agent{}
	if !r.decodeFile(data, a) {
		return nil, r.result()
	}
	r.agentDefaults(a)
	r.validateAgent(a)
	if err := r.result(); err != nil {
		return nil, err
	}
	return a, nil
}

// decodeFile parses data into out (a pointer to struct). It returns false
// when the file is not YAML at all (syntax error, several documents): then
// validating the empty result would only add noise.
func (r *report) decodeFile(data []byte, out any) bool {
	root := parseDocument(r, data)
	if len(r.errs) > 0 {
		return false
	}
	if root != nil {
		r.decode(root, reflect.ValueOf(out).Elem(), "")
	}
	return !r.bad[""] && !r.tooLarge()
}
