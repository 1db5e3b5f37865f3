package companymetrics

import (
	"math"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// GaugeOpts names one family of a GaugeSet.
type GaugeOpts struct {
	Name, Help string
	// Counter exposes the family as a counter: a total kept elsewhere and
	// read at scrape time.
	Counter bool
}

// GaugeSet is families with one series for each company, labelled
// company_id, whose values are read at scrape time (from the state a
// component keeps, so that they cannot drift from it): what a collector of
// prometheus.MustNewConstMetric gauges reports, without building the label
// pair of each company anew at every scrape nor checking the values again.
type GaugeSet struct {
	opts  []GaugeOpts
	descs []*prometheus.Desc
	read  func(yield func(company string, values ...float64))
}

// NewGaugeSet returns the families of opts. At each scrape read is called
// once, and calls yield once for each company with one value for each family,
// in the order of opts (it panics on another count).
func NewGaugeSet(opts []GaugeOpts, read func(yield func(company string, values ...float64))) *GaugeSet {
	s := &GaugeSet{opts: slices.Clone(opts), read: read}
	for _, o := range opts {
		s.descs = append(s.descs, prometheus.NewDesc(o.Name, o.Help, []string{"company_id"}, nil))
	}
	return s
}

// Describe implements prometheus.Collector.
func (s *GaugeSet) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range s.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *GaugeSet) Collect(ch chan<- prometheus.Metric) {
	s.read(func(company string, values ...float64) {
		s.check(values)
		labels := singleLabel("company_id", company)
		for i, v := range values {
			ch <- &gauge{desc: s.descs[i], labels: labels, v: v, counter: s.opts[i].Counter}
		}
	})
}

func (s *GaugeSet) check(values []float64) {
	if len(values) != len(s.opts) {
		panic("companymetrics: " + s.opts[0].Name + ": wrong number of values")
	}
}

func (s *GaugeSet) writeText(w textWriter) {
	var companies []string
	var values []float64 // by company, then family
	s.read(func(company string, v ...float64) {
		s.check(v)
		companies = append(companies, company)
		values = append(values, v...)
	})
	if len(companies) == 0 {
		return
	}
	order := make([]int, len(companies))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(companies[a], companies[b]) })
	k := len(s.opts)
	for i, o := range s.opts {
		typ := "gauge"
		if o.Counter {
			typ = "counter"
		}
		writeHeader(w, o.Name, o.Help, typ)
		for _, row := range order {
			writeSample(w, o.Name, "", singleLabel("company_id", companies[row]), nil, values[row*k+i])
		}
	}
}

type gauge struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	v       float64
	counter bool
}

// zeroGauge is the image of every gauge at zero, shared as zeroCounter is.
var zeroGauge = &dto.Gauge{Value: new(float64)}

func (g *gauge) Desc() *prometheus.Desc { return g.desc }

func (g *gauge) Write(m *dto.Metric) error {
	m.Label = g.labels
	zero := g.v == 0 && !math.Signbit(g.v)
	switch {
	case g.counter && zero:
		m.Counter = zeroCounter
	case g.counter:
		m.Counter = &dto.Counter{Value: &g.v}
	case zero:
		m.Gauge = zeroGauge
	default:
		m.Gauge = &dto.Gauge{Value: &g.v}
	}
	return nil
}
