package kaconf

import (
	"fmt"
	"path/filepath"
	"strings"
)

// keepalived's preprocessor, as its keepalived.conf(5) documents it
// ("ADVANCED CONFIGURATION"): conditional lines (@ID, @^ID) kept or dropped
// for a config id (keepalived -i), parameter definitions ($NAME=VALUE,
// multi-line with a trailing backslash) and their substitution ($NAME
// before white space, ',' , ')' or the line's end; ${NAME} anywhere).
// ~SEQ and ~LST repeat the rest of their line (loop.go); ${_RANDOM} and
// ${_ENV} are refused.

// maxExpansions bounds the substitutions of one line (a parameter whose
// value names itself never ends).
const maxExpansions = 1000

// maxExpandedLine bounds a line after substitution.
const maxExpandedLine = 64 << 10

// paramDef is a $NAME=VALUE definition; a multi-line one has several lines.
type paramDef struct {
	lines []string
}

// preproc is the preprocessor's state, shared by every included file (as
// keepalived's definitions are).
type preproc struct {
	configID   string // Options.ConfigID, set by line
	defs       map[string]*paramDef
	pending    *paramDef // a multi-line definition being read
	condNoted  bool
	expansions int // substitutions of the current line (its queue item)
}

// line preprocesses one decommented line of file pos.File and returns the
// lines to read in its place (none for a definition or a dropped
// conditional line).
func (p *preproc) line(lx *lexer, pos Pos, line string) []string {
	if p.pending != nil {
		p.continueDef(line)
		return nil
	}
	if lx.opts != nil {
		p.configID = lx.opts.ConfigID
	}
	var out []string
	queue := []qitem{{text: line}}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > maxItems || len(out) > maxItems {
			lx.errs.add(&Error{Pos: pos, Msg: fmt.Sprintf("this line expands to more than %d lines", maxItems)})
			return nil
		}
		it := queue[0]
		queue = queue[1:]
		p.expansions = 0 // substitutions within this one line
		for _, d := range it.set {
			p.setParam(d[0], d[1])
		}
		t, ok := p.conditional(lx, pos, strings.TrimLeft(it.text, whiteSpace))
		if !ok || p.define(t) {
			continue
		}
		if strings.HasPrefix(t, "~SEQ") || strings.HasPrefix(t, "~LST") {
			items, err := p.loop(pos, t)
			if err != nil {
				lx.errs.add(&Error{Pos: pos, Msg: err.Error()})
				return nil
			}
			queue = append(items, queue...)
			continue
		}
		s, extra, err := p.substitute(pos, t)
		if err != nil {
			lx.errs.add(&Error{Pos: pos, Msg: err.Error()})
			return nil
		}
		more := make([]qitem, 0, len(extra)+1)
		if s != t && strings.HasPrefix(strings.TrimLeft(s, whiteSpace), "@") {
			// $IF_MAIN=@main, then "$IF_MAIN priority 240" (keepalived.conf(5)).
			more = append(more, qitem{text: s})
		} else {
			out = append(out, s)
		}
		for _, e := range extra {
			more = append(more, qitem{text: e})
		}
		queue = append(more, queue...)
	}
	return out
}

// qitem is a line waiting to be preprocessed, and the parameters a ~SEQ
// or ~LST sets before it ([name, value] pairs).
type qitem struct {
	text string
	set  [][2]string
}

func (p *preproc) setParam(name, value string) {
	if p.defs == nil {
		p.defs = map[string]*paramDef{}
	}
	p.defs[name] = &paramDef{lines: []string{value}}
}

// conditional resolves "@ID rest" and "@^ID rest": rest when the config id
// is (is not) ID, else false. A line that is only "@ID" is dropped, as
// keepalived drops it.
func (p *preproc) conditional(lx *lexer, pos Pos, t string) (string, bool) {
	if !strings.HasPrefix(t, "@") {
		return t, true
	}
	if !p.condNoted {
		p.condNoted = true
		if p.configID == "" {
			lx.notes = append(lx.notes, Note{Pos: pos, Msg: "conditional lines (@ID) dropped, @^ID kept: no config id given (keepalived uses -i, else the host name's first part; lbctl import-keepalived --config-id)"})
		} else {
			lx.notes = append(lx.notes, Note{Pos: pos, Msg: fmt.Sprintf("conditional lines resolved for config id %q (keepalived -i %s): @%s lines kept, other @ID lines dropped", p.configID, p.configID, p.configID)})
		}
	}
	sp := strings.IndexAny(t, " \t")
	if sp < 0 {
		return "", false
	}
	id, rest := t[1:sp], t[sp:]
	negate := strings.HasPrefix(id, "^")
	id = strings.TrimPrefix(id, "^")
	if (p.configID != "" && id == p.configID) == negate {
		return "", false
	}
	return strings.TrimLeft(rest, whiteSpace), true
}

