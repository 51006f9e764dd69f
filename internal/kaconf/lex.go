package kaconf

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pos is a place in a source file.
type Pos struct {
	File string
	Line int // 1-based
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Node is one keepalived statement: a keyword, its arguments and, when "{"
// follows it, the statements of its block.
type Node struct {
	Pos      Pos
	Key      string   // the first word
	Args     []string // the other words, double quotes removed
	Text     string   // the statement as written, comments removed (commands are re-split from it)
	Block    []*Node  // the block's statements
	HasBlock bool     // a "{" followed the statement
	OpenPos  Pos      // where its "{" was
	ClosePos Pos      // and its "}"
}

// Words is Key followed by Args.
func (n *Node) Words() []string { return append([]string{n.Key}, n.Args...) }

type itemKind int

const (
	itemStmt itemKind = iota
	itemOpen
	itemClose
)

// item is a statement or a brace, in file order, includes spliced in.
type item struct {
	kind  itemKind
	pos   Pos
	words []string
	text  string
}

// maxIncludeDepth bounds nested includes.
const maxIncludeDepth = 8

// includeKeywords are keepalived's include directive and its variants (which
// only add checks keepalived makes on the files).
var includeKeywords = []string{"include", "includer", "includem", "includew", "includeb", "includea"}

type lexer struct {
	opts    *Options
	items   []item
	errs    errorSet
	notes   []Note
	read    int64    // bytes of every file read
	stopped bool     // too many items: reading stopped
	stack   []string // files being read, for loop detection
	pre     preproc  // conditional lines and parameters
	lines   []Pos    // every line in reading order, includes spliced in
}

// lexFile appends the items of one file (and of the files it includes).
func (lx *lexer) lexFile(name string, data []byte) {
	lx.stack = append(lx.stack, name)
	defer func() { lx.stack = lx.stack[:len(lx.stack)-1] }()

	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	spaceNoted := false
	for i, raw := range strings.Split(string(data), "\n") {
		if lx.stop(name) {
			return
		}
		pos := Pos{File: name, Line: i + 1}
		lx.lines = append(lx.lines, pos)
		line, ok := decomment(strings.TrimSuffix(raw, "\r"))
		if !ok {
			lx.errs.add(&Error{Pos: pos, Msg: "unterminated double quote"})
			continue
		}
		if msg := invalidUTF8(line); msg != "" {
			lx.errs.add(&Error{Pos: pos, Msg: msg})
			continue
		}
		if l, r, changed := asciiSpaces(line); changed {
			line = l
			if !spaceNoted {
				spaceNoted = true
				lx.notes = append(lx.notes, Note{Pos: pos, Msg: fmt.Sprintf(
					"non-ASCII white space (%U) read as a space in this file; keepalived would take it as part of a word", r)})
			}
		}
		for _, l := range lx.pre.line(lx, pos, line) {
			lx.lexLine(pos, l)
		}
	}
	lx.stop(name) // the last line may have filled the budget
}

// lexLine appends the items of one line (after the preprocessor).
func (lx *lexer) lexLine(pos Pos, line string) {
	pieces := splitBraces(line, maxItems+1-len(lx.items))
	if len(pieces) > 0 && pieces[0] != "{" && pieces[0] != "}" {
		if w := splitWords(pieces[0]); len(w) > 0 && slices.Contains(includeKeywords, w[0]) {
			lx.include(pos, w)
			pieces = pieces[1:]
		}
	}
	for _, p := range pieces {
		switch p {
		case "{":
			lx.items = append(lx.items, item{kind: itemOpen, pos: pos})
		case "}":
			lx.items = append(lx.items, item{kind: itemClose, pos: pos})
		default:
			if w := splitWords(p); len(w) > 0 {
				lx.items = append(lx.items, item{kind: itemStmt, pos: pos, words: w, text: strings.TrimSpace(p)})
			}
		}
	}
}

// stop reports whether reading must stop: too many statements, or so many
// errors that the rest would only be counted. It says why once.
func (lx *lexer) stop(name string) bool {
	switch {
	case lx.errs.full():
		return true
	case lx.stopped:
		return true
	case len(lx.items) > maxItems:
		lx.stopped = true
		lx.errs.add(&Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("more than %d statements and braces: too large for a keepalived configuration (reading stopped here)", maxItems)})
		return true
	}
	return false
}

// invalidUTF8 explains why line (comments removed) is not UTF-8 text, or
// returns "": lbd.yaml holds text only, and keepalived's bytes would not
// survive a silent replacement.
func invalidUTF8(line string) string {
	for i := 0; i < len(line); {
		r, n := utf8.DecodeRuneInString(line[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Sprintf("invalid UTF-8 (byte 0x%02x at column %d): lbd.yaml holds UTF-8 text only; convert the file (iconv -f latin1 -t utf-8) or remove the byte", line[i], i+1)
		}
		i += n
	}
	return ""
}

// readInclude reads one included file within the limits: MaxFileSize for
// the file, maxTotalSize for all the files read.
func (lx *lexer) readInclude(name string) ([]byte, error) {
	data, err := lx.opts.readFile(name)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d MiB, the limit of a file", name, MaxFileSize>>20)
	}
	lx.read += int64(len(data))
	if lx.read > maxTotalSize {
		return nil, fmt.Errorf("%s: the files read reach %d MiB, the limit of a conversion", name, maxTotalSize>>20)
	}
	return data, nil
}

