package poller

import (
	"context"
	"errors"
	"io"
)

// elem is one decoded element of a response: a customer or a record error.
type elem struct {
	c    Customer
	rerr *RecordError
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
// fetching goroutine, lets pages fetched ahead decode in parallel.
func (s *scan) fetchPage(ctx context.Context, skip int) *page {
	p := &page{skip: skip}
	u := customerFullURL(s.c.cfg.BaseURL, s.companyID, s.since, s.c.cfg.PageSize, skip)
	resp, err := s.c.get(ctx, s.companyID, u, s.onAttempt)
	if err != nil {
		p.err = err
		return p
	}
	er := newElemReader(resp.body)
	limit := s.c.cfg.PageSize + 1
	for len(p.elems) < limit {
		raw, err := er.next()
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
		p.elems = append(p.elems, decodeElem(raw))
	}
	p.rest, p.resp = er, resp
	return p
}

func decodeElem(raw []byte) elem {
	c, err := DecodeCustomer(raw)
	if err != nil {
		var re *RecordError
		if errors.As(err, &re) {
			return elem{rerr: re}
		}
		return elem{rerr: &RecordError{Raw: append([]byte(nil), raw...), Reason: "bad_json", Err: err}}
	}
	return elem{c: c}
}
