package config

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// yamlKeys lists the keys the strict decoder accepts in t and below it (the
// `yaml` tags it walks), each with the path it was found at.
func yamlKeys(t reflect.Type, path string, seen map[reflect.Type]bool, out map[string]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	defer delete(seen, t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("yaml")
		if !ok || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") || name == "" {
			yamlKeys(f.Type, path, seen, out)
			continue
		}
		p := name
		if path != "" {
			p = path + "." + name
		}
		if _, ok := out[name]; !ok {
			out[name] = p
		}
		yamlKeys(f.Type, p, seen, out)
	}
}

// TestEveryDecodedKeyIsDocumented: every key the decoder accepts in
// lbd.yaml and lbrs.yaml is named in docs/config.md (a table row or the
// text: "`key`", "`a.key`", or "`key.child`" for a mapping), so the reference, and the man pages made
// from it, cannot miss a key.
func TestEveryDecodedKeyIsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	keys := map[string]string{}
	for _, v := range []any{Director{}, Agent{}} {
		yamlKeys(reflect.TypeOf(v), "", map[reflect.Type]bool{}, keys)
	}
	if len(keys) < 50 {
		t.Fatalf("only %d keys found: %v", len(keys), keys)
	}
	var missing []string
	for name, path := range keys {
		if !strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "."+name+"`") && !strings.Contains(doc, "`"+name+":") &&
			!strings.Contains(doc, "`"+name+".") {
			missing = append(missing, path)
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("docs/config.md does not name the key %s", m)
	}
}
