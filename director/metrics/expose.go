package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ValueType is a metric's Prometheus type.
type ValueType int

// Metric types.
const (
	Counter ValueType = iota
	Gauge
)

func (t ValueType) String() string {
	if t == Gauge {
		return "gauge"
	}
	return "counter"
}

// Desc describes a metric family.
type Desc struct {
	Name, Help string
	Labels     []string
}

// Metric is one sample.
type Metric struct {
	Desc   *Desc
	Type   ValueType
	Value  float64
	Labels []string // values, in Desc.Labels order
}

func newMetric(d *Desc, t ValueType, v float64, labels ...string) Metric {
	if len(labels) != len(d.Labels) {
		panic(fmt.Sprintf("metrics: %s: %d label values for %d labels", d.Name, len(labels), len(d.Labels)))
	}
	return Metric{Desc: d, Type: t, Value: v, Labels: labels}
}

// WriteText collects once and writes the Prometheus text exposition
// format, families sorted by name, samples by labels.
func (c *Collector) WriteText(w io.Writer) error {
	ch := make(chan Metric, 256)
	go func() { c.Collect(ch); close(ch) }()
	fams := map[string][]Metric{}
	for m := range ch {
		fams[m.Desc.Name] = append(fams[m.Desc.Name], m)
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	bw := bufio.NewWriter(w)
	for _, n := range names {
		ms := fams[n]
		d := ms[0].Desc
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", n, escapeHelp(d.Help), n, ms[0].Type)
		lines := make([]string, 0, len(ms))
		for _, m := range ms {
			var sb strings.Builder
			sb.WriteString(n)
			if len(m.Labels) > 0 {
				sb.WriteByte('{')
				for i, l := range d.Labels {
					if i > 0 {
						sb.WriteByte(',')
					}
					sb.WriteString(l)
					sb.WriteString(`="`)
					sb.WriteString(escapeLabel(m.Labels[i]))
					sb.WriteByte('"')
				}
				sb.WriteByte('}')
			}
			sb.WriteByte(' ')
			sb.WriteString(formatValue(m.Value))
			lines = append(lines, sb.String())
		}
		sort.Strings(lines)
		for _, l := range lines {
			bw.WriteString(l)
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }
