package kaconf

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lvsd/lb/internal/boundedfile"
	"github.com/lvsd/lb/internal/config"
)

// Options are the file-system hooks of a conversion; the zero value reads
// the real file system.
type Options struct {
	ReadFile func(name string) ([]byte, error)      // reads included files; nil: os.ReadFile
	Glob     func(pattern string) ([]string, error) // expands include patterns; nil: filepath.Glob
	// ConfigID resolves conditional lines (@ID, @^ID) as keepalived -i
	// ID does; "" is no id: @ID lines are dropped, @^ID lines kept.
	ConfigID string
}

// readFile reads name with the hook, or as boundedfile.Read does: regular
// files only, at most MaxFileSize (lexer.readInclude checks the sizes of
// what the hook returns).
func (o *Options) readFile(name string) ([]byte, error) {
	if o != nil && o.ReadFile != nil {
		return o.ReadFile(name)
	}
	return boundedfile.Read(name, MaxFileSize)
}

func (o *Options) glob(pattern string) ([]string, error) {
	if o != nil && o.Glob != nil {
		return o.Glob(pattern)
	}
	return filepath.Glob(pattern)
}

// Issue is a keepalived keyword (or an option of one) that the conversion
// does not carry over.
type Issue struct {
	Pos     Pos
	Keyword string
	Reason  string
}

// String is `FILE:LINE: keyword "X" not mapped: reason`.
func (i Issue) String() string {
	return fmt.Sprintf("%s: keyword %q not mapped: %s", i.Pos, i.Keyword, i.Reason)
}

// Note is something the conversion did that the reader should know: a
// keepalived default written out, or a correction keepalived makes itself.
type Note struct {
	Pos Pos
	Msg string
}

// String is "FILE:LINE: note: message".
func (n Note) String() string { return fmt.Sprintf("%s: note: %s", n.Pos, n.Msg) }

// Error is a malformed statement.
type Error struct {
	Pos Pos
	Msg string
}

// Error is "FILE:LINE: message", or "FILE: message" without a line.
func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Pos.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
}

// Errors is every malformed statement found, one per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Result is a converted configuration.
type Result struct {
	Source   string           // the file name given to Convert
	YAML     []byte           // lbd.yaml, with a header comment listing Unmapped and Notes
	Director *config.Director // YAML as lbd reads it (config.ParseDirector: defaults applied)
	Unmapped []Issue          // in file order
	Notes    []Note           // in file order
}

// ConvertFile converts the keepalived configuration at path (and the files
// it includes).
func ConvertFile(path string, opts *Options) (*Result, error) {
	data, err := opts.readFile(path)
	if err == nil && len(data) > MaxFileSize {
		err = fmt.Errorf("%s: larger than %d MiB, the limit of a file", path, MaxFileSize>>20)
	}
	if err != nil {
		return nil, fmt.Errorf("reading keepalived configuration: %w", err)
	}
	return Convert(path, data, opts)
}

// Convert converts keepalived.conf contents; name is the file name used in
// positions and to resolve relative includes. Malformed input gives an
// Errors value. If the converted YAML does not pass config.ParseDirector
// (input the conversion cannot express), the error says so and the Result
// is still returned, for inspection.
func Convert(name string, data []byte, opts *Options) (*Result, error) {
	lx := &lexer{opts: opts, read: int64(len(data))}
	if len(data) > MaxFileSize {
		return nil, Errors{{Pos: Pos{File: name}, Msg: fmt.Sprintf("larger than %d MiB, the limit of a file", MaxFileSize>>20)}}
	}
	lx.lexFile(name, data)
	nodes, treeErrs := buildTree(lx.items)
	errs := lx.errs
	errs.addAll(treeErrs)
	m := newMapper()
	m.notes = append(m.notes, lx.notes...)
	if len(errs.list) == 0 {
		m.mapTop(nodes)
		errs = m.errs
	}
	if len(errs.list) > 0 {
		order := readingOrder(lx.lines)
		slices.SortStableFunc(errs.list, func(a, b *Error) int { return comparePos(order, a.Pos, b.Pos) })
		return nil, capped(name, errs.list, errs.more)
	}

	order := readingOrder(lx.lines)
	slices.SortStableFunc(m.issues, func(a, b Issue) int { return comparePos(order, a.Pos, b.Pos) })
	slices.SortStableFunc(m.notes, func(a, b Note) int { return comparePos(order, a.Pos, b.Pos) })
	res := &Result{Source: name, Unmapped: m.issues, Notes: m.notes}
	y, err := emit(m, name)
	if err != nil {
		return nil, fmt.Errorf("writing YAML: %w", err)
	}
	res.YAML = y
	if len(y) > config.MaxDirectorFileSize {
		return res, fmt.Errorf("the converted configuration does not pass lbd's checks: %d bytes, larger than %d MiB, the limit of lbd.yaml", len(y), config.MaxDirectorFileSize>>20)
	}
	d, err := config.ParseDirector(name+" (converted)", y)
	if err != nil {
		return res, fmt.Errorf("the converted configuration does not pass lbd's checks:\n%w", err)
	}
	res.Director = d
	return res, nil
}

// readingOrder numbers the lines in the order they were read, included
// files spliced in where they are included.
func readingOrder(lines []Pos) map[Pos]int {
	order := make(map[Pos]int, len(lines))
	for _, p := range lines {
		if _, ok := order[p]; !ok {
			order[p] = len(order)
		}
	}
	return order
}

// comparePos orders positions by reading order (positions not read, which
// do not occur, by file name and line).
func comparePos(order map[Pos]int, a, b Pos) int {
	oa, okA := order[a]
	ob, okB := order[b]
	if okA && okB {
		return cmp.Compare(oa, ob)
	}
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
}
