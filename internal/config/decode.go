package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxNodes bounds the work one file may cause (aliases can multiply nodes).
const maxNodes = 1_000_000

// nodeDecoder is implemented (on the pointer) by this package's scalar types
// that parse themselves: enums, Argv, Netmask, StatusRange. The returned
// error's text becomes the message of a file:line:path error.
type nodeDecoder interface {
	decodeYAML(n *yaml.Node) error
}

var (
	nodeDecoderType = reflect.TypeFor[nodeDecoder]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType    = reflect.TypeFor[time.Duration]()
	addrType        = reflect.TypeFor[netip.Addr]()
	prefixType      = reflect.TypeFor[netip.Prefix]()
)

var syntaxErrRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument parses data as exactly one YAML document and returns its root
// node (nil for an empty file). Syntax errors, and a second document, are
// recorded in r.
func parseDocument(r *report, data []byte) *yaml.Node {
	if n := separators(data); n > maxSeparators {
		r.atLine(0, "", "document too large: %d YAML values and lines (counting commas, colons, dashes, brackets and line breaks), more than the %d a configuration may have", n, maxSeparators)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		yamlError(r, err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		r.atLine(extra.Line, "", "multiple YAML documents are not supported (remove the second \"---\")")
		return nil
	case errors.Is(err, io.EOF):
	default:
		yamlError(r, err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// separators counts the bytes that may start a YAML value (flow and block
// indicators, line breaks): at least about one per value, so a bound on
// what the YAML parser's tree of the file may cost, counted before it is
// built.
func separators(data []byte) int {
	n := 0
	for _, c := range data {
		switch c {
		case ',', ':', '-', '[', '{', '\n':
			n++
		}
	}
	return n
}

func yamlError(r *report, err error) {
	msg := err.Error()
	if m := syntaxErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		r.atLine(line, "", "%s", m[2])
		return
	}
	r.atLine(0, "", "%s", strings.TrimPrefix(msg, "yaml: "))
}

// decode stores node n into v (addressable), recording the errors and the
// position of every field under path.
func (r *report) decode(n *yaml.Node, v reflect.Value, path string) {
	if r.count(n) {
		return
	}
	if n.Kind == yaml.AliasNode {
		r.inAlias++
		defer func() { r.inAlias-- }()
		n = resolveAlias(n)
	}
	if n.Anchor != "" {
		r.anchored++
		defer func() { r.anchored-- }()
	}
	if isNull(n) {
		return // same as absent: leave the zero value (defaults apply)
	}
	if r.decodeSelf(n, v, path) || r.decodeValue(n, v, path) {
		return
	}
	r.decodeKind(n, v, path)
}

// decodeSelf decodes the types that parse themselves: this package's
// (nodeDecoder) and other packages' enumerations (encoding.TextUnmarshaler,
// e.g. vrrp.StartState). It reports whether v was one.
func (r *report) decodeSelf(n *yaml.Node, v reflect.Value, path string) bool {
	p := reflect.PointerTo(v.Type())
	switch {
	case p.Implements(nodeDecoderType):
		if r.charge(n, len(n.Content), false) {
			return true
		}
		if err := v.Addr().Interface().(nodeDecoder).decodeYAML(n); err != nil {
			r.fail(n, path, "%s", err)
		}
	case v.Type() != addrType && v.Type() != prefixType && p.Implements(textType):
		if s, ok := r.scalar(n, path, "a string"); ok {
			if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
				r.fail(n, path, "%s", err)
			}
		}
	default:
		return false
	}
	return true
}

// decodeValue decodes the value types written as one scalar: durations,
// addresses and prefixes. It reports whether v was one.
func (r *report) decodeValue(n *yaml.Node, v reflect.Value, path string) bool {
	switch v.Type() {
	case durationType:
		scalarAs(r, n, v, path, "a duration", parseDuration)
	case addrType:
		scalarAs(r, n, v, path, "an IP address", parseAddr)
	case prefixType:
		scalarAs(r, n, v, path, "an IP address or prefix", parsePrefix)
	default:
		return false
	}
	return true
}

// scalarAs parses scalar n with parse into v (of type T).
func scalarAs[T any](r *report, n *yaml.Node, v reflect.Value, path, want string, parse func(string) (T, error)) {
	s, ok := r.scalar(n, path, want)
	if !ok {
		return
	}
	x, err := parse(s)
	if err != nil {
		r.fail(n, path, "%s", err)
		return
	}
	v.Set(reflect.ValueOf(x))
}

// decodeKind decodes by the kind of v: pointers, structs, lists and the
// basic types.
func (r *report) decodeKind(n *yaml.Node, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		r.decode(n, nv.Elem(), path)
		v.Set(nv)
	case reflect.Struct:
		r.decodeStruct(n, v, path)
	case reflect.Slice:
		r.decodeSequence(n, v, path)
	case reflect.String:
		if s, ok := r.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		r.decodeBool(n, v, path)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		r.decodeInt(n, v, path)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		r.decodeUint(n, v, path)
	case reflect.Float32, reflect.Float64:
		if s, ok := r.scalar(n, path, "a number"); ok {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				r.fail(n, path, "expected a number, got %q", s)
				return
			}
			v.SetFloat(f)
		}
	default:
		// Only reachable if a type in this package uses an unsupported kind.
		panic(fmt.Sprintf("config: cannot decode into %s", v.Type()))
	}
}

