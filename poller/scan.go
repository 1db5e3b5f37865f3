package poller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/covacdc/covacdc/schema"
)

// Scan reads every customer of the company modified at or after since and hands
// them to fn in batches, in order; fn returning an error stops the scan with it.
// Scan returns only when the whole result has been handed on, or with an error
// (the scan is then incomplete and its cursor must not move). ErrCredentials and
// a cancelled ctx are returned as they are.
//
// No gaps: each page overlaps the previous one by PageOverlap rows (more once a
// shift was seen). A page is joined only when it holds an anchor: a row handed on
// earlier in this scan with the same Id and Version. An unmodified row keeps its
// place among unmodified rows under any stable order, so the rows before the
// anchor were already handed on and nothing between the pages was skipped. A
// page without an anchor is read again further back (skip 0 is always safe).
// Rows that appear during the scan may be missed; the next scan catches them
// because ScanResult.Next comes from the server's clock at the start of this one.
//
// fn is called from the goroutine that called Scan, one batch at a time; a batch
// holds at most PageSize elements. Once fn returns, the scan decodes later
// pages into the batch's Customers slice: fn must not keep the slice, but may
// keep copies of its Customers, which nothing overwrites (their strings keep
// alive the read buffer they were decoded from, a few hundred KB: copy what is
// kept for long). Batch.Invalid is fn's to keep. Memory: Scan remembers the
// Id and Version of every customer handed on from paged responses (about 40
// bytes each); an unpaged response streams in the memory of one page.
func (c *Client) Scan(ctx context.Context, companyID int64, since time.Time, fn func(context.Context, Batch) error) (ScanResult, error) {
	s := &scan{
		c:          c,
		companyID:  companyID,
		since:      since.UTC(),
		fn:         fn,
		handed:     make(map[[16]byte]int64),
		invalid:    make(map[string]struct{}),
		localStart: c.now(),
	}
	s.res = ScanResult{CompanyID: companyID, ScanID: newScanID(), Since: s.since}
	start := time.Now()
	err := s.run(ctx)

	s.mu.Lock()
	s.res.Requests = s.requests
	s.res.ServerStart = s.serverStart
	s.mu.Unlock()
	if s.res.ServerStart.IsZero() {
		s.res.ServerStart = s.localStart.UTC()
	}
	s.res.Next = s.res.ServerStart.Add(-c.cfg.Lookback)
	if s.res.Next.Before(s.since) {
		s.res.Next = s.since
	}
	log := c.log.With("company_id", companyID, "scan", s.res.ScanID)
	if s.unknownFields > 0 {
		log.Info("cova sent fields this version does not know; they were ignored", "unknown_fields", s.unknownFields)
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return s.res, ctx.Err()
		}
		log.Warn("scan failed", "err", err, "requests", s.res.Requests, "customers", s.res.Customers)
		if errors.Is(err, ErrCredentials) {
			return s.res, err
		}
		return s.res, fmt.Errorf("company %d: %w", companyID, err)
	}
	log.Info("scan done", "since", s.since, "customers", s.res.Customers, "invalid", s.res.Invalid,
		"requests", s.res.Requests, "rereads", s.res.Rereads, "duration", time.Since(start))
	return s.res, nil
}

// scan is the state of one Scan.
type scan struct {
	c          *Client
	companyID  int64
	since      time.Time
	fn         func(context.Context, Batch) error
	res        ScanResult
	localStart time.Time

	handed        map[[16]byte]int64  // highest Version handed on, by Id
	invalid       map[string]struct{} // raw JSON of record errors handed on
	unknownFields int

	mu          sync.Mutex // guards what fetching goroutines update
	requests    int
	serverStart time.Time
	spareMem    []pageMem // see pageMem
}

func newScanID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// onAttempt counts a request and keeps the earliest Date header the server sent:
// the server's clock when the scan began.
func (s *scan) onAttempt(date time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if !date.IsZero() && (s.serverStart.IsZero() || date.Before(s.serverStart)) {
		s.serverStart = date.UTC()
	}
}

