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
// a cancelled ctx are returned as they are; another error says where it
// happened ("page at row 270: ...") and, when the page's retries were spent,
// how many attempts failed, of which kinds, and the last cause, which it wraps.
// A failed request or a body that breaks on the way is retried within the
// scan, from the same page (see Config.MaxRetries).
//
// No gaps: each page overlaps the previous one by PageOverlap rows (more, for
// the rest of the scan, once a shift was seen). A page is joined only when it holds an anchor: a row handed on
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
//
// Pages are requested ahead, as many at once as the scan's share of the
// requests the client aims to keep under way (see Concurrency), within
// FetchAhead when it is set. Until its first page is full a scan makes one
// request at a time, unless opts say to expect many pages. Without FetchAhead,
// a scan that keeps many pages requested also requests a few pages further
// ahead (probes), to learn where the result ends before its other requests
// get there, so that few requests go past the end; they are joined in order
// like the others, and those answered wait in memory until then (a few
// pages a scan).
func (c *Client) Scan(ctx context.Context, companyID int64, since time.Time, fn func(context.Context, Batch) error, opts ...ScanOption) (ScanResult, error) {
	var o scanOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := &scan{
		c:          c,
		companyID:  companyID,
		since:      since.UTC(),
		fn:         fn,
		handed:     make(map[[16]byte]int64),
		invalid:    make(map[string]struct{}),
		localStart: c.now(),
		many:       o.many,
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
		// The caller knows the company: the error says what went wrong there.
		return s.res, err
	}
	log.Info("scan done", "since", s.since, "customers", s.res.Customers, "invalid", s.res.Invalid,
		"requests", s.res.Requests, "rereads", s.res.Rereads, "duration", time.Since(start))
	return s.res, nil
}

// ScanOption changes how one Scan goes about its work.
type ScanOption func(*scanOptions)

type scanOptions struct {
	many bool
}

// ExpectManyPages says that the result likely spans many pages, as a
// company's initial load does: if the first page takes long (see
// firstPageWait), the scan requests the next ones with its whole share of the
// client's concurrency before it arrives, and takes its whole share at once
// after a full first page, rather than a little more each page. A small
// result then costs the requests made past its end.
func ExpectManyPages() ScanOption { return func(o *scanOptions) { o.many = true } }

// firstPageWait is how long a scan that expects many pages waits for its
// first page before it requests the next ones anyway: the budget it would
// leave unused while Cova takes seconds a page, at most this long at the
// start of an initial load, is too little to matter, and a Cova that answers
// faster costs no request past the end of a small result.
const firstPageWait = 250 * time.Millisecond

// calmPages is how many pages in a row must join after one that did not
// before a scan requests more pages at once again.
const calmPages = 8