func (r *report) decodeBool(n *yaml.Node, v reflect.Value, path string) {
	s, ok := r.scalar(n, path, "true or false")
	if !ok {
		return
	}
	switch s {
	case "true", "True", "TRUE":
		v.SetBool(true)
	case "false", "False", "FALSE":
		v.SetBool(false)
	default:
		r.fail(n, path, "expected true or false, got %q", s)
	}
}

func (r *report) decodeInt(n *yaml.Node, v reflect.Value, path string) {
	s, ok := r.scalar(n, path, "an integer")
	if !ok {
		return
	}
	i, err := parseInt(s)
	if err != nil {
		r.fail(n, path, "expected an integer, got %q", s)
		return
	}
	if v.OverflowInt(i) {
		bits := v.Type().Bits()
		r.fail(n, path, "%s is out of range (%d..%d)", s, int64(-1)<<(bits-1), int64(1)<<(bits-1)-1)
		return
	}
	v.SetInt(i)
}

func (r *report) decodeUint(n *yaml.Node, v reflect.Value, path string) {
	s, ok := r.scalar(n, path, "an integer")
	if !ok {
		return
	}
	i, err := parseInt(s)
	if err != nil {
		r.fail(n, path, "expected an integer, got %q", s)
		return
	}
	if i < 0 || v.OverflowUint(uint64(i)) {
		r.fail(n, path, "%s is out of range (0..%d)", s, uint64(1)<<v.Type().Bits()-1)
		return
	}
	v.SetUint(uint64(i))
}

// fail records that the value at path could not be decoded.
func (r *report) fail(n *yaml.Node, path, format string, args ...any) {
	r.bad[path] = true
	r.atLine(n.Line, path, format, args...)
}

// scalar returns n's text if n is a scalar, else records a type error.
func (r *report) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		r.fail(n, path, "expected %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

func (r *report) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		r.fail(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	fields := r.fieldsOf(v.Type())
	r.eachPair(n, path, func(k, val *yaml.Node) {
		f, ok := fields[k.Value]
		if !ok {
			r.atLine(k.Line, path, "unknown field %q", k.Value)
			return
		}
		fp := joinPath(path, k.Value)
		if r.streams(k, fp) {
			r.decodeStreamed(n, k, val, v.FieldByIndex(f.index), fp)
			return
		}
		if isNull(resolveAlias(val)) {
			return // "key:" with no value is the same as no key
		}
		r.setLine(fp, k.Line)
		fv := v.FieldByIndex(f.index)
		switch {
		case f.named:
			r.decodeNamed(val, fv, fp)
		case f.argv:
			r.decode(val, fv.Addr().Convert(reflect.TypeFor[*Argv]()).Elem(), fp)
		default:
			r.decode(val, fv, fp)
		}
	})
}

// eachPair calls fn for each key/value of mapping n, rejecting non-scalar,
// duplicate and merge ("<<") keys.
func (r *report) eachPair(n *yaml.Node, path string, fn func(k, v *yaml.Node)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if r.charge(k, 1, false) {
			return
		}
		for k.Kind == yaml.AliasNode {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			r.atLine(k.Line, path, "expected a string key, got %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			r.atLine(k.Line, path, "merge keys (<<) are not supported")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			r.atLine(k.Line, path, "duplicate key %q (first at line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		fn(k, val)
	}
}

func (r *report) decodeSequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		r.fail(n, path, "expected a list, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		if r.tooLarge() {
			return
		}
		ip := itemPath(path, i)
		r.setLine(ip, item.Line)
		ev := reflect.New(v.Type().Elem()).Elem()
		r.decode(item, ev, ip)
		out = reflect.Append(out, ev)
		if r.inAlias == 0 && r.anchored == 0 {
			// Decoded once and for all (no alias can lead here again): the
			// item's tree is garbage from now on. The YAML tree is some 20
			// times the file's size (35 MB for 1,000 x 10), so releasing it
			// item by item keeps the parse's peak near the result's size.
			n.Content[i] = nil
		}
	}
	v.Set(out)
}

// decodeNamed decodes a mapping name -> struct into a slice of structs whose
// Name field gets the key, keeping the file's order.
func (r *report) decodeNamed(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		r.inAlias++
		defer func() { r.inAlias-- }()
		n = resolveAlias(n)
	}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		r.fail(n, path, "expected a mapping of names, got %s", describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content)/2)
	r.eachPair(n, path, func(k, val *yaml.Node) {
		ip := namedPath(path, k.Value)
		r.setLine(ip, k.Line)
		if k.Value == "" {
			r.atLine(k.Line, path, "empty name")
			return
		}
		ev := reflect.New(v.Type().Elem()).Elem()
		ev.FieldByName("Name").SetString(k.Value)
		r.decode(val, ev, ip)
		out = reflect.Append(out, ev)
	})
	v.Set(out)
}

