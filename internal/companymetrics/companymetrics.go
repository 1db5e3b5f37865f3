// Package companymetrics holds the Prometheus series covacdc keeps for every
// configured company. client_golang spends about 500 bytes on each series of a
// vector (the series, its labels, its created timestamp, the vector's index)
// and 1 KB on each histogram; with a dozen series a company that is 5 KB a
// company, 25 MB for 5,000 companies that may all be idle. Here a series is a
// number, its label pairs and a map entry: the company_id pair is shared by
// every family of the company, and the other label values (codes, outcomes,
// change types) by every company.
//
// A scrape through client_golang's Gather builds an image of every series and
// keeps all of it until the text is written: with thousands of companies that
// image set the heap's peak. So a Registry writes /metrics for these families
// line by line from their series (WriteText), and leaves only the others to
// Gather. Gather still works for every family (tests and tools use it): there
// the series at zero share one read-only image, a histogram's image is
// allocated in one piece, and a GaugeSet's gauges are built from interned
// label pairs.
//
// The families implement prometheus.Collector and are exposed as
// client_golang's CounterVec and HistogramVec would expose them, less the
// created timestamps (which only the protobuf format carries); each series is
// itself a prometheus.Collector holding one metric, as
// prometheus/testutil.ToFloat64 expects.
package companymetrics

