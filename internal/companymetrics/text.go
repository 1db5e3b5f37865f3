package companymetrics

import (
	"bufio"
	"math"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// textWriter writes exposition text to a bufio.Writer. A failed write sticks
// in the bufio.Writer and is returned by its Flush, which WriteText checks,
// so the writes of a line need not each be checked.
type textWriter struct{ w *bufio.Writer }

func (t textWriter) str(s string)   { _, _ = t.w.WriteString(s) }
func (t textWriter) char(b byte)    { _ = t.w.WriteByte(b) }
func (t textWriter) bytes(b []byte) { _, _ = t.w.Write(b) }

// escaped writes s through an escaper.
func (t textWriter) escaped(r *strings.Replacer, s string) { _, _ = r.WriteString(t.w, s) }

// textFamily is a family that writes its own lines of the text exposition
// format, straight from its series: no image of a series is built, so a
// scrape of thousands of companies holds no more than the writer's buffer.
// It writes nothing when it has no series, as Gather omits such a family.
type textFamily interface {
	writeText(w textWriter)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	valueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// writeHeader writes a family's HELP and TYPE lines.
func writeHeader(w textWriter, name, help, typ string) {
	w.str("# HELP ")
	w.str(name)
	w.char(' ')
	w.escaped(helpEscaper, help)
	w.str("\n# TYPE ")
	w.str(name)
	w.char(' ')
	w.str(typ)
	w.char('\n')
}

// writeSample writes one line: the name and its suffix, the label pairs
// (sorted by name), le when bucket is set, and the value, as expfmt writes them.
func writeSample(w textWriter, name, suffix string, labels []*dto.LabelPair, le *float64, v float64) {
	w.str(name)
	w.str(suffix)
	sep := byte('{')
	for _, p := range labels {
		w.char(sep)
		sep = ','
		w.str(p.GetName())
		w.str(`="`)
		w.escaped(valueEscaper, p.GetValue())
		w.char('"')
	}
	if le != nil {
		w.char(sep)
		sep = ','
		w.str(`le="`)
		writeFloat(w, *le)
		w.char('"')
	}
	if sep == ',' {
		w.char('}')
	}
	w.char(' ')
	writeFloat(w, v)
	w.char('\n')
}

// writeFloat writes v as expfmt does.
func writeFloat(w textWriter, v float64) {
	switch {
	case v == 1:
		w.char('1')
	case v == 0:
		w.char('0')
	case v == -1:
		w.str("-1")
	case math.IsNaN(v):
		w.str("NaN")
	case math.IsInf(v, +1):
		w.str("+Inf")
	case math.IsInf(v, -1):
		w.str("-Inf")
	default:
		w.bytes(strconv.AppendFloat(w.w.AvailableBuffer(), v, 'g', -1, 64))
	}
}

func (v *CounterVec) writeText(w textWriter) {
	series := v.f.entries(func(c *Counter) []*dto.LabelPair { return c.labels })
	if len(series) == 0 {
		return
	}
	writeHeader(w, v.f.name, v.f.help, "counter")
	for _, e := range series {
		var value float64
		if e.s != nil {
			value = math.Float64frombits(e.s.bits.Load())
		}
		writeSample(w, v.f.name, "", e.labels, nil, value)
	}
}

func (v *HistogramVec) writeText(w textWriter) {
	series := v.f.entries(func(h *Histogram) []*dto.LabelPair { return h.labels })
	if len(series) == 0 {
		return
	}
	writeHeader(w, v.f.name, v.f.help, "histogram")
	counts := make([]uint64, len(v.upper))
	for _, e := range series {
		clear(counts)
		var count uint64
		var sum float64
		if h := e.s; h != nil {
			h.mu.Lock()
			copy(counts, h.counts)
			count, sum = h.count, h.sum
			h.mu.Unlock()
		}
		var cum uint64
		for i, c := range counts {
			cum += c
			writeSample(w, v.f.name, "_bucket", e.labels, &v.upper[i], float64(cum))
		}
		if n := len(v.upper); n == 0 || !math.IsInf(v.upper[n-1], +1) {
			inf := math.Inf(+1)
			writeSample(w, v.f.name, "_bucket", e.labels, &inf, float64(count))
		}
		writeSample(w, v.f.name, "_sum", e.labels, nil, sum)
		writeSample(w, v.f.name, "_count", e.labels, nil, float64(count))
	}
}
