package companymetrics

import (
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// zeros are the series a family exposes at zero before anything is counted
// in them: a bit each, not a series each. Every company's series exist from
// the first scrape (a dead-letter count for each reason, an event count for
// each change type, a scan-duration histogram for each outcome), and most
// of them stay at zero for ever; as series they were about 2 KB a company,
// as bits they are one map entry a company and family.
//
// A family with zeros is labelled by company first and by at most one other
// label; a series that gets a value of its own leaves the zeros.
type zeros struct {
	others []string          // values of the second label, by bit
	by     map[string]uint64 // company → the bits of its series at zero
}

// maxOthers is how many values of the second label a family's zeros can
// stand for.
const maxOthers = 64

// zeroAt makes the series of company with each of others as the value of
// the second label (or, for a family labelled by company alone, the
// company's series) exist at zero, where they do not exist yet.
func (f *family[S]) zeroAt(company string, others []string) {
	if len(f.labels) > 2 || (len(f.labels) == 1) != (len(others) == 0) {
		panic("companymetrics: " + f.name + ": zero series need the company label first and values for the one other label, if any")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	bits := f.zero.by[company]
	if len(others) == 0 && f.series[company] == nil {
		bits |= 1
	}
	for _, o := range others {
		if f.series[company+"\xff"+o] != nil {
			continue
		}
		i := slices.Index(f.zero.others, o)
		if i < 0 {
			if len(f.zero.others) == maxOthers {
				panic("companymetrics: " + f.name + ": too many label values at zero")
			}
			f.zero.others = append(f.zero.others, o)
			i = len(f.zero.others) - 1
		}
		bits |= 1 << i
	}
	if bits == 0 {
		return
	}
	if f.zero.by == nil {
		f.zero.by = make(map[string]uint64)
	}
	f.zero.by[company] = bits
}

// made takes the series of values, just made, out of the zeros. f.mu is held.
func (f *family[S]) made(values []string) {
	bits, ok := f.zero.by[values[0]]
	if !ok || len(values) > 2 {
		return
	}
	bit := uint64(1)
	if len(values) == 2 {
		i := slices.Index(f.zero.others, values[1])
		if i < 0 {
			return
		}
		bit = 1 << i
	}
	if bits &^= bit; bits == 0 {
		delete(f.zero.by, values[0])
	} else {
		f.zero.by[values[0]] = bits
	}
}

// eachZero calls fn with the label pairs of every series at zero, sorted by
// name, under the read lock. The pairs are fn's to keep.
func (f *family[S]) eachZero(fn func(labels []*dto.LabelPair)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for company, bits := range f.zero.by {
		f.zeroLabels(company, bits, func(labels [2]*dto.LabelPair, n int) { fn(slices.Clone(labels[:n])) })
	}
}

// zeroLabels calls fn with the label pairs (the first n of labels, sorted by
// name) of each series of company at zero.
func (f *family[S]) zeroLabels(company string, bits uint64, fn func(labels [2]*dto.LabelPair, n int)) {
	c := pair(f.labels[0], company)
	if len(f.labels) == 1 {
		fn([2]*dto.LabelPair{c}, 1)
		return
	}
	for i, o := range f.zero.others {
		if bits&(1<<i) == 0 {
			continue
		}
		p := [2]*dto.LabelPair{c, pair(f.labels[1], o)}
		if f.labels[1] < f.labels[0] {
			p[0], p[1] = p[1], p[0]
		}
		fn(p, 2)
	}
}

// entry is one series as a scrape writes it: its label pairs, sorted by name,
// and the series, nil for one at zero.
type entry[S any] struct {
	labels []*dto.LabelPair
	s      *S
}

// entries returns the family's series, those at zero among them, in the
// order Gather sorts them: by their label values, the labels taken in name
// order.
func (f *family[S]) entries(labelsOf func(*S) []*dto.LabelPair) []entry[S] {
	f.mu.RLock()
	n := len(f.series)
	for _, bits := range f.zero.by {
		n += popcount(bits)
	}
	out := make([]entry[S], 0, n)
	for _, s := range f.series {
		out = append(out, entry[S]{labels: labelsOf(s), s: s})
	}
	if len(f.zero.by) > 0 {
		pairs := make([]*dto.LabelPair, 0, 2*(n-len(f.series)))
		for company, bits := range f.zero.by {
			f.zeroLabels(company, bits, func(labels [2]*dto.LabelPair, k int) {
				pairs = append(pairs, labels[:k]...)
				out = append(out, entry[S]{labels: pairs[len(pairs)-k : len(pairs) : len(pairs)]})
			})
		}
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b entry[S]) int {
		for i := range min(len(a.labels), len(b.labels)) {
			if c := strings.Compare(a.labels[i].GetValue(), b.labels[i].GetValue()); c != 0 {
				return c
			}
		}
		return len(a.labels) - len(b.labels)
	})
	return out
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}