// pending is a page being fetched.
type pending struct {
	skip   int
	cancel context.CancelFunc
	done   chan struct{}
	page   *page
}

// run pages through the result. Pages are fetched up to FetchAhead at a time but
// joined strictly in order.
func (s *scan) run(ctx context.Context) error {
	cfg := s.c.cfg
	n := cfg.PageSize
	overlap := cfg.PageOverlap
	maxOverlap := max(overlap, n/2)

	// Workers fetch the pages, rather than a goroutine per page: a page's
	// decoding grows its goroutine's stack, and a worker grows it once. There
	// are never more workers than pages queued at once (at most FetchAhead), so
	// a one-page scan starts one, and sending never blocks.
	work := make(chan func(), cfg.FetchAhead)
	var wg sync.WaitGroup
	workers := 0
	var queue []*pending
	start := func(skip int) {
		pctx, cancel := context.WithCancel(ctx)
		p := &pending{skip: skip, cancel: cancel, done: make(chan struct{})}
		queue = append(queue, p)
		if workers < len(queue) {
			workers++
			wg.Add(1)
			go func() {
				defer wg.Done()
				for fetch := range work {
					fetch()
				}
			}()
		}
		lazy := 0 // rows expected to repeat the end of the page before
		if skip > 0 {
			lazy = overlap
		}
		work <- func() {
			defer close(p.done)
			p.page = s.fetchPage(pctx, skip, lazy)
		}
	}
	// drop cancels every page queued or in flight and waits until it is done.
	drop := func() {
		for _, p := range queue {
			p.cancel()
		}
		for _, p := range queue {
			<-p.done
			p.page.close()
			s.reusePageMem(p.page.cs, p.page.info)
		}
		queue = queue[:0]
	}
	defer func() { drop(); close(work); wg.Wait() }()

	skip := 0
	window := 1 // only one request until the first page proves there is more
	ahead := cfg.FetchAhead
	lastEnd, maxEnd := 0, 0
	fails := 0
	forward := 0
	for {
		for len(queue) < window {
			next := skip
			if len(queue) > 0 {
				next = queue[len(queue)-1].skip + n - overlap
			}
			start(next)
		}
		head := queue[0]
		select {
		case <-head.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		p := head.page
		if p.err != nil {
			return fmt.Errorf("skip %d: %w", p.skip, p.err)
		}
		if p.rest != nil {
			// Paging ignored: this response is the whole result.
			// The open response lives in head's context: cancel it only after.
			queue = queue[1:]
			drop()
			defer head.cancel()
			defer p.close()
			return s.streamAll(ctx, p)
		}
		if p.skip > 0 && !s.anchored(p.cs, p.info) {
			// Rows before this page vanished (moved or reordered) by more than the
			// overlap: read again further back with a wider overlap.
			s.res.Rereads++
			if s.res.Rereads > 16+2*forward {
				return fmt.Errorf("%w: %d re-reads after %d pages", ErrUnstable, s.res.Rereads, forward)
			}
			fails++
			back := overlap << fails
			skip = max(0, lastEnd-back)
			// Pages fetched ahead are served while earlier ones change the result,
			// which multiplies the shift between two joined pages: once the result
			// is seen moving, the rest of the scan reads one page at a time.
			window, ahead = 1, 1
			s.c.log.Debug("page does not join the previous one, reading again", "company_id", s.companyID, "skip", p.skip, "new_skip", skip)
			drop()
			continue
		}
		if fails > 0 {
			overlap = min(maxOverlap, max(overlap, overlap<<fails))
			fails = 0
		}
		if err := s.handOn(ctx, p.cs, p.info, true); err != nil {
			return err
		}
		s.reusePageMem(p.cs, p.info)
		queue = queue[1:]
		head.cancel()
		if len(p.cs) < n {
			return nil // a short page ends the scan
		}
		lastEnd = p.skip + n
		if lastEnd > maxEnd {
			// Only pages that reach further than any before earn re-reads: a
			// result that keeps pulling the scan back cannot keep it forever.
			maxEnd = lastEnd
			forward++
		}
		skip = lastEnd - overlap
		if len(queue) > 0 && queue[0].skip != skip {
			drop() // the overlap grew: pages fetched ahead are at the wrong place
		}
		window = ahead
	}
}

// anchored reports whether the page holds a row handed on earlier in this scan,
// unchanged.
func (s *scan) anchored(cs []schema.Customer, info []elemInfo) bool {
	for i := range cs {
		if info[i].rerr != nil {
			continue
		}
		if v, ok := s.handed[cs[i].IdBytes]; ok && v == cs[i].Version {
			return true
		}
	}
	return false
}

// handOn passes the elements not handed on yet to fn, in batches of at most
// PageSize. With remember false (an unpaged response, which is the whole result
// and needs no anchors) nothing is added to the memory of the scan, so that
// memory stays bounded whatever the response's length.
//
// The batch's customers are cs itself, compacted in place: when the elements
// dropped are a prefix (the rows that repeat the page before), nothing is
// copied. cs must not be used after.
func (s *scan) handOn(ctx context.Context, cs []schema.Customer, info []elemInfo, remember bool) error {
	b := Batch{CompanyID: s.companyID, ScanID: s.res.ScanID}
	first, kept := -1, 0 // the customers handed on are cs[first : first+kept]
	for i := range cs {
		c, in := &cs[i], &info[i]
		if in.lazy != "" {
			if v, ok := s.handed[c.IdBytes]; ok && c.Version <= v {
				continue // the repeat it was expected to be: no need to decode it
			}
			decodeLazy(c, in)
		}
		if in.rerr != nil {
			key := string(in.rerr.Raw)
			if _, dup := s.invalid[key]; dup {
				continue
			}
			if remember {
				s.invalid[key] = struct{}{}
			}
			in.rerr.CompanyID = s.companyID
			b.Invalid = append(b.Invalid, *in.rerr)
			continue
		}
		if v, ok := s.handed[c.IdBytes]; ok && c.Version <= v {
			continue
		}
		if remember {
			s.handed[c.IdBytes] = c.Version
		}
		s.unknownFields += c.UnknownFields
		if first < 0 {
			first = i
		}
		if first+kept != i {
			cs[first+kept] = *c
		}
		kept++
	}
	if kept > 0 {
		b.Customers = cs[first : first+kept : first+kept]
	}
	if len(b.Customers)+len(b.Invalid) == 0 {
		return nil
	}
	s.res.Customers += len(b.Customers)
	s.res.Invalid += len(b.Invalid)
	s.c.metrics.fetched.WithLabelValues(companyLabel(s.companyID)).Add(float64(len(b.Customers)))
	return s.fn(ctx, b)
}

// streamAll hands on an unpaged response: what fetchPage decoded, then the rest
// as it arrives, PageSize elements at a time.
func (s *scan) streamAll(ctx context.Context, p *page) error {
	n := s.c.cfg.PageSize
	cs := append(make([]schema.Customer, 0, n), p.cs[n:]...)
	info := append(make([]elemInfo, 0, n), p.info[n:]...)
	if err := s.handOn(ctx, p.cs[:n], p.info[:n], false); err != nil {
		return err
	}
	for {
		cs = append(cs, schema.Customer{})
		in, err := p.rest.nextElem(&cs[len(cs)-1])
		if errors.Is(err, io.EOF) {
			return s.handOn(ctx, cs[:len(cs)-1], info, false)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("unpaged response: %w", err)
		}
		info = append(info, in)
		if len(cs) == n {
			if err := s.handOn(ctx, cs, info, false); err != nil {
				return err
			}
			cs, info = cs[:0], info[:0]
		}
	}
}