// scan is the state of one Scan.
type scan struct {
	c          *Client
	companyID  int64
	since      time.Time
	fn         func(context.Context, Batch) error
	res        ScanResult
	localStart time.Time
	many       bool // ExpectManyPages

	handed        map[[16]byte]int64  // highest Version handed on, by Id
	invalid       map[string]struct{} // raw JSON of record errors handed on
	unknownFields int
	tail          *tail // the last rows handed on of a response that ignores paging

	mu          sync.Mutex // guards what fetching goroutines update
	requests    int
	serverStart time.Time
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

// pending is a page being fetched: the page at index idx of the scan's
// current run of pages (see ends), at skip.
type pending struct {
	idx    int
	skip   int
	cancel context.CancelFunc
	done   chan struct{}
	page   *page
	seen   bool // its answer was taken into the ends
	probe  bool // requested ahead of the queue
}

// run pages through the result. Pages are requested ahead (see Scan) but
// joined strictly in order.
func (s *scan) run(ctx context.Context) error {
	cfg := s.c.cfg
	n := cfg.PageSize
	overlap := cfg.PageOverlap
	maxOverlap := max(overlap, n/2)
	fl := s.c.pacer.open()
	defer fl.close()
	most := cfg.MaxInFlight // pages of this scan requested at once, at most
	if cfg.FetchAhead > 0 {
		most = min(most, cfg.FetchAhead)
	}

	// Workers fetch the pages, rather than a goroutine per page: a page's
	// decoding grows its goroutine's stack, and a worker grows it once. There
	// are never more workers than pages queued at once (at most most, and
	// maxProbes probes), so a one-page scan starts one, and sending never blocks.
	work := make(chan func(), most+maxProbes)
	kick := make(chan struct{}, 1) // a page was answered
	var wg sync.WaitGroup
	workers := 0
	var queue []*pending         // the pages to join next, in order
	probes := map[int]*pending{} // pages requested ahead of the queue, by index
	var discarded []*pending     // cancelled past the end, not waited for yet
	var e ends                   // what the answers say of the result's end
	base := 0                    // the skip of index 0
	headIdx := 0                 // the index of queue[0], or of the next page to join
	nextIdx := 0                 // the index the queue is extended with
	fetch := func(idx, skip int) *pending {
		pctx, cancel := context.WithCancel(ctx)
		p := &pending{idx: idx, skip: skip, cancel: cancel, done: make(chan struct{})}
		if workers < len(queue)+len(probes)+1 {
			workers++
			wg.Add(1)
			go func() {
				defer wg.Done()
				for f := range work {
					f()
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
			select {
			case kick <- struct{}{}:
			default:
			}
		}
		return p
	}
	skipOf := func(idx int) int { return base + idx*(n-overlap) }
	// extend appends the page at nextIdx to the queue: the probe requested
	// there already, if any.
	extend := func() {
		p := probes[nextIdx]
		if p != nil {
			delete(probes, nextIdx)
		} else {
			p = fetch(nextIdx, skipOf(nextIdx))
		}
		queue = append(queue, p)
		nextIdx++
	}
	release := func(ps []*pending) {
		for _, p := range ps {
			<-p.done
			p.page.close()
			s.reusePageMem(p.page.cs, p.page.info)
		}
	}
	// drop cancels every page queued, probed or in flight and waits until it
	// is done.
	drop := func() {
		for _, p := range queue {
			p.cancel()
		}
		for _, p := range probes {
			p.cancel()
		}
		release(queue)
		for _, p := range probes {
			release([]*pending{p})
		}
		release(discarded)
		queue, discarded = queue[:0], discarded[:0]
		clear(probes)
	}
	// restart drops every page and starts again at skip, with the current
	// overlap.
	restart := func(skip int) {
		drop()
		base, headIdx, nextIdx = skip, 0, 0
		e = newEnds()
	}
	e = newEnds()
	defer func() { drop(); close(work); wg.Wait() }()

	// One request until the first page proves there is more; then one more
	// for each full page joined (so twice as many each round trip, as TCP's
	// slow start), up to the scan's share, which the pacer says when it grows.
	// A result of a few pages so costs few requests past its end. A scan that
	// expects many pages takes its whole share at once.
	paged := false
	setPaged := func() {
		if !paged {
			paged = true
			fl.setPaged()
		}
	}
	ramp := 1
	var slowFirst <-chan time.Time
	if s.many {
		ramp = most
		t := time.NewTimer(firstPageWait)
		defer t.Stop()
		slowFirst = t.C
	}
	lastEnd, maxEnd := 0, 0
	fails := 0
	forward := 0
	calm := calmPages // pages joined in a row since the last that did not join
	many := false     // a page of the result came back full
	// learn takes in what an answered page says of the end.
	learn := func(p *pending) {
		if p.seen {
			return
		}
		select {
		case <-p.done:
		default:
			return
		}
		p.seen = true
		if p.page.err == nil {
			if p.probe && !e.known() && len(p.page.cs) >= n {
				e.probedFull()
			}
			e.answered(p.idx, len(p.page.cs) >= n || p.page.rest != nil, len(p.page.cs) >= overlap)
		}
	}
	// probedIn says whether a probe not answered yet lies at an index from
	// lo up to, not including, hi.
	probedIn := func(lo, hi int) bool {
		for i, p := range probes {
			if i >= lo && i < hi && !p.seen {
				return true
			}
		}
		return false
	}
	for {
		// Take in what the pages answered so far say of the end.
		for _, p := range queue {
			learn(p)
		}
		for _, p := range probes {
			learn(p)
		}
		if e.known() {
			// Pages past the end are waste: those still waiting for the budget
			// never reach Cova.
			for len(queue) > 1 && queue[len(queue)-1].idx > e.short {
				p := queue[len(queue)-1]
				p.cancel()
				discarded = append(discarded, p)
				queue = queue[:len(queue)-1]
			}
			nextIdx = headIdx + len(queue)
			for idx, p := range probes {
				if idx > e.short {
					p.cancel()
					discarded = append(discarded, p)
					delete(probes, idx)
				}
			}
		}

		window := 1
		if paged {
			window = min(fl.share(), ramp, most)
		}
		for len(queue) < window && (len(queue) == 0 || e.worth(nextIdx, probedIn)) {
			extend()
		}
		if many && s.res.Rereads == 0 && cfg.FetchAhead == 0 {
			// Probes are not counted in most: a scan that keeps MaxInFlight
			// pages requested would otherwise never probe. A result whose
			// rows moved under the scan makes a page answered long before it
			// is joined likely not to join: such a scan probes no more.
			for _, idx := range e.probes(nextIdx, window, maxProbes-len(probes), func(i int) bool {
				p := probes[i]
				return p != nil && !p.seen
			}, func(i int) bool {
				return probes[i] != nil || (i >= headIdx && i < headIdx+len(queue))
			}) {
				probes[idx] = fetch(idx, skipOf(idx))
				probes[idx].probe = true
			}
		}
		head := queue[0]
		select {
		case <-head.done:
		case <-kick:
			continue // a page ahead was answered: it may tell where the end is
		case <-fl.wake:
			continue // the share may have grown: request more
		case <-slowFirst:
			slowFirst = nil
			setPaged()
			continue
		case <-ctx.Done():
			return ctx.Err()
		}
		p := head.page
		if p.err != nil {
			if errors.Is(p.err, ErrCredentials) || errors.Is(p.err, ctx.Err()) {
				return p.err // about the whole client, not this page
			}
			return fmt.Errorf("page at row %d: %w", p.skip, p.err)
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
			// Pages fetched ahead are served while earlier ones change the result,
			// which multiplies the shift between two joined pages, and a page
			// that does not join costs every page fetched after it: halve the
			// pages requested at once, or read one at a time if the last miss
			// was less than calmPages pages ago. Once calmPages pages in a row
			// have joined, one more for each page joined again.
			if calm < calmPages {
				ramp = 1
			} else {
				ramp = max(1, window/2)
			}
			calm = 0
			s.c.log.Debug("page does not join the previous one, reading again", "company_id", s.companyID, "skip", p.skip, "new_skip", max(0, lastEnd-back))
			restart(max(0, lastEnd-back))
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
		headIdx++
		head.cancel()
		if len(p.cs) < n {
			return nil // a short page ends the scan
		}
		setPaged()
		many = true
		slowFirst = nil
		if calm++; calm > calmPages {
			ramp = min(ramp+1, most)
		}
		lastEnd = p.skip + n
		if lastEnd > maxEnd {
			// Only pages that reach further than any before earn re-reads: a
			// result that keeps pulling the scan back cannot keep it forever.
			maxEnd = lastEnd
			forward++
		}
		if next := lastEnd - overlap; next != skipOf(headIdx) {
			restart(next) // the overlap grew: pages fetched ahead are at the wrong place
		}
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
		if s.tail != nil {
			s.tail.add(c, in)
		}
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
// as it arrives, PageSize elements at a time. A response that breaks off is
// read again under the page's retry budget and resumed after what was handed
// on (see resume).
func (s *scan) streamAll(ctx context.Context, p *page) error {
	n := s.c.cfg.PageSize
	s.tail = newTail(n)
	cs := append(make([]schema.Customer, 0, n), p.cs[n:]...)
	info := append(make([]elemInfo, 0, n), p.info[n:]...)
	if err := s.handOn(ctx, p.cs[:n], p.info[:n], false); err != nil {
		return err
	}
	er := p.rest
	var seen map[tailKey]struct{} // after a resume: the rows of the tail, not to hand on again
	read := 0                     // elements of a response read again, the skipped ones included
	for {
		cs = append(cs, schema.Customer{})
		in, err := er.nextElem(&cs[len(cs)-1])
		if errors.Is(err, io.EOF) {
			if seen != nil && read <= n {
				return fmt.Errorf("response without paging: %w: the response broke off after %d rows, and the one read again holds only %d rows: Cova pages the result again",
					ErrUnstable, s.tail.handed, read)
			}
			return s.handOn(ctx, cs[:len(cs)-1], info, false)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			cs, info = cs[:0], info[:0]
			if er, seen, read, err = s.resume(ctx, p, err); err != nil {
				return fmt.Errorf("response without paging: %w", err)
			}
			continue
		}
		if seen != nil {
			read++
			if _, dup := seen[tailKeyOf(&cs[len(cs)-1], &in)]; dup {
				cs = cs[:len(cs)-1]
				continue
			}
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

// resume requests the unpaged response again after it broke off with cause,
// and reads it up to its anchor: the first of the last rows handed on (the
// tail) that it holds unchanged. Under any stable order an unchanged row keeps
// its place among unchanged rows, so every row before the anchor was handed on
// already or changed since the scan began (the next scan reads those), and the
// rows after it that were handed on are in the tail. It returns the reader
// positioned after the anchor, the rows of the tail (not to hand on again) and
// how many elements it read.
func (s *scan) resume(ctx context.Context, p *page, cause error) (*elemReader, map[tailKey]struct{}, int, error) {
	for {
		p.close()
		if err := s.c.retryLater(ctx, &p.tries, bodyKind(cause), cause, s.companyID); err != nil {
			return nil, nil, 0, err
		}
		resp, err := s.c.get(ctx, s.companyID, p.url, &p.tries, s.onAttempt)
		if err != nil {
			return nil, nil, 0, err
		}
		p.resp = resp
		er := newElemReader(resp.body, resp.size)
		tail := s.tail.keys()
		if s.tail.handed == 0 {
			return er, tail, 0, nil
		}
		for read := 1; ; read++ {
			var c schema.Customer
			in, err := er.nextLazy(&c)
			if errors.Is(err, io.EOF) {
				return nil, nil, 0, fmt.Errorf("%w: the response broke off after %d rows, and none of the last %d rows handed on is in the response read again",
					ErrUnstable, s.tail.handed, s.tail.len())
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, 0, ctx.Err()
				}
				cause = err
				break
			}
			if _, ok := tail[tailKeyOf(&c, &in)]; ok && in.rerr == nil {
				return er, tail, read, nil
			}
		}
	}
}
