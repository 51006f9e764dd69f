package manpage

import (
	"fmt"
	"strings"
)

// Section cuts the part of a Markdown document from the heading line
// start (exact, "## lbd.yaml") to the next heading of the same or a higher
// level, or to the end; ok is false without that heading.
func Section(md, start string) (string, bool) {
	lines := strings.Split(md, "\n")
	level := len(start) - len(strings.TrimLeft(start, "#"))
	for i, l := range lines {
		if l != start {
			continue
		}
		end := len(lines)
		for j := i + 1; j < len(lines); j++ {
			if h := headingLevel(lines[j]); h > 0 && h <= level {
				end = j
				break
			}
		}
		return strings.Join(lines[i+1:end], "\n"), true
	}
	return "", false
}

func headingLevel(l string) int {
	n := len(l) - len(strings.TrimLeft(l, "#"))
	if n == 0 || n > 6 || !strings.HasPrefix(l[n:], " ") {
		return 0
	}
	return n
}

// Markdown turns the subset of Markdown docs/config.md is written in into
// roff: headings (## a section, ### a subsection), paragraphs, "- " lists,
// fenced code, and tables, each row of which becomes a tagged paragraph
// headed by its first cell (the key) with the other cells named by the
// header row. Fenced code inside a list item is indented with it.
func Markdown(md string) string {
	var b strings.Builder
	var header []string
	para := false
	code := false
	for _, raw := range strings.Split(md, "\n") {
		l := strings.TrimRight(raw, " ")
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "```"):
			if code {
				b.WriteString(".fi\n.RE\n")
			} else {
				b.WriteString(".PP\n.RS\n.nf\n")
			}
			code, para = !code, false
		case code:
			b.WriteString(line(l) + "\n")
		case t == "" || t == "---":
			para, header = false, nil
		case headingLevel(t) == 2:
			fmt.Fprintf(&b, ".SH %s\n", strings.ToUpper(inline(strings.TrimSpace(t[2:]))))
			para = false
		case headingLevel(t) >= 3:
			fmt.Fprintf(&b, ".SS %s\n", inline(strings.TrimSpace(strings.TrimLeft(t, "#"))))
			para = false
		case strings.HasPrefix(t, "|"):
			header = tableRow(&b, header, t)
			para = false
		case strings.HasPrefix(t, "- "):
			fmt.Fprintf(&b, ".IP \\(bu 2\n%s\n", inline(t[2:]))
			para = true
		default:
			if !para {
				b.WriteString(".PP\n")
				para = true
			}
			b.WriteString(inline(t) + "\n")
		}
	}
	return b.String()
}

// tableRow writes one row of a table; header is the table's header row, nil
// before it is read. It returns the header.
func tableRow(b *strings.Builder, header []string, row string) []string {
	cells := cellsOf(row)
	if header == nil {
		return cells
	}
	if strings.Trim(strings.Join(cells, ""), "-: ") == "" {
		return header // the |---|---| line
	}
	fmt.Fprintf(b, ".TP\n%s\n", inline(cells[0]))
	var parts []string
	for i, c := range cells[1:] {
		if c == "" || c == "—" {
			continue
		}
		name := ""
		if i+1 < len(header) {
			name = header[i+1]
		}
		parts = append(parts, fmt.Sprintf("%s: %s", name, c))
	}
	b.WriteString(inline(strings.Join(parts, "; ")) + "\n")
	return header
}

// cellsOf splits a table row at the pipes that are not escaped (\|) or in
// code spans.
func cellsOf(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(strings.TrimSuffix(row, "|"), "|")
	var cells []string
	var cur strings.Builder
	inCode := false
	for i := 0; i < len(row); i++ {
		c := row[i]
		switch {
		case c == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case c == '`':
			inCode = !inCode
			cur.WriteByte(c)
		case c == '|' && !inCode:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// TableKeys lists the first cell of each table row in md (the keys the
// configuration reference lists), without the backquotes, in order.
func TableKeys(md string) []string {
	var keys []string
	var header []string
	for _, l := range strings.Split(md, "\n") {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "|") {
			header = nil
			continue
		}
		cells := cellsOf(t)
		switch {
		case header == nil:
			header = cells
		case strings.Trim(strings.Join(cells, ""), "-: ") == "":
		default:
			keys = append(keys, strings.Trim(cells[0], "`"))
		}
	}
	return keys
}
