package poller

import (
	"context"
	"errors"
	"io"

	"github.com/covacdc/covacdc/schema"
)

// elemInfo goes with the Customer an element of a response is decoded into:
// rerr is set when the element could not be decoded (the Customer is zero), and
// lazy (the raw element) for a row read lazily: one expected to repeat a row
// handed on already, of which only Id, IdBytes and Version were read. handOn
// decodes a lazy row in full only if it is not such a repeat.
type elemInfo struct {
	rerr *RecordError
	lazy string
}

// decodeLazy decodes the lazy row of in in full into *c.
func decodeLazy(c *schema.Customer, in *elemInfo) {
	raw := in.lazy
	*c, in.lazy = schema.Customer{}, ""
	d := decoder{s: raw}
	if err := d.customer(c); err != nil {
		in.rerr = recordError(raw, err)
	}
}

// page is one CustomerFull response, read up to PageSize+1 elements.
type page struct {
	skip int
	// cs and info are the elements read, decoded: info[i] goes with cs[i].
	cs   []schema.Customer
	info []elemInfo
	// rest is set when the response held more than PageSize elements: the server
	// ignored paging and this response, still open, is the whole result.
	rest *elemReader
	resp *response
	err  error
}

// close releases a response left open for streaming.
func (p *page) close() {
	if p.resp != nil {
		p.resp.Close()
		p.resp = nil
	}
}

// fetchPage requests the page at skip and decodes it. Decoding here, in the
// fetching goroutine, lets pages fetched ahead decode in parallel. The first
// lazy rows, which overlap the page before, are read lazily (see elemInfo).
func (s *scan) fetchPage(ctx context.Context, skip, lazy int) *page {
	p := &page{skip: skip}
	u := customerFullURL(s.c.cfg.BaseURL, s.companyID, s.since, s.c.cfg.PageSize, skip)
	resp, err := s.c.get(ctx, s.companyID, u, s.onAttempt)
	if err != nil {
		p.err = err
		return p
	}
	er := newElemReader(resp.body)
	limit := s.c.cfg.PageSize + 1
	p.cs, p.info = s.pageMem(min(limit, 1024))
	for len(p.cs) < limit {
		next := er.nextElem
		if len(p.cs) < lazy {
			next = er.nextLazy
		}
		p.cs = append(p.cs, schema.Customer{})
		in, err := next(&p.cs[len(p.cs)-1])
		if err != nil {
			p.cs = p.cs[:len(p.cs)-1]
			resp.Close()
			if errors.Is(err, io.EOF) {
				return p
			}
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			p.err = err
			return p
		}
		p.info = append(p.info, in)
	}
	p.rest, p.resp = er, resp
	return p
}

// pageMem returns empty slices for a page to decode into, with room for n
// elements: those of a page handed on already when there is one. A scan's pages
// are decoded into a few such slices in turn rather than each into new memory,
// which the garbage collector would otherwise have to reclaim.
func (s *scan) pageMem(n int) ([]schema.Customer, []elemInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.spareMem) > 0 {
		m := s.spareMem[len(s.spareMem)-1]
		s.spareMem = s.spareMem[:len(s.spareMem)-1]
		if cap(m.cs) >= n && cap(m.info) >= n {
			return m.cs[:0], m.info[:0]
		}
	}
	return make([]schema.Customer, 0, n), make([]elemInfo, 0, n)
}

// reusePageMem gives back a page's slices once nothing refers to their
// elements: the page's batch was handed on and fn has returned, or the page was
// dropped without being handed on.
func (s *scan) reusePageMem(cs []schema.Customer, info []elemInfo) {
	if cap(cs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.spareMem) < s.c.cfg.FetchAhead+1 {
		s.spareMem = append(s.spareMem, pageMem{cs: cs, info: info})
	}
}

type pageMem struct {
	cs   []schema.Customer
	info []elemInfo
}
