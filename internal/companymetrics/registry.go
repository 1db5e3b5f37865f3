package companymetrics

import (
	"bufio"
	"io"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Collectors is several collectors registered as one: a scrape sees all of
// them or none. A Registry writes those among them that are families of this
// package itself.
type Collectors []prometheus.Collector

// Describe implements prometheus.Collector.
func (cs Collectors) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (cs Collectors) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}

// Registry is a prometheus.Registerer and Gatherer whose WriteText writes the
// families of this package line by line from their series, and only the
// other collectors through client_golang's Gather. Gather builds an image of
// every series and holds all of them until the text is written: at 5,000
// companies of some 57 series each, tens of MB alive at once, every scrape.
//
// Registration is client_golang's, with its checks: every collector is
// registered on one prometheus.Registry, whose Gather serves Gather.
type Registry struct {
	mu    sync.RWMutex
	all   *prometheus.Registry // every collector
	plain *prometheus.Registry // those WriteText leaves to client_golang
	text  []textFamily         // in registration order
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{all: prometheus.NewRegistry(), plain: prometheus.NewRegistry()}
}

// Register implements prometheus.Registerer.
func (r *Registry) Register(c prometheus.Collector) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.all.Register(c); err != nil {
		return err
	}
	var plain Collectors
	var text []textFamily
	for _, part := range parts(c) {
		if f, ok := part.(textFamily); ok {
			text = append(text, f)
		} else {
			plain = append(plain, part)
		}
	}
	if len(plain) > 0 {
		// The same checks passed on all, which holds more.
		if err := r.plain.Register(plainCollector(c, plain)); err != nil {
			r.all.Unregister(c)
			return err
		}
	}
	r.text = append(r.text, text...)
	return nil
}

// plainCollector is what of c goes to the plain registry: c itself unless it
// is a Collectors (then parts(c) is c alone), so that Unregister finds it.
func plainCollector(c prometheus.Collector, plain Collectors) prometheus.Collector {
	if _, bundle := c.(Collectors); !bundle {
		return c
	}
	return plain
}

// MustRegister implements prometheus.Registerer.
func (r *Registry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister implements prometheus.Registerer.
func (r *Registry) Unregister(c prometheus.Collector) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.all.Unregister(c) {
		return false
	}
	var plain Collectors
	for _, part := range parts(c) {
		if f, ok := part.(textFamily); ok {
			if i := slices.Index(r.text, f); i >= 0 {
				r.text = slices.Delete(r.text, i, i+1)
			}
		} else {
			plain = append(plain, part)
		}
	}
	if len(plain) > 0 {
		r.plain.Unregister(plainCollector(c, plain))
	}
	return true
}

// parts flattens Collectors.
func parts(c prometheus.Collector) []prometheus.Collector {
	cs, ok := c.(Collectors)
	if !ok {
		return []prometheus.Collector{c}
	}
	var out []prometheus.Collector
	for _, part := range cs {
		out = append(out, parts(part)...)
	}
	return out
}

// Gather implements prometheus.Gatherer, with every family: what tests and
// tools that want client_golang's images use. /metrics uses WriteText.
func (r *Registry) Gather() ([]*dto.MetricFamily, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.all.Gather()
}

// WriteText writes every family in the text exposition format (version
// 0.0.4) to w: the plain collectors' through client_golang, then this
// package's families, each from its series. An error of Gather is returned
// before anything is written.
func (r *Registry) WriteText(w io.Writer) error {
	// What is registered is read at once, so that a scrape sees all of a
	// Collectors or none; the writing, which lasts as long as the client
	// reads, holds no lock that Register waits for.
	r.mu.RLock()
	mfs, err := r.plain.Gather()
	text := slices.Clone(r.text)
	r.mu.RUnlock()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
			return err
		}
	}
	for _, f := range text {
		f.writeText(textWriter{bw})
	}
	return bw.Flush()
}
