package kaconf

import (
	"fmt"
	"strconv"
	"strings"
)

// loop expands "~SEQ(VAR, START, STEP, END) REST" (also (VAR, START, END)
// and (VAR, END)), "~SEQx(...)" (values in hex) and "~LST(VAR, V1, V2...)"
// or "~LST({A, B}, {1, 2}, {3, 4})": REST once per value, the variables set
// to it, as keepalived.conf(5) describes.
func (p *preproc) loop(pos Pos, t string) ([]qitem, error) {
	open := strings.IndexByte(t, '(')
	end := strings.IndexByte(t, ')')
	if open < 0 || end < open {
		return nil, fmt.Errorf("%s: missing ( or )", t)
	}
	head, inner, rest := strings.TrimSpace(t[:open]), t[open+1:end], strings.TrimLeft(t[end+1:], whiteSpace)
	var sets [][][2]string
	var err error
	switch head {
	case "~SEQ", "~SEQx":
		sets, err = p.seqValues(pos, inner, head == "~SEQx")
	case "~LST":
		sets, err = lstValues(inner)
	default:
		return nil, fmt.Errorf("%s: not ~SEQ, ~SEQx or ~LST", head)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.TrimSpace(t[:end+1]), err)
	}
	items := make([]qitem, len(sets))
	for i, set := range sets {
		items[i] = qitem{text: rest, set: set}
	}
	return items, nil
}

// seqValues reads ~SEQ's variable and numbers (parameters substituted)
// and lists its values.
func (p *preproc) seqValues(pos Pos, inner string, hex bool) ([][][2]string, error) {
	name, nums, ok := strings.Cut(inner, ",")
	name = strings.TrimSpace(name)
	if !ok || !validParamName(name) {
		return nil, fmt.Errorf("want (VARIABLE, [START, [STEP,]] END)")
	}
	nums, extra, err := p.substitute(pos, nums)
	if err != nil || len(extra) > 0 {
		return nil, fmt.Errorf("its numbers: a multi-line parameter or %v", err)
	}
	var n []int64
	for _, f := range strings.Split(nums, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(f), 0, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", strings.TrimSpace(f))
		}
		n = append(n, v)
	}
	start, step, last, err := seqBounds(n)
	if err != nil {
		return nil, err
	}
	if hex && (start < 0 || last < 0) {
		return nil, fmt.Errorf("~SEQx takes positive numbers only")
	}
	var sets [][][2]string
	for v := start; step > 0 && v <= last || step < 0 && v >= last; v += step {
		if len(sets) >= maxItems {
			return nil, fmt.Errorf("more than %d values", maxItems)
		}
		s := strconv.FormatInt(v, 10)
		if hex {
			s = strconv.FormatInt(v, 16)
		}
		sets = append(sets, [][2]string{{name, s}})
	}
	return sets, nil
}

// seqBounds applies ~SEQ's defaults: (END) counts from 1 (or -1), (START,
// END) steps by 1 or -1; a step that never reaches END is an error.
func seqBounds(n []int64) (start, step, last int64, err error) {
	sign := func(b bool) int64 {
		if b {
			return 1
		}
		return -1
	}
	switch len(n) {
	case 1:
		return sign(n[0] >= 0), sign(n[0] >= 1), n[0], nil
	case 2:
		return n[0], sign(n[0] <= n[1]), n[1], nil
	case 3:
		if n[1] == 0 || n[0] < n[2] && n[1] < 0 || n[0] > n[2] && n[1] > 0 {
			return 0, 0, 0, fmt.Errorf("the step never reaches the end")
		}
		return n[0], n[1], n[2], nil
	}
	return 0, 0, 0, fmt.Errorf("want (VARIABLE, [START, [STEP,]] END)")
}

// lstValues reads ~LST's variables and value sets; missing values are
// empty.
func lstValues(inner string) ([][][2]string, error) {
	groups := splitLst(inner)
	if len(groups) < 2 {
		return nil, fmt.Errorf("want (VARIABLE, VALUE...) or ({VARIABLES}, {VALUES}...)")
	}
	vars := groups[0]
	for _, v := range vars {
		if !validParamName(v) {
			return nil, fmt.Errorf("%q is not a parameter name", v)
		}
	}
	var sets [][][2]string
	for _, g := range groups[1:] {
		if len(g) > len(vars) {
			return nil, fmt.Errorf("more values than variables in %q", strings.Join(g, ","))
		}
		set := make([][2]string, len(vars))
		for i, v := range vars {
			set[i][0] = v
			if i < len(g) {
				set[i][1] = g[i]
			}
		}
		sets = append(sets, set)
	}
	return sets, nil
}

// splitLst splits "A, {B, C}, D" into [[A] [B C] [D]].
func splitLst(s string) [][]string {
	var out [][]string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimLeft(strings.TrimSpace(s), ",") {
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "{") {
			end := strings.IndexByte(s, '}')
			if end < 0 {
				end = len(s)
			}
			var g []string
			for _, f := range strings.Split(s[1:end], ",") {
				g = append(g, strings.TrimSpace(f))
			}
			out = append(out, g)
			s = s[min(end+1, len(s)):]
			continue
		}
		f, r, _ := strings.Cut(s, ",")
		out = append(out, []string{strings.TrimSpace(f)})
		s = r
	}
	return out
}
