package config

import (
	"errors"
	"fmt"
	"hash/maphash"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/lvsd/lb/vrrp"
)

// Error is one problem found in a configuration file.
type Error struct {
	File string // the file name as given to Load/Parse
	Line int    // 1-based line; 0 when unknown
	Path string // e.g. "virtual_servers[0].real_servers[1].address"; "" for the whole file
	Msg  string
}

// Error formats the problem as "FILE:LINE: PATH: message"; the line and the
// path are left out when unknown or empty.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, sorted by line. Parse and Load
// functions return it (as an error) when the file is not valid. At most
// MaxErrors are kept: then a last Error, without a line, says how many more
// were found.
type Errors []Error

// Error returns the problems one per line, without a trailing newline.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sortErrors orders errors by line, keeping the order of discovery among
// errors on the same line, and drops exact duplicates.
func sortErrors(es []Error) Errors {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	out := make(Errors, 0, len(es))
	seen := make(map[Error]bool, len(es))
	for _, e := range es {
		if seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	return out
}

// report collects errors and remembers where every decoded value was, so
// that validation after decoding can name a line for any path.
type report struct {
	file string
	// lines maps a path to the line of its key (or of the sequence item),
	// by a 128-bit hash of the path (pathKey): one entry per value of the
	// file, and the path strings themselves (about 60 bytes each) cost
	// lbd some 15 MB while it parsed a 1,000 x 10 configuration.
	lines    map[pathKey]int
	seeds    [2]maphash.Seed
	bad      map[string]bool // paths whose value failed to decode
	errs     []Error
	dropped  int // errors found beyond MaxErrors
	nodes    int // values decoded, to stop alias bombs
	maxNodes int
	aliased  int // values decoded through an alias
	inAlias  int // depth of aliases being decoded
	anchored int // depth of anchored nodes being decoded (an alias may decode them again)

	fields map[reflect.Type]map[string]fieldInfo // cache of structFields
	stream *listSplit                            // lbd.yaml's virtual_servers, decoded item by item (stream.go)
}

// pathKey is a path's hash in report.lines; two paths of one file share
// one with a chance of about n*n/2^129 (n values), nil in practice.
type pathKey [2]uint64

func (r *report) key(path string) pathKey {
	return pathKey{maphash.String(r.seeds[0], path), maphash.String(r.seeds[1], path)}
}

// setLine records the line of path.
func (r *report) setLine(path string, line int) { r.lines[r.key(path)] = line }

func newReport(file string) *report {
	r := &report{
		file:     file,
		lines:    map[pathKey]int{},
		bad:      map[string]bool{},
		maxNodes: maxNodes,
		fields:   map[reflect.Type]map[string]fieldInfo{},
		seeds:    [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
	}
	r.setLine("", 1)
	return r
}

// atLine records an error on an explicit line; beyond MaxErrors it only
// counts it.
func (r *report) atLine(line int, path, format string, args ...any) {
	if len(r.errs) >= MaxErrors {
		r.dropped++
		return
	}
	r.always(line, path, format, args...)
}

// always records an error even when MaxErrors are kept (the last kept one
// is then only counted): the one that stops the decoding must be seen.
func (r *report) always(line int, path, format string, args ...any) {
	if len(r.errs) >= MaxErrors { // make room: the last kept is counted instead
		r.errs = r.errs[:MaxErrors-1]
		r.dropped++
	}
	r.errs = append(r.errs, Error{File: r.file, Line: line, Path: Clip(path, maxPath), Msg: Clip(fmt.Sprintf(format, args...), maxMessage)})
}

// errf records an error about path, on the line where path (or its nearest
// present ancestor) was written. Errors about values that already failed to
// decode, or lie inside one, are dropped: the decode error says it all.
func (r *report) errf(path, format string, args ...any) {
	if r.isBad(path) {
		return
	}
	r.atLine(r.line(path), path, format, args...)
}

// missing reports a required key absent from the mapping at path.
func (r *report) missing(path, key string) {
	r.errf(path, "missing required field %q", key)
}

// has reports whether path was written in the file (even with a bad value).
func (r *report) has(path string) bool {
	_, ok := r.lines[r.key(path)]
	return ok
}

// ok reports whether path decoded without error (absent counts as ok).
func (r *report) ok(path string) bool { return !r.isBad(path) }

func (r *report) isBad(path string) bool {
	for p := path; ; p = parentPath(p) {
		if r.bad[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

func (r *report) line(path string) int {
	for p := path; ; p = parentPath(p) {
		if l, ok := r.lines[r.key(p)]; ok {
			return l
		}
		if p == "" {
			return 0
		}
	}
}

func (r *report) result() error {
	if len(r.errs) == 0 {
		return nil
	}
	es := sortErrors(r.errs)
	switch {
	case r.found() >= maxErrorsFound:
		es = append(es, Error{File: r.file, Msg: fmt.Sprintf("%d more errors not shown: checking stopped after %d errors", r.dropped, maxErrorsFound)})
	case r.dropped > 0:
		es = append(es, Error{File: r.file, Msg: fmt.Sprintf("%d more errors not shown (only the first %d are)", r.dropped, MaxErrors)})
	}
	return es
}

// found is how many errors were found, kept or not.
func (r *report) found() int { return len(r.errs) + r.dropped }

// parentPath returns the path of the value containing path:
// "a.b[3]" -> "a.b", "a.b" -> "a", "a" -> "".
func parentPath(p string) string {
	depth := 0
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case ']':
			depth++
		case '[':
			depth--
			if depth == 0 {
				return p[:i]
			}
		case '.':
			if depth == 0 {
				return p[:i]
			}
		}
	}
	return ""
}

func joinPath(p, key string) string {
	if p == "" {
		return key
	}
	return p + "." + key
}

func itemPath(p string, i int) string { return p + "[" + strconv.Itoa(i) + "]" }

func namedPath(p, name string) string { return p + "[" + name + "]" }

// given is the vrrp.Given of the section at base: whether the file wrote a
// path below it.
func (r *report) given(base string) vrrp.Given {
	return func(path string) bool { return r.has(joinPath(base, path)) }
}

// fieldErrors records the field-addressed errors of another package's
// validation of the section at base, each on its field's line; a
// duplicate's first occurrence becomes "(first at line N)".
func (r *report) fieldErrors(base string, err error) {
	var fes vrrp.FieldErrors
	if !errors.As(err, &fes) {
		if err != nil {
			r.errf(base, "%s", err)
		}
		return
	}
	for _, fe := range fes {
		msg := fe.Msg
		if fe.First != "" {
			msg += fmt.Sprintf(" (first at line %d)", r.line(joinPath(base, fe.First)))
		}
		path := base
		if fe.Field != "" {
			path = joinPath(base, fe.Field)
		}
		r.errf(path, "%s", msg)
	}
}
