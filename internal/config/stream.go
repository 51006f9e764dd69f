package config

import (
	"bytes"
	"reflect"

	"gopkg.in/yaml.v3"
)

// streamedKey is the top-level list of lbd.yaml decoded item by item: it
// holds nearly all of a large file (1,000 services x 10 real servers).
const streamedKey = "virtual_servers"

// listSplit is lbd.yaml cut so that yaml.v3 never holds the tree of the
// whole file: yaml.v3 parses a document into a tree of some 200 bytes a
// value (36 MB for the 1.7 MB of 1,000 x 10) before anything is decoded.
// The skeleton is the file with the items of the top-level block list
// virtual_servers blanked (their lines kept empty, so every other line
// keeps its number); each item is then parsed and decoded on its own, its
// tree garbage before the next is parsed.
//
// The cut is only made where it cannot change what the file means (see
// splitList); wherever that is uncertain, and whenever any part fails to
// parse, the whole file is parsed as one tree instead (ParseDirector), so
// that the errors, their lines and their order are the tree's.
type listSplit struct {
	data     []byte
	skeleton []byte
	keyLine  int    // the line of "virtual_servers:"
	items    []span // each item's text, in order
	parsed   int    // items parsed so far
	reached  bool   // the key was decoded (decodeStreamed ran)
	failed   bool   // an item did not parse as exactly one list item, or the skeleton disagreed
}

// span is one item: data[start:end], starting on line (1-based).
type span struct{ start, end, line int }

// splitList cuts data as listSplit says, or reports false when the file
// is not of the plain shape the cut is sure for:
//   - no anchor or alias (an alias in one item could name another's anchor),
//     no directive nor document marker ("%", "---", "..." at a line's
//     start), no carriage return;
//   - exactly one line starting "virtual_servers", and it is
//     "virtual_servers:" at column 0 with nothing after it but a comment;
//   - the first line after it that is not blank nor a comment starts the
//     list: "-" at some indentation n, then a space or the line's end.
//
// Every line that starts with "- " (or is "-") at indentation n starts an
// item; the list ends at the first line that is not blank nor a comment,
// indented less than n (or, when n is 0, not starting an item). Whether
// these cuts hold is then proven by parsing: an item that ends inside a
// quoted value or a flow collection does not parse, and a list that ends
// early leaves a value in the skeleton (see parseSplit).
func splitList(data []byte) (*listSplit, bool) {
	if bytes.IndexByte(data, '\r') >= 0 || hasAnchorOrAlias(data) {
		return nil, false
	}
	s := &listSplit{data: data}
	keyEnd := -1 // offset of the line after the key's
	line := 0
	for off := 0; off < len(data); {
		next := lineEnd(data, off)
		line++
		l := data[off:next]
		switch {
		case startsDocumentMarker(l):
			return nil, false
		case bytes.HasPrefix(l, []byte(streamedKey)):
			if keyEnd >= 0 || !isKeyLine(l) {
				return nil, false
			}
			keyEnd, s.keyLine = next, line
		}
		off = next
	}
	if keyEnd < 0 {
		return nil, false
	}
	if !s.cutItems(keyEnd) {
		return nil, false
	}
	return s, true
}

// cutItems finds the items after the key's line (which ends at from) and
// builds the skeleton.
func (s *listSplit) cutItems(from int) bool {
	data := s.data
	indent := -1
	line := s.keyLine
	end := len(data) // where the list ends
	for off := from; off < len(data); {
		next := lineEnd(data, off)
		line++
		l := data[off:next]
		n, blank := indentation(l)
		switch {
		case blank:
		case indent < 0:
			if n < 0 || !isItemStart(l[n:]) {
				return false
			}
			indent = n
			s.items = append(s.items, span{start: off, line: line})
		case n < indent || (n == 0 && indent == 0 && !isItemStart(l)):
			end = next - len(l)
			next = len(data) // stop
		case n == indent && isItemStart(l[n:]):
			s.items = append(s.items, span{start: off, line: line})
		}
		off = next
	}
	if len(s.items) == 0 {
		return false
	}
	for i := range s.items {
		if i+1 < len(s.items) {
			s.items[i].end = s.items[i+1].start
		} else {
			s.items[i].end = end
		}
	}
	first := s.items[0].start
	sk := make([]byte, 0, first+(len(data)-end)+bytes.Count(data[first:end], []byte("\n")))
	sk = append(sk, data[:first]...)
	sk = append(sk, bytes.Repeat([]byte("\n"), bytes.Count(data[first:end], []byte("\n")))...)
	s.skeleton = append(sk, data[end:]...)
	return true
}

// lineEnd returns the offset just after the line starting at off.
func lineEnd(data []byte, off int) int {
	if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(data)
}

