package vrrp

import (
	"fmt"
	"strconv"
	"strings"
)

// FieldError is one problem with a configuration, addressed by the path of
// the field it concerns, in the keys of the configuration file (the `yaml`
// tags of this package's types): "priority", "virtual_ipaddresses[2].label"
// within an instance, "instances[VI_1].priority" within a Set. An empty
// Field means the object itself (a missing required field, say).
type FieldError struct {
	Field string
	Msg   string
	// First, for a duplicate, is the path of the first occurrence (same
	// base as Field); a file loader turns it into a line number.
	First string
}

func (e FieldError) Error() string {
	var b strings.Builder
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.First != "" {
		fmt.Fprintf(&b, " (first at %s)", e.First)
	}
	return b.String()
}

// FieldErrors is every problem found, in the order found.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// err returns es as an error, nil when empty.
func (es FieldErrors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Given tells which fields a configuration file wrote, by path (the same
// paths as FieldError.Field), so that defaults fill only the absent ones
// and an explicit zero is checked like any other value. A nil Given (the
// programmatic use) treats a field as given when it is not zero.
type Given func(path string) bool

// has reports whether the field at path was given; set says whether its
// value is non-zero (or, for a field whose zero is meaningful, true).
func (g Given) has(path string, set bool) bool {
	if g == nil {
		return set
	}
	return g(path)
}

// under returns the Given of the object at prefix.
func (g Given) under(prefix string) Given {
	if g == nil {
		return nil
	}
	return func(path string) bool { return g(join(prefix, path)) }
}

// fields collects the errors of one object, whose fields are addressed
// relative to base.
type fields struct {
	base string
	errs *FieldErrors
}

func (f fields) at(path string) fields { return fields{base: join(f.base, path), errs: f.errs} }

func (f fields) add(path, format string, args ...any) {
	*f.errs = append(*f.errs, FieldError{Field: join(f.base, path), Msg: fmt.Sprintf(format, args...)})
}

// missing reports a required key absent from the object.
func (f fields) missing(key string) { f.add("", "missing required field %q", key) }

func (f fields) duplicate(path, first, format string, args ...any) {
	*f.errs = append(*f.errs, FieldError{Field: join(f.base, path), Msg: fmt.Sprintf(format, args...), First: join(f.base, first)})
}

func (f fields) intRange(path string, v, lo, hi int) {
	if v < lo || v > hi {
		f.add(path, "must be between %d and %d, got %d", lo, hi, v)
	}
}

func (f fields) weight(path string, v int) { f.intRange(path, v, -254, 254) }

// join appends path to base: "a" + "b" = "a.b", "a" + "[1]" = "a[1]".
func join(base, path string) string {
	switch {
	case base == "":
		return path
	case path == "":
		return base
	case path[0] == '[':
		return base + path
	}
	return base + "." + path
}

func item(i int) string     { return "[" + strconv.Itoa(i) + "]" }
func named(n string) string { return "[" + n + "]" }
