package poller

import (
	"context"
	"errors"
	"io"
)

// elem is one element of a response: a customer, a record error, or a row read
// lazily (lazy is its raw JSON): one expected to repeat a row handed on
// already, of which only c.Id, c.IdBytes and c.Version were read. handOn
// decodes a lazy row in full only if it is not such a repeat.
type elem struct {
	c    Customer
	rerr *RecordError
	lazy string
}

// decoded is the lazy row e decoded in full.
func (e *elem) decoded() elem {
	d := decoder{s: e.lazy}
	c, err := d.customer()
	if err != nil {
		return elem{rerr: recordError([]byte(e.lazy), err)}
	}
	return elem{c: c}
}

// page is one CustomerFull response, read up to PageSize+1 elements.
type page struct {
	skip  int
	elems []elem
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
// lazy rows, which overlap the page before, are read lazily (see elem).
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
	p.elems = make([]elem, 0, min(limit, 1024))
	for len(p.elems) < limit {
		next := er.nextElem
		if len(p.elems) < lazy {
			next = er.nextLazy
		}
		el, err := next()
		if errors.Is(err, io.EOF) {
			resp.Close()
			return p
		}
		if err != nil {
			resp.Close()
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			p.err = err
			return p
		}
		p.elems = append(p.elems, el)
	}
	p.rest, p.resp = er, resp
	return p
}