// fieldsOf is structFields, remembered for the duration of one file.
func (r *report) fieldsOf(t reflect.Type) map[string]fieldInfo {
	f, ok := r.fields[t]
	if !ok {
		f = structFields(t)
		r.fields[t] = f
	}
	return f
}

type fieldInfo struct {
	index []int
	named bool // `yaml:"x,named"`: mapping name -> element with Name field
	argv  bool // `yaml:"x,argv"`: a []string written as a command (Argv)
}

// structFields maps YAML keys to fields of t, flattening `yaml:",inline"`
// embedded structs. Fields tagged "-" or untagged are not decoded.
func structFields(t reflect.Type) map[string]fieldInfo {
	out := map[string]fieldInfo{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("yaml")
		if !ok || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			for k, sub := range structFields(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out[k] = sub
			}
			continue
		}
		out[name] = fieldInfo{index: []int{i}, named: opts == "named", argv: opts == "argv"}
	}
	return out
}

// count counts the value n about to be decoded, and reports true (after
// recording why, once) when the file has cost too much: more than maxNodes
// values, or more than MaxAliasValues through aliases.
func (r *report) count(n *yaml.Node) bool {
	return r.charge(n, 1, n.Kind == yaml.AliasNode)
}

// charge counts k values read at node n (through an alias if alias, or if
// inside one), like count.
func (r *report) charge(n *yaml.Node, k int, alias bool) bool {
	if r.tooLarge() {
		return true
	}
	r.nodes += k
	if r.inAlias > 0 || alias {
		r.aliased += k
	}
	switch {
	case r.nodes >= r.maxNodes:
		r.always(0, "", "document too large (more than %d values, aliases included)", r.maxNodes)
	case r.aliased >= MaxAliasValues:
		r.always(n.Line, "", "aliases expand to more than %d values: write the values out instead (decoding stopped here)", MaxAliasValues)
	}
	return r.tooLarge()
}

// tooLarge reports whether decoding must stop: too many values, or so many
// errors already that the rest would only be counted.
func (r *report) tooLarge() bool {
	return r.nodes >= r.maxNodes || r.aliased >= MaxAliasValues || r.found() >= maxErrorsFound
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// describe names a node in type errors: "a mapping", "a list", or its text.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

// parseInt accepts decimal integers (leading zeros stay decimal) and 0x/0o/0b
// prefixed ones, with an optional sign.
func parseInt(s string) (int64, error) {
	body := strings.TrimLeft(s, "+-")
	if len(body) > 2 && body[0] == '0' && strings.ContainsRune("xXoObB", rune(body[1])) {
		return strconv.ParseInt(s, 0, 64)
	}
	return strconv.ParseInt(s, 10, 64)
}

// parseDuration accepts Go syntax ("1s", "1m30s", "100ms") or a bare number
// of seconds ("1", "0.1"), keepalived's habit. Negative values are refused.
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP") {
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			return 0, fmt.Errorf("invalid duration %q", s)
		case f < 0:
			return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
		case f*float64(time.Second) >= math.MaxInt64:
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		return time.Duration(math.Round(f * float64(time.Second))), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want Go syntax such as 1s, 500ms, 1m30s, or a number of seconds)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return d, nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("invalid IP address %q", s)
	}
	return a.Unmap(), nil // ::ffff:10.0.0.1 is the IPv4 address 10.0.0.1
}

// parsePrefix accepts "addr/len" (host bits kept: it is an address with its
// prefix length, as for `ip addr add`) or a bare address (/32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid IP prefix %q", s)
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, fmt.Errorf("invalid IP prefix %q: write IPv4 prefixes in IPv4 form", s)
		}
		return p, nil
	}
	a, err := parseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