// include splices the files an include directive names. Relative patterns
// are relative to the directory of the including file, as in keepalived.
func (lx *lexer) include(pos Pos, words []string) {
	if len(words) < 2 {
		lx.errs.add(&Error{Pos: pos, Msg: words[0] + ": missing file name"})
		return
	}
	pattern := words[1]
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(pos.File), pattern)
	}
	if len(lx.stack) > maxIncludeDepth {
		lx.errs.add(&Error{Pos: pos, Msg: fmt.Sprintf("%s %s: includes nested more than %d deep", words[0], words[1], maxIncludeDepth)})
		return
	}
	matches, err := lx.opts.glob(pattern)
	if err != nil {
		lx.errs.add(&Error{Pos: pos, Msg: fmt.Sprintf("%s %s: %v", words[0], words[1], err)})
		return
	}
	if len(matches) == 0 {
		if !strings.ContainsAny(words[1], "*?[") {
			lx.errs.add(&Error{Pos: pos, Msg: fmt.Sprintf("%s %s: no such file (%s)", words[0], words[1], pattern)})
			return
		}
		lx.notes = append(lx.notes, Note{Pos: pos, Msg: fmt.Sprintf("%s %s matches no file", words[0], words[1])})
		return
	}
	slices.Sort(matches)
	for _, m := range matches {
		if slices.Contains(lx.stack, m) {
			lx.errs.add(&Error{Pos: pos, Msg: fmt.Sprintf("%s %s: %s includes itself", words[0], words[1], m)})
			continue
		}
		data, err := lx.readInclude(m)
		if err != nil {
			lx.errs.add(&Error{Pos: pos, Msg: fmt.Sprintf("%s %s: %v", words[0], words[1], err)})
			continue
		}
		lx.lexFile(m, data)
	}
}

// asciiSpaces replaces non-ASCII white space (the no-break spaces of text
// copied from web pages) with ASCII spaces, and reports the first one.
func asciiSpaces(s string) (string, rune, bool) {
	var first rune
	out := strings.Map(func(r rune) rune {
		if r >= utf8.RuneSelf && unicode.IsSpace(r) {
			if first == 0 {
				first = r
			}
			return ' '
		}
		return r
	}, s)
	return out, first, first != 0
}

// decomment removes a comment ("#" or "!" outside double quotes, to the end
// of the line), turns the escapes \# and \! outside quotes into the
// characters, and reports false when a double quote is not closed.
func decomment(s string) (string, bool) {
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '\\' && i+1 < len(s):
			if !inQuote && (s[i+1] == '#' || s[i+1] == '!') {
				b.WriteByte(s[i+1])
			} else {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case !inQuote && (c == '#' || c == '!'):
			return b.String(), true
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), !inQuote
}

// splitBraces cuts a line into statement texts and single "{" / "}" pieces;
// braces inside double quotes are text.
// At most limit pieces are returned (the lexer's budget of items).
func splitBraces(s string, limit int) []string {
	var out []string
	start := 0
	inQuote := false
	for i := 0; i < len(s) && len(out) < limit; i++ {
		switch c := s[i]; {
		case c == '"':
			inQuote = !inQuote
		case !inQuote && (c == '{' || c == '}'):
			if t := s[start:i]; strings.TrimSpace(t) != "" {
				out = append(out, t)
			}
			out = append(out, string(c))
			start = i + 1
		}
	}
	if t := s[start:]; len(out) < limit && strings.TrimSpace(t) != "" {
		out = append(out, t)
	}
	return out
}

const whiteSpace = " \t\f\n\r\v"

// splitWords splits a statement into words as keepalived does: white space
// separates words, and a double-quoted string is one word without its
// quotes.
func splitWords(s string) []string {
	var words []string
	for {
		s = strings.TrimLeft(s, whiteSpace)
		if s == "" {
			return words
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return append(words, s[1:])
			}
			words = append(words, s[1:1+end])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, whiteSpace+`"`)
		if end < 0 {
			return append(words, s)
		}
		words = append(words, s[:end])
		s = s[end:]
	}
}

// buildTree nests the statements into blocks. A "{" belongs to the
// statement just before it, on the same line or an earlier one.
func buildTree(items []item) ([]*Node, errorSet) {
	var errs errorSet
	root := &Node{HasBlock: true}
	stack := []*Node{root}
	var prev *Node // the statement just before the current item, if any
	for _, it := range items {
		cur := stack[len(stack)-1]
		switch it.kind {
		case itemStmt:
			n := &Node{Pos: it.pos, Key: it.words[0], Args: it.words[1:], Text: it.text}
			cur.Block = append(cur.Block, n)
			prev = n
		case itemOpen:
			if prev == nil {
				errs.add(&Error{Pos: it.pos, Msg: `unexpected "{" (no keyword before it)`})
				prev = &Node{Pos: it.pos, Key: "{"}
			}
			if len(stack) > maxDepth {
				errs.add(&Error{Pos: it.pos, Msg: fmt.Sprintf("blocks nested more than %d deep (reading stopped here)", maxDepth)})
				return root.Block, errs
			}
			prev.HasBlock = true
			prev.OpenPos = it.pos
			stack = append(stack, prev)
			prev = nil
		case itemClose:
			if len(stack) == 1 {
				errs.add(&Error{Pos: it.pos, Msg: `unexpected "}" (no block is open)`})
			} else {
				cur.ClosePos = it.pos
				stack = stack[:len(stack)-1]
			}
			prev = nil
		}
	}
	for len(stack) > 1 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		errs.add(&Error{Pos: n.OpenPos, Msg: fmt.Sprintf(`the block of %q opened here is never closed (missing "}")`, n.Key)})
	}
	return root.Block, errs
}