// define reads "$NAME=VALUE" (no white space before "="), reporting
// whether t was a definition. A VALUE ending in "\" goes on on the next
// lines, up to one without "\" or an empty one.
func (p *preproc) define(t string) bool {
	if !strings.HasPrefix(t, "$") {
		return false
	}
	name, value, ok := strings.Cut(t[1:], "=")
	if !ok || !validParamName(name) {
		return false
	}
	value = strings.TrimLeft(value, " \t")
	d := &paramDef{}
	if p.defs == nil {
		p.defs = map[string]*paramDef{}
	}
	p.defs[name] = d
	if v, more := strings.CutSuffix(strings.TrimRight(value, " \t"), `\`); more {
		if v = strings.TrimRight(v, " \t"); v != "" {
			d.lines = append(d.lines, v)
		}
		p.pending = d
		return true
	}
	d.lines = []string{value}
	return true
}

// continueDef adds a line to the multi-line definition being read.
func (p *preproc) continueDef(line string) {
	t := strings.TrimRight(line, " \t\r")
	if strings.TrimSpace(t) == "" {
		p.pending = nil
		return
	}
	v, more := strings.CutSuffix(t, `\`)
	if v = strings.TrimRight(v, " \t"); strings.TrimSpace(v) != "" {
		p.pending.lines = append(p.pending.lines, v)
	}
	if !more {
		p.pending = nil
	}
}

func validParamName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !isParamByte(c) {
			return false
		}
	}
	return true
}

func isParamByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// substitute replaces the defined parameters of t, again in what they are
// replaced with. A multi-line parameter is replaced only at the end of a
// line: its first line joins the text before it, the others are returned
// to be read after it. Undefined parameters are left as written.
func (p *preproc) substitute(pos Pos, t string) (string, []string, error) {
	var extra []string
	for i := 0; i < len(t); {
		j := strings.IndexByte(t[i:], '$')
		if j < 0 {
			break
		}
		i += j
		name, end, braced := paramRef(t, i)
		lines, ok, err := p.value(pos, name, braced)
		if err != nil {
			return "", nil, err
		}
		if !ok || len(lines) > 1 && end != len(t) {
			i++
			continue
		}
		if p.expansions++; p.expansions > maxExpansions {
			return "", nil, fmt.Errorf("parameter substitution does not end ($%s: more than %d substitutions on this line)", name, maxExpansions)
		}
		first := ""
		if len(lines) > 0 {
			first = lines[0]
		}
		if len(lines) > 1 {
			extra = append(append([]string(nil), lines[1:]...), extra...)
		}
		t = t[:i] + first + t[end:]
		if len(t) > maxExpandedLine {
			return "", nil, fmt.Errorf("parameter substitution makes this line longer than %d KiB", maxExpandedLine>>10)
		}
	}
	return t, extra, nil
}

// paramRef reads the reference at t[i] ("$"): its name, where it ends and
// whether it was braced; name "" when it is not a reference.
func paramRef(t string, i int) (string, int, bool) {
	if i+1 < len(t) && t[i+1] == '{' {
		close := strings.IndexByte(t[i+2:], '}')
		if close < 0 {
			return "", i + 1, true
		}
		return t[i+2 : i+2+close], i + 3 + close, true
	}
	j := i + 1
	for j < len(t) && isParamByte(t[j]) {
		j++
	}
	if j < len(t) && !strings.ContainsRune(" \t,)", rune(t[j])) {
		return "", j, false
	}
	return t[i+1 : j], j, false
}

// value is the value of parameter name: a definition, or one of keepalived's
// predefined parameters (_PWD, _INSTANCE, _HASH, _BANG); false when it is
// not defined (the reference stays as written).
func (p *preproc) value(pos Pos, name string, braced bool) ([]string, bool, error) {
	if name == "" {
		return nil, false, nil
	}
	if d, ok := p.defs[name]; ok {
		return d.lines, true, nil
	}
	word, args, _ := strings.Cut(name, " ")
	switch {
	case !braced && args != "":
		return nil, false, nil
	case word == "_PWD" && args == "":
		dir, err := filepath.Abs(filepath.Dir(pos.File))
		if err != nil {
			dir = filepath.Dir(pos.File)
		}
		return []string{dir}, true, nil
	case word == "_INSTANCE" && args == "" && p.configID != "":
		return []string{p.configID}, true, nil
	case word == "_HASH" && args == "":
		return []string{"#"}, true, nil
	case word == "_BANG" && args == "":
		return []string{"!"}, true, nil
	case word == "_RANDOM" || word == "_ENV":
		return nil, false, fmt.Errorf("${%s} is not supported: its value is not known where the file is imported; replace it", name)
	}
	return nil, false, nil
}