import (
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// family is what counters and histograms share: the description, the label
// names, and the series by label values.
type family[S any] struct {
	desc   *prometheus.Desc
	name   string // the desc's, which it does not give
	help   string
	labels []string
	mu     sync.RWMutex
	series map[string]*S
	zero   zeros
	newS   func(pairs []*dto.LabelPair) *S
}

func newFamily[S any](name, help string, labels []string, newS func([]*dto.LabelPair) *S) family[S] {
	return family[S]{
		desc:   prometheus.NewDesc(name, help, labels, nil),
		name:   name,
		help:   help,
		labels: slices.Clone(labels),
		series: make(map[string]*S),
		newS:   newS,
	}
}

// with returns the series of the label values, made at zero when missing. It
// panics when the number of values is not the number of labels, as
// client_golang's WithLabelValues does.
func (f *family[S]) with(values []string) *S {
	if len(values) != len(f.labels) {
		panic("companymetrics: " + f.desc.String() + ": wrong number of label values")
	}
	key := strings.Join(values, "\xff")
	f.mu.RLock()
	s := f.series[key]
	f.mu.RUnlock()
	if s != nil {
		return s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s = f.series[key]; s == nil {
		s = f.newS(labelPairs(f.labels, values))
		f.series[key] = s
		f.made(values)
	}
	return s
}

// each calls fn with every series, under the read lock.
func (f *family[S]) each(fn func(*S)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, s := range f.series {
		fn(s)
	}
}

// pairs interns label pairs: a pair is read-only once made (client_golang
// shares a series' pairs between scrapes in the same way), so one
// company_id="17" serves every family of company 17.
var pairs struct {
	sync.Mutex
	m map[[2]string]*dto.LabelPair
}

func pair(name, value string) *dto.LabelPair {
	pairs.Lock()
	defer pairs.Unlock()
	if pairs.m == nil {
		pairs.m = make(map[[2]string]*dto.LabelPair)
	}
	k := [2]string{name, value}
	p := pairs.m[k]
	if p == nil {
		// Copies: taking the parameters' addresses would move them to the
		// heap on every call, not only on this one.
		n, v := name, value
		p = &dto.LabelPair{Name: &n, Value: &v}
		pairs.m[k] = p
	}
	return p
}

// labelPairs returns a series' label pairs, sorted by name as the exposition
// wants them.
func labelPairs(names, values []string) []*dto.LabelPair {
	out := make([]*dto.LabelPair, len(names))
	for i := range names {
		out[i] = pair(names[i], values[i])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

// CounterVec is a family of counters labelled by company (and maybe more).
type CounterVec struct{ f family[Counter] }

// NewCounterVec returns a counter family named and described by opts (only
// Name and Help are used) with the given label names.
func NewCounterVec(opts prometheus.CounterOpts, labels []string) *CounterVec {
	v := &CounterVec{}
	v.f = newFamily(opts.Name, opts.Help, labels, func(p []*dto.LabelPair) *Counter {
		return &Counter{desc: v.f.desc, labels: p}
	})
	return v
}

// WithLabelValues returns the counter of the label values, in the order of the
// label names, made at zero (and so exposed) when missing.
func (v *CounterVec) WithLabelValues(values ...string) *Counter { return v.f.with(values) }

// Describe implements prometheus.Collector.
func (v *CounterVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.f.desc }

// Collect implements prometheus.Collector: one metric a series.
func (v *CounterVec) Collect(ch chan<- prometheus.Metric) {
	v.f.each(func(c *Counter) { ch <- c })
	v.f.eachZero(func(labels []*dto.LabelPair) { ch <- &Counter{desc: v.f.desc, labels: labels} })
}

// Zero makes the company's series exist at zero, one for each of others as
// the value of the family's second label (none for a family labelled by
// company alone), where they do not exist yet: they are exposed from the
// first scrape, so that rate() and increase() see their first rise, and
// until a value is counted in them they cost a bit each, not a series. The
// family's first label must be the company's.
func (v *CounterVec) Zero(company string, others ...string) { v.f.zeroAt(company, others) }

// Counter is one series of a CounterVec. It is a prometheus.Metric and a
// prometheus.Collector of itself.
type Counter struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	bits   atomic.Uint64 // math.Float64bits of the value
}

// Inc adds 1.
func (c *Counter) Inc() { c.Add(1) }

// Add adds v, which must not be negative (it panics, as client_golang does).
func (c *Counter) Add(v float64) {
	if v < 0 {
		panic("companymetrics: counter cannot decrease in value")
	}
	for {
		old := c.bits.Load()
		if c.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Desc implements prometheus.Metric.
func (c *Counter) Desc() *prometheus.Desc { return c.desc }

// zeroCounter is the image of every counter at zero, shared: most of a
// company's counters (a dead letter count for every reason) stay at zero, and
// a scrape that built an image for each would allocate for all of them. Like
// the label pairs, it is read-only.
var zeroCounter = &dto.Counter{Value: new(float64)}

// Write implements prometheus.Metric.
func (c *Counter) Write(m *dto.Metric) error {
	m.Label = c.labels
	bits := c.bits.Load()
	if bits == 0 {
		m.Counter = zeroCounter
		return nil
	}
	v := math.Float64frombits(bits)
	m.Counter = &dto.Counter{Value: &v}
	return nil
}

// Describe implements prometheus.Collector.
func (c *Counter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *Counter) Collect(ch chan<- prometheus.Metric) { ch <- c }

// HistogramVec is a family of histograms labelled by company (and maybe more).
type HistogramVec struct {
	f     family[Histogram]
	upper []float64      // the buckets' upper bounds
	empty *dto.Histogram // the image of a series without observation
}

// NewHistogramVec returns a histogram family named, described and bucketed by
// opts (Name, Help and Buckets, which must be sorted) with the given label
// names.
func NewHistogramVec(opts prometheus.HistogramOpts, labels []string) *HistogramVec {
	upper := slices.Clone(opts.Buckets)
	if len(upper) == 0 {
		upper = slices.Clone(prometheus.DefBuckets)
	}
	if !slices.IsSorted(upper) {
		panic("companymetrics: " + opts.Name + ": buckets not sorted")
	}
	// The image of every series without observation, shared as zeroCounter is:
	// a company's histogram of errors stays empty, and so does every
	// histogram until the company's first scan ends.
	var zero uint64
	empty := &dto.Histogram{SampleCount: &zero, SampleSum: new(float64), Bucket: make([]*dto.Bucket, len(upper))}
	for i := range upper {
		empty.Bucket[i] = &dto.Bucket{CumulativeCount: &zero, UpperBound: &upper[i]}
	}
	v := &HistogramVec{upper: upper, empty: empty}
	v.f = newFamily(opts.Name, opts.Help, labels, func(p []*dto.LabelPair) *Histogram {
		return &Histogram{desc: v.f.desc, labels: p, upper: upper, counts: make([]uint64, len(upper)), empty: empty}
	})
	return v
}

// WithLabelValues returns the histogram of the label values, in the order of
// the label names, made empty (and so exposed) when missing.
func (v *HistogramVec) WithLabelValues(values ...string) *Histogram { return v.f.with(values) }

// Describe implements prometheus.Collector.
func (v *HistogramVec) Describe(ch chan<- *prometheus.Desc) { ch <- v.f.desc }

// Collect implements prometheus.Collector: one metric a series.
func (v *HistogramVec) Collect(ch chan<- prometheus.Metric) {
	v.f.each(func(h *Histogram) { ch <- h })
	v.f.eachZero(func(labels []*dto.LabelPair) { ch <- v.zeroSeries(labels) })
}

// zeroSeries is a histogram without observation, for a scrape.
func (v *HistogramVec) zeroSeries(labels []*dto.LabelPair) *Histogram {
	return &Histogram{desc: v.f.desc, labels: labels, upper: v.upper, empty: v.empty}
}

// Zero makes the company's series exist without observation, as
// CounterVec.Zero does.
func (v *HistogramVec) Zero(company string, others ...string) { v.f.zeroAt(company, others) }

// Histogram is one series of a HistogramVec. It is a prometheus.Metric and a
// prometheus.Collector of itself.
type Histogram struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	upper  []float64      // shared by the family's series
	empty  *dto.Histogram // the image without observation, shared likewise
	mu     sync.Mutex
	counts []uint64 // by bucket, not cumulative
	count  uint64
	sum    float64
}

// Observe adds one observation.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.upper, v) // the first bucket whose bound is >= v
	h.mu.Lock()
	defer h.mu.Unlock()
	if i < len(h.counts) {
		h.counts[i]++
	}
	h.count++
	h.sum += v
}

// Desc implements prometheus.Metric.
func (h *Histogram) Desc() *prometheus.Desc { return h.desc }

// histogramImage is what one scrape of a histogram allocates, in one piece
// rather than one allocation a bucket.
type histogramImage struct {
	h      dto.Histogram
	count  uint64
	sum    float64
	cum    []uint64
	bucket []dto.Bucket
	ptrs   []*dto.Bucket
}

// Write implements prometheus.Metric.
func (h *Histogram) Write(m *dto.Metric) error {
	m.Label = h.labels
	h.mu.Lock()
	if h.count == 0 {
		h.mu.Unlock()
		m.Histogram = h.empty
		return nil
	}
	k := len(h.counts)
	img := &histogramImage{count: h.count, sum: h.sum, cum: make([]uint64, k)}
	var n uint64
	for i, c := range h.counts {
		n += c
		img.cum[i] = n
	}
	h.mu.Unlock()
	img.bucket, img.ptrs = make([]dto.Bucket, k), make([]*dto.Bucket, k)
	for i := range k {
		img.bucket[i].CumulativeCount, img.bucket[i].UpperBound = &img.cum[i], &h.upper[i]
		img.ptrs[i] = &img.bucket[i]
	}
	img.h.SampleCount, img.h.SampleSum, img.h.Bucket = &img.count, &img.sum, img.ptrs
	m.Histogram = &img.h
	return nil
}

// Describe implements prometheus.Collector.
func (h *Histogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector.
func (h *Histogram) Collect(ch chan<- prometheus.Metric) { ch <- h }

// singles interns the label pair lists of one pair, as pairs interns pairs.
var singles struct {
	sync.Mutex
	m map[[2]string][]*dto.LabelPair
}

func singleLabel(name, value string) []*dto.LabelPair {
	singles.Lock()
	defer singles.Unlock()
	if singles.m == nil {
		singles.m = make(map[[2]string][]*dto.LabelPair)
	}
	k := [2]string{name, value}
	l := singles.m[k]
	if l == nil {
		l = []*dto.LabelPair{pair(name, value)}
		singles.m[k] = l
	}
	return l
}
