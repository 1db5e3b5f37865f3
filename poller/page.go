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
	url  string
	// cs and info are the elements read, decoded: info[i] goes with cs[i].
	cs   []schema.Customer
	info []elemInfo
	// rest is set when the response held more than PageSize elements: the server
	// ignored paging and this response, still open, is the whole result.
	rest *elemReader
	resp *response
	err  error
	// tries is the page's retry budget, spent by fetchPage and, for a response
	// that ignores paging, by streamAll.
	tries attempts
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
// lazy rows, which overlap the page before, are read lazily (see elemInfo). A
// body that breaks on the way (cut short, reset, not JSON, badly gzipped) is
// requested again from the same place under the page's retry budget: nothing
// of a page is handed on before all of it was read.
func (s *scan) fetchPage(ctx context.Context, skip, lazy int) *page {
	p := &page{skip: skip, url: customerFullURL(s.c.cfg.BaseURL, s.companyID, s.since, s.c.cfg.PageSize, skip)}
	for {
		resp, err := s.c.get(ctx, s.companyID, p.url, &p.tries, s.onAttempt)
		if err != nil {
			p.err = err
			return p
		}
		err = s.readPage(p, resp, lazy)
		if err == nil {
			return p
		}
		if ctx.Err() != nil {
			p.err = ctx.Err()
			return p
		}
		if err := s.c.retryLater(ctx, &p.tries, bodyKind(err), err, s.companyID); err != nil {
			p.err = err
			return p
		}
	}
}

// readPage reads the first PageSize+1 elements of resp into p. It leaves resp
// open in p when there are more (the server ignored paging), else closes it.
func (s *scan) readPage(p *page, resp *response, lazy int) error {
	er := newElemReader(resp.body, resp.size)
	limit := s.c.cfg.PageSize + 1
	if p.cs == nil {
		p.cs, p.info = s.pageMem(min(limit, 1024))
	}
	p.cs, p.info = p.cs[:0], p.info[:0]
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
				return nil
			}
			return err
		}
		p.info = append(p.info, in)
	}
	p.rest, p.resp = er, resp
	return nil
}

// pageMem returns empty slices for a page to decode into, with room for n
// elements: those of a page handed on already when there is one. Pages are
// decoded into a few such slices in turn rather than each into new memory,
// which the garbage collector would otherwise have to reclaim. The slices are
// the client's, not a scan's, so that a scan waiting for its next page holds
// none.
func (s *scan) pageMem(n int) ([]schema.Customer, []elemInfo) {
	c := s.c
	c.spareMu.Lock()
	defer c.spareMu.Unlock()
	for len(c.spareMem) > 0 {
		m := c.spareMem[len(c.spareMem)-1]
		c.spareMem[len(c.spareMem)-1] = pageMem{}
		c.spareMem = c.spareMem[:len(c.spareMem)-1]
		if cap(m.cs) >= n && cap(m.info) >= n {
			return m.cs[:0], m.info[:0]
		}
	}
	return make([]schema.Customer, 0, n), make([]elemInfo, 0, n)
}

// reusePageMem gives back a page's slices once nothing refers to their
// elements: the page's batch was handed on and fn has returned, or the page was
// dropped without being handed on. They are cleared first: a customer left in
// them would keep alive the read buffer its strings point into. The client
// keeps as many as the requests it aims to have under way, and one more.
func (s *scan) reusePageMem(cs []schema.Customer, info []elemInfo) {
	if cap(cs) == 0 {
		return
	}
	clear(cs[:cap(cs)])
	clear(info[:cap(info)])
	keep := s.c.pacer.target() + 1
	c := s.c
	c.spareMu.Lock()
	defer c.spareMu.Unlock()
	if len(c.spareMem) < keep {
		c.spareMem = append(c.spareMem, pageMem{cs: cs, info: info})
	}
}

type pageMem struct {
	cs   []schema.Customer
	info []elemInfo
}