// indentation returns how many spaces start l, and whether l is blank or
// a comment. A tab in the indentation makes the line count as indented
// less than any list (so a file with one is never cut inside the list).
func indentation(l []byte) (int, bool) {
	n := 0
	for n < len(l) && l[n] == ' ' {
		n++
	}
	rest := bytes.TrimRight(l[n:], "\n")
	if len(rest) > 0 && rest[0] == '\t' {
		return -1, false
	}
	return n, len(rest) == 0 || rest[0] == '#'
}

// isItemStart reports whether l (from its indentation on) starts a block
// list item: "-" then a space or the end of the line.
func isItemStart(l []byte) bool {
	return len(l) > 0 && l[0] == '-' && (len(l) == 1 || l[1] == ' ' || l[1] == '\n')
}

// isKeyLine reports whether l is "virtual_servers:" with nothing after it
// but spaces and a comment.
func isKeyLine(l []byte) bool {
	rest, ok := bytes.CutPrefix(l, []byte(streamedKey+":"))
	if !ok {
		return false
	}
	rest = bytes.TrimRight(rest, "\n")
	trimmed := bytes.TrimLeft(rest, " ")
	return len(trimmed) == 0 || (trimmed[0] == '#' && len(trimmed) < len(rest))
}

func startsDocumentMarker(l []byte) bool {
	return bytes.HasPrefix(l, []byte("%")) || bytes.HasPrefix(l, []byte("---")) || bytes.HasPrefix(l, []byte("..."))
}

// hasAnchorOrAlias reports whether data may hold a YAML anchor (&name) or
// alias (*name): "&" or "*" where a node may start (at a line's start,
// after white space or a flow indicator). Inside a quoted value it may be
// text: then the file is only not cut, which is safe.
func hasAnchorOrAlias(data []byte) bool {
	for i, c := range data {
		if c != '&' && c != '*' {
			continue
		}
		if i == 0 {
			return true
		}
		switch data[i-1] {
		case ' ', '\t', '\n', '[', '{', ',':
			return true
		}
	}
	return false
}

// item parses item i alone and returns its node, its lines numbered as in
// the file; nil (and failed set) if it is not exactly one list item.
func (s *listSplit) item(i int) *yaml.Node {
	s.parsed = max(s.parsed, i+1)
	it := s.items[i]
	var doc yaml.Node
	if err := yaml.Unmarshal(s.data[it.start:it.end], &doc); err != nil ||
		doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		s.failed = true
		return nil
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode || list.Style&yaml.FlowStyle != 0 || len(list.Content) != 1 {
		s.failed = true
		return nil
	}
	n := list.Content[0]
	shiftLines(n, it.line-1)
	return n
}

// shiftLines adds d to the line of every node of the tree at n.
func shiftLines(n *yaml.Node, d int) {
	n.Line += d
	for _, c := range n.Content {
		shiftLines(c, d)
	}
}

// complete reports whether the cut held: the skeleton's root mapping had
// the key where the file has it (decodeStreamed ran and agreed), no item
// failed, and the items decoding did not reach (it stopped early, on
// errors) parse too: the tree of the whole file would have given a syntax
// error for them.
func (s *listSplit) complete() bool {
	for i := s.parsed; i < len(s.items) && s.reached && !s.failed; i++ {
		s.item(i)
	}
	return s.reached && !s.failed
}

// decodeStreamed decodes the list, item by item, into v (the slice field
// at path), as decodeSequence does from the tree. key is the key node in
// the skeleton's root mapping m, val its value there, which must be empty
// (else the list ended before the file said, and the cut failed), and m
// must be a block mapping at column 0 (in a flow mapping, "- " is an
// error).
func (r *report) decodeStreamed(m, key, val *yaml.Node, v reflect.Value, path string) {
	s := r.stream
	s.reached = true
	if val.Kind != yaml.ScalarNode || val.Tag != "!!null" || val.Value != "" || val.Style != 0 ||
		key.Column != 1 || m.Style&yaml.FlowStyle != 0 {
		s.failed = true
		return
	}
	r.setLine(path, key.Line)
	if r.count(&yaml.Node{Kind: yaml.SequenceNode, Line: s.items[0].line}) {
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(s.items))
	for i := range s.items {
		if r.tooLarge() {
			return
		}
		item := s.item(i)
		if item == nil {
			return
		}
		ip := itemPath(path, i)
		r.setLine(ip, item.Line)
		ev := reflect.New(v.Type().Elem()).Elem()
		r.decode(item, ev, ip)
		out = reflect.Append(out, ev)
	}
	v.Set(out)
}

// streams reports whether the value of key k (its path fp) is the
// streamed list.
func (r *report) streams(k *yaml.Node, fp string) bool {
	return r.stream != nil && fp == streamedKey && k.Line == r.stream.keyLine && !r.stream.reached
}
